"""Pseudonymization is all or nothing: a usable key from the environment or a file, and no raw
identifier of the input (actors, Message-IDs, public post and comment ids) in what an import writes."""
import json
import re

import pytest

from importers.pseudonymize import MIN_KEY_BYTES, Pseudonymizer, load_key
from pipelines.cli import main

KEY = "a-test-key-of-24-bytes!"

MBOX = b"""From alice at example.org  Mon Jan  5 10:00:00 2015
From: alice at example.org (Alice Liddell)
Date: Mon, 05 Jan 2015 10:00:00 +0000
Message-ID: <a1.host-one@mail.example.org>

Body
From bob at example.org  Mon Jan  5 11:00:00 2015
From: Bob <Bob@Example.org>
Date: Mon, 05 Jan 2015 11:00:00 +0000
Message-ID: <b1.host-two@mail.example.org>
In-Reply-To: <a1.host-one@mail.example.org>

Reply
From alice at example.org  Mon Jan  5 12:00:00 2015
From: alice at example.org (Alice Liddell)
Date: Mon, 05 Jan 2015 12:30:00 +0000
Message-ID: <a2.host-one@mail.example.org>
References: <a1.host-one@mail.example.org> <b1.host-two@mail.example.org>

Thanks!
"""
POSTS = """<posts>
  <row Id="900001" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="700001" />
  <row Id="900002" PostTypeId="2" ParentId="900001" CreationDate="2018-03-12T18:00:00.000" OwnerUserId="700002" />
</posts>"""
COMMENTS = """<comments>
  <row Id="800001" PostId="900002" CreationDate="2018-03-12T19:00:00.000" UserId="700001" />
</comments>"""
REDDIT = [
    {"id": "zzsubmit", "name": "t3_zzsubmit", "author": "op_alpha", "created_utc": 1420452000, "subreddit": "learnpython"},
    {"id": "zzcomment", "parent_id": "t3_zzsubmit", "link_id": "t3_zzsubmit", "author": "helper_beta",
     "created_utc": 1420455600, "subreddit": "learnpython"},
    {"id": "zzreply", "parent_id": "t1_zzcomment", "link_id": "t3_zzsubmit", "author": "op_alpha",
     "created_utc": 1420459200, "subreddit": "learnpython"},
]


@pytest.fixture
def archives(tmp_path):
    """One small archive per format whose raw ids are distinctive enough to grep for."""
    (tmp_path / "list").mkdir()
    (tmp_path / "list" / "2015-January.txt").write_bytes(MBOX)
    (tmp_path / "se").mkdir()
    (tmp_path / "se" / "Posts.xml").write_text(POSTS)
    (tmp_path / "se" / "Comments.xml").write_text(COMMENTS)
    (tmp_path / "dump.ndjson").write_text("".join(json.dumps(r) + "\n" for r in REDDIT))
    return {"mbox": tmp_path / "list", "stackexchange": tmp_path / "se", "reddit": tmp_path / "dump.ndjson"}


def _import(fmt, path, out, *key_args):
    return main(["import", fmt, str(path), "--to", f"jsonl:{out}", *key_args])


def _raw_identifiers(records):
    """Every id of the raw import that names a person or a public item, and their bare forms."""
    found = set()
    for record in records:
        for field in ("actor_id", "parent_actor_id", "item_id", "thread_id", "parent_id"):
            if record[field]:
                found.add(record[field])
        found.add(record["event_id"].split(":", 1)[1])
    bare = {re.sub(r"^[pc]|[<>]", "", value) for value in found}  # p900001 -> 900001, <id@host> -> id@host
    return found | bare


@pytest.mark.parametrize("fmt", ["mbox", "stackexchange", "reddit"])
def test_no_raw_identifier_of_the_input_survives_pseudonymization(fmt, archives, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SM_TEST_KEY", KEY)
    assert _import(fmt, archives[fmt], tmp_path / "raw.jsonl") == 0
    assert _import(fmt, archives[fmt], tmp_path / "hidden.jsonl", "--pseudonymize-key-env", "SM_TEST_KEY") == 0
    raw = [json.loads(line) for line in (tmp_path / "raw.jsonl").read_text().splitlines()]
    hidden_text = (tmp_path / "hidden.jsonl").read_text()
    hidden = [json.loads(line) for line in hidden_text.splitlines()]
    assert len(hidden) == len(raw) == 3
    leaked = sorted(value for value in _raw_identifiers(raw) if value.lower() in hidden_text.lower())
    assert leaked == []
    assert "example.org" not in hidden_text and "host-one" not in hidden_text
    # threads still resolve: the hashed parent of each response is the hashed item it answers
    items = {r["item_id"]: r for r in hidden}
    for record in hidden:
        if record["parent_id"]:
            parent = items[record["parent_id"]]
            assert record["parent_actor_id"] == parent["actor_id"] and record["thread_id"] in items
    assert len({r["thread_id"] for r in hidden}) == len({r["thread_id"] for r in raw})


def test_the_same_key_gives_the_same_output_from_an_environment_variable_or_a_file(archives, tmp_path, monkeypatch):
    monkeypatch.setenv("SM_TEST_KEY", KEY)
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")  # the newline an editor adds is not part of the key
    assert _import("mbox", archives["mbox"], tmp_path / "a.jsonl", "--pseudonymize-key-env", "SM_TEST_KEY") == 0
    assert _import("mbox", archives["mbox"], tmp_path / "b.jsonl", "--pseudonymize-key-file", str(key_file)) == 0
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


@pytest.mark.parametrize("key_args, message", [
    (["--pseudonymize-key-env", "SM_UNSET_KEY"], "SM_UNSET_KEY is not set"),
    (["--pseudonymize-key-env", "SM_EMPTY_KEY"], "SM_EMPTY_KEY is empty"),
    (["--pseudonymize-key-env", "SM_SHORT_KEY"], f"at least {MIN_KEY_BYTES} bytes"),
    (["--pseudonymize-key-env", "SM_BLANK_KEY"], "one byte repeated"),  # 16 spaces passed as a key
    (["--pseudonymize-key-file", "/nonexistent/key"], "/nonexistent/key"),
    (["--pseudonymize", ""], "--pseudonymize-key-env"),        # `--pseudonymize $KEY` with KEY unset
    (["--pseudonymize", KEY], "--pseudonymize-key-env"),       # a key on the command line shows in ps
])
def test_a_missing_empty_or_short_key_is_an_error_and_nothing_is_written(key_args, message, archives, tmp_path,
                                                                       monkeypatch, capsys):
    monkeypatch.delenv("SM_UNSET_KEY", raising=False)
    monkeypatch.setenv("SM_EMPTY_KEY", "")
    monkeypatch.setenv("SM_SHORT_KEY", "short")
    monkeypatch.setenv("SM_BLANK_KEY", " " * MIN_KEY_BYTES)
    assert _import("mbox", archives["mbox"], tmp_path / "out.jsonl", *key_args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out.jsonl").exists()


def test_the_pseudonymizer_refuses_short_keys_and_separates_actors_from_items():
    with pytest.raises(ValueError, match="at least"):
        Pseudonymizer(b"")
    with pytest.raises(ValueError, match="at least"):
        Pseudonymizer(b"x" * (MIN_KEY_BYTES - 1))
    hashing = Pseudonymizer(KEY.encode())
    assert hashing.actor("7").startswith("u:") and hashing.item("7").startswith("i:")
    assert hashing.actor("7")[2:] != hashing.item("7")[2:]
    assert Pseudonymizer(None).apply({"actor_id": "a"}) == {"actor_id": "a"}


def test_load_key_reads_bytes_from_a_file(tmp_path):
    (tmp_path / "key").write_bytes(b"\x00\xff" * 16)
    assert load_key(file=str(tmp_path / "key")) == b"\x00\xff" * 16
    assert load_key() is None


@pytest.mark.parametrize("source", ["/dev/urandom", "a FIFO", "a file over 64 KiB"])
def test_a_key_file_that_is_not_a_kept_secret_is_refused(tmp_path, source):
    """`--pseudonymize-key-file /dev/urandom` was accepted: a random key read once and kept nowhere,
    so no later import could ever be joined to this one. A FIFO would block; a file over 64 KiB was
    cut at 64 KiB without a word. The key must be a regular file, and whole."""
    import os

    path = source
    if source == "a FIFO":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)
    elif source.startswith("a file"):
        path = str(tmp_path / "big.key")
        (tmp_path / "big.key").write_bytes(os.urandom(64 * 1024 + 1))
    with pytest.raises(ValueError, match="pseudonymization key file .*(not a regular file|over 64 KiB)"):
        load_key(file=path)
