"""`import stackexchange --actors-out FILE` is as safe as `--to`: no existing file replaced without
--force, no symlink followed, never an input, never the --to file, and a failed import leaves
neither file. Mail and Disqus imports write names too, and never beside a pseudonymized id."""
import json
import os

import pytest

from pipelines.cli import main

POSTS = '<posts><row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="7" /></posts>'
USERS = '<users><row Id="7" Reputation="101" DisplayName="Asker" /></users>'


@pytest.fixture
def base(tmp_path):
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "Posts.xml").write_text(POSTS)
    (folder / "Users.xml").write_text(USERS)
    return folder


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_an_existing_actors_file_is_replaced_only_with_force(base, tmp_path, capsys):
    actors, events = tmp_path / "act.jsonl", tmp_path / "z1.jsonl"
    actors.write_text("precious\n")
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{events}", "--actors-out", str(actors)]) == 2
    assert "exists; pass --force" in one_error_line(capsys)
    assert actors.read_text() == "precious\n" and not events.exists()
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{events}", "--actors-out", str(actors),
                 "--force"]) == 0
    assert '"Asker"' in actors.read_text()


def test_a_symlink_at_actors_out_is_never_followed(base, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch\n")
    link = tmp_path / "act.jsonl"
    link.symlink_to(victim)
    events = tmp_path / "z1.jsonl"
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{events}", "--actors-out", str(link)]) == 2
    assert "symbolic link" in one_error_line(capsys) and not events.exists()
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{events}", "--actors-out", str(link),
                 "--force"]) == 0
    assert victim.read_text() == "do not touch\n"
    assert not link.is_symlink() and '"Asker"' in link.read_text()


def test_actors_out_onto_the_input_users_xml_is_refused_and_the_input_survives(base, tmp_path, capsys):
    for force in ([], ["--force"]):
        assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{tmp_path / 'z1.jsonl'}",
                     "--actors-out", str(base / "Users.xml"), *force]) == 2
        assert "input" in one_error_line(capsys)
    assert (base / "Users.xml").read_text() == USERS
    assert not (tmp_path / "z1.jsonl").exists()


def test_a_folder_at_actors_out_fails_and_leaves_no_events_file(base, tmp_path, capsys):
    (tmp_path / "odir").mkdir()
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{tmp_path / 'z1.jsonl'}",
                 "--actors-out", str(tmp_path / "odir")]) == 2
    assert "folder" in one_error_line(capsys)
    assert sorted(os.listdir(tmp_path)) == ["base", "odir"] and os.listdir(tmp_path / "odir") == []


def test_a_failed_import_leaves_no_actors_file(base, tmp_path, capsys):
    (base / "Posts.xml").write_text("<posts><row Id=")  # malformed: the import stops
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{tmp_path / 'z1.jsonl'}",
                 "--actors-out", str(tmp_path / "act.jsonl")]) == 2
    assert sorted(os.listdir(tmp_path)) == ["base"]


def test_the_events_and_the_actors_must_go_to_different_files(base, tmp_path, capsys):
    same = tmp_path / "same.jsonl"
    for force in ([], ["--force"]):
        assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{same}", "--actors-out", str(same),
                     *force]) == 2
        assert "another output" in one_error_line(capsys)
    assert not same.exists()
    # also through another spelling of the same path
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{same}",
                 "--actors-out", str(tmp_path / "base" / ".." / "same.jsonl")]) == 2
    assert not same.exists()


MAIL = b"""From alice at example.org  Mon Jan  5 10:00:00 2015
From: alice at example.org (Alice Liddell)
Date: Mon, 05 Jan 2015 10:00:00 +0000
Message-ID: <a1@example.org>

How do I start?
From bob at example.org  Mon Jan  5 11:00:00 2015
From: "Bob Mueller" <Bob@Example.org>
Date: Mon, 05 Jan 2015 11:00:00 +0000
Message-ID: <b1@example.org>
In-Reply-To: <a1@example.org>

From the docs.
"""

DISQUS = """<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
  <thread dsq:id="100"><forum>myblog</forum><createdAt>2016-05-01T10:00:00Z</createdAt>
    <author><name>Alice Liddell</name><username>alice</username></author></thread>
  <post dsq:id="1"><createdAt>2016-05-01T11:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam>
    <author><name>Bob Mueller</name><email>Bob@Example.org</email></author><thread dsq:id="100"/></post>
</disqus>
"""


@pytest.fixture(params=["mbox", "disqus"])
def named_archive(request, tmp_path):
    """(format, input path) of an archive naming Alice Liddell and Bob Mueller."""
    if request.param == "mbox":
        folder = tmp_path / "python-list"
        folder.mkdir()
        (folder / "2015-January.txt").write_bytes(MAIL)
        return "mbox", folder
    export = tmp_path / "export.xml"
    export.write_text(DISQUS, encoding="utf-8")
    return "disqus", export


def _actors_and_event_ids(actors, events):
    written = [json.loads(line) for line in actors.read_text().splitlines()]
    ids = set()
    for line in events.read_text().splitlines():
        event = json.loads(line)
        ids |= {event["actor_id"], event["parent_actor_id"]} - {None}
    return written, ids


def test_mail_and_disqus_imports_write_the_names_of_the_events_actors(named_archive, tmp_path, capsys):
    fmt, archive = named_archive
    actors, events = tmp_path / "actors.jsonl", tmp_path / "events.jsonl"
    assert main(["import", fmt, str(archive), "--to", f"jsonl:{events}", "--actors-out", str(actors)]) == 0
    assert "wrote 2 actors" in capsys.readouterr().out
    written, ids = _actors_and_event_ids(actors, events)
    assert {w["actor_id"] for w in written} == ids
    assert sorted(w["name"] for w in written) == ["Alice Liddell", "Bob Mueller"]
    # and `query --actors` reads the file: the names come back by id
    from analysis.actors import read_actor_names

    names = read_actor_names(actors)
    assert names.name(written[0]["site"], "bob@example.org") == "Bob Mueller"


def test_pseudonymized_mail_and_disqus_actors_have_the_events_hashed_ids_and_no_name(named_archive, tmp_path, capsys):
    fmt, archive = named_archive
    key = tmp_path / "key"
    key.write_text("a key of at least sixteen bytes")
    actors, events = tmp_path / "actors.jsonl", tmp_path / "events.jsonl"
    assert main(["import", fmt, str(archive), "--to", f"jsonl:{events}", "--actors-out", str(actors),
                 "--pseudonymize-key-file", str(key)]) == 0
    written, ids = _actors_and_event_ids(actors, events)
    assert {w["actor_id"] for w in written} == ids and all(i.startswith("u:") for i in ids)
    assert all(w["name"] is None for w in written)
    text = actors.read_text().lower()
    assert not any(leak in text for leak in ("alice", "liddell", "bob", "mueller", "example.org"))


def test_actors_out_from_an_archive_without_names_is_a_clear_error(tmp_path, capsys):
    dump = tmp_path / "dump.ndjson"
    dump.write_text('{"id": "abc", "author": "someone", "created_utc": 1420452000, "title": "t"}\n')
    events = tmp_path / "e.jsonl"
    assert main(["import", "reddit", str(dump), "--to", f"jsonl:{events}", "--actors-out", str(tmp_path / "a.jsonl")]) == 2
    error = one_error_line(capsys)
    assert "--actors-out" in error and "reddit" in error and not events.exists()


@pytest.mark.parametrize("output", ["--to", "--actors-out", "--to, the key read through a symlink"])
def test_no_output_of_an_import_is_ever_written_over_its_pseudonymization_key(base, tmp_path, capsys, output):
    """With --force, `--to jsonl:pk.key --pseudonymize-key-file pk.key` replaced the key with the events
    (exit 0): the secret gone, later imports never joinable to this one. The key is an input."""
    key = tmp_path / "pk.key"
    key.write_text("q" * 20 + "0123456789abcdef\n")
    secret = key.read_bytes()
    target, key_arg = key, key
    if output.endswith("symlink"):
        key_arg = tmp_path / "keylink"
        key_arg.symlink_to(key)
    args = ["import", "stackexchange", str(base), "--force", "--pseudonymize-key-file", str(key_arg)]
    if output == "--actors-out":
        args += ["--to", f"jsonl:{tmp_path / 'events.jsonl'}", "--actors-out", str(target)]
    else:
        args += ["--to", f"jsonl:{target}"]
    assert main(args) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert key.read_bytes() == secret
