import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from importers.core import Converted, Skipped
from importers.stackexchange import import_stackexchange

DUMP = Path(__file__).resolve().parents[3] / "shared" / "data" / "stackexchange-quantumcomputing-2018"

POSTS = """<?xml version="1.0" encoding="utf-8"?>
<posts>
  <row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="7" />
  <row Id="2" PostTypeId="2" ParentId="1" CreationDate="2018-03-12T18:00:00.000" OwnerUserId="8" />
  <row Id="3" PostTypeId="2" ParentId="99" CreationDate="2018-03-12T18:30:00.000" OwnerUserId="8" />
  <row Id="4" PostTypeId="1" CreationDate="2018-03-13T10:00:00.000" />
  <row Id="5" PostTypeId="2" ParentId="4" CreationDate="2018-03-13T11:00:00.000" OwnerUserId="9" />
  <row Id="6" PostTypeId="5" CreationDate="2018-03-13T11:00:00.000" OwnerUserId="9" />
  <row Id="7" PostTypeId="1" CreationDate="not a date" OwnerUserId="9" />
</posts>
"""
COMMENTS = """<?xml version="1.0" encoding="utf-8"?>
<comments>
  <row Id="1" PostId="1" CreationDate="2018-03-12T17:30:00.000" UserId="8" />
  <row Id="2" PostId="2" CreationDate="2018-03-12T19:00:00.000" UserId="7" />
  <row Id="3" PostId="2" CreationDate="2018-03-12T19:05:00.000" />
  <row Id="4" PostId="42" CreationDate="2018-03-12T19:05:00.000" UserId="7" />
</comments>
"""


@pytest.fixture
def dump(tmp_path):
    folder = tmp_path / "tiny.stackexchange.com"
    folder.mkdir()
    (folder / "Posts.xml").write_text(POSTS, encoding="utf-8")
    (folder / "Comments.xml").write_text(COMMENTS, encoding="utf-8")
    return folder


def test_questions_answers_and_comments_map_to_posts_comments_and_replies(dump):
    items = list(import_stackexchange(dump))
    events = {i.record["item_id"]: i.record for i in items if isinstance(i, Converted)}
    assert events["p1"]["kind"] == "POST" and events["p1"]["site"] == "tiny.stackexchange.com"
    answer = events["p2"]
    assert (answer["kind"], answer["thread_id"], answer["parent_id"], answer["parent_actor_id"]) == ("COMMENT", "p1", "p1", "7")
    assert events["c1"]["kind"] == "COMMENT" and events["c1"]["parent_actor_id"] == "7"
    reply = events["c2"]  # a comment on an answer answers the answer's author
    assert (reply["kind"], reply["thread_id"], reply["parent_id"], reply["parent_actor_id"]) == ("REPLY", "p1", "p2", "8")
    assert reply["parent_created_at"] == answer["created_at"]
    origins = {i.record["item_id"]: i.origin for i in items if isinstance(i, Converted)}
    assert (origins["p1"], origins["p2"], origins["c2"]) == ("Posts.xml:row 1", "Posts.xml:row 2", "Comments.xml:row 2")


def test_deleted_users_missing_parents_and_malformed_rows_are_counted_with_their_row(dump):
    skipped = [(s.reason, s.origin) for s in import_stackexchange(dump) if isinstance(s, Skipped)]
    assert sorted(skipped) == sorted([
        ("parent_missing", "Posts.xml:row 3"),        # answer to a question not in the dump
        ("deleted_user", "Posts.xml:row 4"),          # question without owner
        ("parent_author_deleted", "Posts.xml:row 5"),  # answer to that question
        ("post_type_5", "Posts.xml:row 6"),
        ("malformed_row", "Posts.xml:row 7"),
        ("deleted_user", "Comments.xml:row 3"),
        ("parent_missing", "Comments.xml:row 4"),
    ])


def test_a_folder_without_posts_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="Posts.xml"):
        list(import_stackexchange(tmp_path))


@pytest.mark.skipif(not DUMP.exists(), reason="the shared Stack Exchange dump is not beside the checkout")
def test_the_real_dump_imports_every_row_as_an_event_or_a_counted_skip():
    items = list(import_stackexchange(DUMP, site="quantumcomputing"))
    converted = [i for i in items if isinstance(i, Converted)]
    kinds = {k: sum(1 for i in converted if i.record["kind"] == k) for k in ("POST", "COMMENT", "REPLY")}
    assert kinds["POST"] > 500 and kinds["COMMENT"] > 2000 and kinds["REPLY"] > 1500
    rows = sum(len(ElementTree.parse(DUMP / name).getroot()) for name in ("Posts.xml", "Comments.xml"))
    assert len(items) == rows  # every row is an event or a counted skip


USERS = """<?xml version="1.0" encoding="utf-8"?>
<users>
  <row Id="7" Reputation="101" DisplayName="Asker" />
  <row Id="8" Reputation="2645" DisplayName="Helper" />
  <row Id="9" DisplayName="No reputation" />
</users>
"""


def test_actors_out_writes_each_user_s_reputation_with_the_events_ids(dump, tmp_path, capsys):
    import json

    from pipelines.cli import main

    (dump / "Users.xml").write_text(USERS, encoding="utf-8")
    actors, events = tmp_path / "actors.jsonl", tmp_path / "events.jsonl"
    assert main(["import", "stackexchange", str(dump), "--to", f"jsonl:{events}", "--actors-out", str(actors)]) == 0
    assert "wrote 2 actors" in capsys.readouterr().out
    written = [json.loads(line) for line in actors.read_text().splitlines()]
    assert written == [{"site": dump.name, "actor_id": "7", "signal": 101, "name": "Asker"},
                       {"site": dump.name, "actor_id": "8", "signal": 2645, "name": "Helper"}]
    # Pseudonymized: the ids are hashed as the events' are, and names left out.
    key = tmp_path / "key"
    key.write_text("a key of at least sixteen bytes")
    assert main(["import", "stackexchange", str(dump), "--to", f"jsonl:{events}", "--actors-out", str(actors),
                 "--pseudonymize-key-file", str(key), "--force"]) == 0
    hashed = {json.loads(line)["actor_id"] for line in events.read_text().splitlines()}
    written = [json.loads(line) for line in actors.read_text().splitlines()]
    assert {w["actor_id"] for w in written} == hashed and all(w["name"] is None for w in written)


def test_actors_out_needs_users_xml_and_a_stack_exchange_dump(dump, tmp_path, capsys):
    from pipelines.cli import main

    events = tmp_path / "e.jsonl"
    assert main(["import", "stackexchange", str(dump), "--to", f"jsonl:{events}",
                 "--actors-out", str(tmp_path / "a.jsonl")]) == 2
    assert "no Users.xml" in capsys.readouterr().err and not events.exists()  # said before importing
    assert main(["import", "wordpress", str(dump), "--to", f"jsonl:{events}",
                 "--actors-out", str(tmp_path / "a.jsonl")]) == 2
    assert "Stack Exchange" in capsys.readouterr().err


def _row(number, post_type="2", owner="8", extra=""):
    parent = ' ParentId="1"' if post_type == "2" else ""
    return (f'  <row Id="{number}" PostTypeId="{post_type}"{parent} CreationDate="2018-03-12T18:00:00.000" '
            f'OwnerUserId="{owner}"{extra} />\n')


def test_a_row_over_the_limit_is_a_counted_skip_and_the_rows_around_it_import(tmp_path):
    folder = tmp_path / "big.stackexchange.com"
    folder.mkdir()
    body = ' Body="' + "It's a > b &amp; c. " * 10_000 + '"'  # 200 KB, with quotes and > in the value
    (folder / "Posts.xml").write_text(
        "<posts>\n" + _row(1, "1", "7") + _row(2, extra=body) + _row(3, owner="9") + "</posts>\n", encoding="utf-8")
    (folder / "Comments.xml").write_text(
        '<comments>\n  <row Id="1" PostId="1" CreationDate="2018-03-12T17:30:00.000" UserId="8"'
        + " Text='" + "x" * 50_000 + "'>\n  </row>\n"  # an element with content: its end tag still matches
        + '  <row Id="2" PostId="3" CreationDate="2018-03-12T19:00:00.000" UserId="7" />\n</comments>\n',
        encoding="utf-8")
    items = list(import_stackexchange(folder, max_row_bytes=10_000))
    assert sorted(i.record["item_id"] for i in items if isinstance(i, Converted)) == ["c2", "p1", "p3"]
    skipped = [(s.reason, s.origin.split(" (")[0]) for s in items if isinstance(s, Skipped)]
    assert skipped == [("row_too_large", "Posts.xml:row 2"), ("row_too_large", "Comments.xml:row 1")]
    assert "200,1" in next(s.origin for s in items if isinstance(s, Skipped))  # its size, for the curious


MEASURE_PEAK = """
import resource, sys
from importers.stackexchange import import_stackexchange
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
items = list(import_stackexchange(sys.argv[1]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(items), [i.reason for i in items if hasattr(i, "reason")], (after - before) // 1024)
"""


def _import_in_a_fresh_process(folder: Path) -> tuple[str, str, int]:
    """(items imported, skip reasons, MB the peak RSS grew) of importing ``folder`` in a new process."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", MEASURE_PEAK, str(folder)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], check=True)
    return done.stdout.split(" ", 1)[0], done.stdout.split("[")[1].split("]")[0], int(done.stdout.split()[-1])


def test_a_64_mb_row_is_read_in_bounded_memory(tmp_path):
    folder = tmp_path / "huge.stackexchange.com"
    folder.mkdir()
    with open(folder / "Posts.xml", "w", encoding="utf-8") as posts:
        posts.write("<posts>\n" + _row(1, "1", "7") + '  <row Id="2" PostTypeId="2" ParentId="1" '
                    'CreationDate="2018-03-12T18:00:00.000" OwnerUserId="8" Body="')
        for _ in range(64):
            posts.write("a" * (1 << 20))
        posts.write('" />\n' + _row(3) + "</posts>\n")
    count, reasons, grown_mb = _import_in_a_fresh_process(folder)
    assert (count, reasons) == ("3", "'row_too_large'")
    assert grown_mb < 32, f"peak memory grew {grown_mb} MB reading a 64 MB row"  # read whole: over 190 MB


def stackexchange_dump(folder: Path, posts: str, comments: str) -> Path:
    """A Stack Exchange dump folder of these Posts.xml and Comments.xml rows."""
    folder.mkdir()
    for name, root, rows in (("Posts.xml", "posts", posts), ("Comments.xml", "comments", comments)):
        (folder / name).write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<{root}>\n{rows}</{root}>\n',
                                   encoding="utf-8")
    return folder


def test_a_later_row_reusing_a_post_or_comment_id_is_a_duplicate_id_skip_that_reassigns_no_reply(tmp_path):
    folder = stackexchange_dump(tmp_path / "dup.stackexchange.com", """\
  <row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="7" />
  <row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:10:00.000" OwnerUserId="999" />
""", """\
  <row Id="1" PostId="1" CreationDate="2018-03-12T17:30:00.000" UserId="8" />
  <row Id="1" PostId="1" CreationDate="2018-03-12T17:40:00.000" UserId="666" />
""")
    items = list(import_stackexchange(folder))
    events = [i.record for i in items if isinstance(i, Converted)]
    assert [(e["item_id"], e["actor_id"], e["parent_actor_id"]) for e in events] == [("p1", "7", None), ("c1", "8", "7")]
    assert sorted((s.reason, s.origin) for s in items if isinstance(s, Skipped)) == [
        ("duplicate_id", "Comments.xml:row 2"), ("duplicate_id", "Posts.xml:row 2")]


def test_a_blank_user_id_is_a_deleted_user_and_a_non_integer_one_a_malformed_row(tmp_path):
    folder = stackexchange_dump(tmp_path / "ids.stackexchange.com", """\
  <row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="  " />
  <row Id="2" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="26.5" />
  <row Id="3" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="-1" />
  <row Id="4" PostTypeId="2" ParentId="1" CreationDate="2018-03-12T18:00:00.000" OwnerUserId="8" />
""", """\
  <row Id="1" PostId="3" CreationDate="2018-03-12T17:30:00.000" UserId=" " />
  <row Id="2" PostId="3" CreationDate="2018-03-12T17:30:00.000" UserId="x7" />
  <row Id="3" PostId="3" CreationDate="2018-03-12T17:30:00.000" UserId="8" />
""")
    items = list(import_stackexchange(folder))
    events = [(i.record["item_id"], i.record["actor_id"], i.record["parent_actor_id"]) for i in items if isinstance(i, Converted)]
    assert events == [("p3", "-1", None), ("c3", "8", "-1")]
    assert sorted((s.reason, s.origin) for s in items if isinstance(s, Skipped)) == [
        ("deleted_user", "Comments.xml:row 1"), ("deleted_user", "Posts.xml:row 1"),
        ("malformed_row", "Comments.xml:row 2"), ("malformed_row", "Posts.xml:row 2"),
        ("parent_author_deleted", "Posts.xml:row 4")]


def test_a_creation_date_with_an_offset_keeps_its_instant(tmp_path):
    """Dumps write UTC without an offset; a date with one (`+05:00`) had the offset replaced by UTC, five
    hours off. A date without an offset is UTC, as the dumps mean."""
    folder = stackexchange_dump(tmp_path / "tz.stackexchange.com", """\
  <row Id="1" PostTypeId="1" CreationDate="2018-03-12T06:00:00.000+05:00" OwnerUserId="7" />
  <row Id="2" PostTypeId="1" CreationDate="2018-03-12T01:00:00.000" OwnerUserId="7" />
""", "")
    events = [i.record for i in import_stackexchange(folder) if isinstance(i, Converted)]
    assert [e["created_at"] for e in events] == [1520816400000, 1520816400000]  # both 2018-03-12 01:00 UTC


def test_a_comment_doctype_instruction_or_end_tag_over_the_limit_is_a_counted_skip_with_its_line(tmp_path):
    """issue 12: each of these stopped the whole import with one error line ("not a dump of records")."""
    folder = tmp_path / "odd.stackexchange.com"
    folder.mkdir()
    comment = "<!-- " + "a long comment\n" * 2000 + "-->\n"  # 30 KB over 2,000 lines
    (folder / "Posts.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE posts [' + "<!-- padding -->" * 1000 + "]>\n<posts>\n"
        + _row(1, "1", "7") + "  " + comment + _row(2) + '  <?keep ' + "x" * 20_000 + "?>\n"
        + '  <row Id="3" PostTypeId="2" ParentId="1" CreationDate="2018-03-12T18:00:00.000" OwnerUserId="9"></row'
        + " " * 20_000 + ">\n</posts>\n", encoding="utf-8")
    (folder / "Comments.xml").write_text(
        '<comments>\n  <row Id="1" PostId="1" CreationDate="2018-03-12T17:30:00.000" UserId="8" />\n'
        + "  " + comment + '  <row Id="2" PostId="2" CreationDate="2018-03-12T19:00:00.000" UserId="7" />\n'
        + "</comments>\n", encoding="utf-8")
    items = list(import_stackexchange(folder, max_row_bytes=10_000))
    assert sorted(i.record["item_id"] for i in items if isinstance(i, Converted)) == ["c1", "c2", "p1", "p2", "p3"]
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped)] == [
        ("markup_too_large", "Posts.xml:line 2 (a doctype of 16,019 bytes)"),
        ("markup_too_large", "Posts.xml:line 5 (a comment of 30,008 bytes)"),
        ("markup_too_large", "Posts.xml:line 2,007 (a processing instruction of 20,009 bytes)"),
        ("markup_too_large", "Posts.xml:line 2,008 (an end tag of 20,006 bytes)"),
        ("markup_too_large", "Comments.xml:line 3 (a comment of 30,008 bytes)"),
    ]


def test_an_unterminated_comment_over_the_limit_is_one_error_naming_file_and_line_and_what_was_read(tmp_path, capsys):
    from pipelines.cli import main

    folder = tmp_path / "cut.stackexchange.com"
    folder.mkdir()
    (folder / "Posts.xml").write_text("<posts>\n" + _row(1, "1", "7") + _row(2) + "<!-- " + "x" * 20_000,
                                      encoding="utf-8")
    out = tmp_path / "events.jsonl"
    assert main(["import", "stackexchange", str(folder), "--to", f"jsonl:{out}", "--max-line-bytes", "10000"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "Posts.xml: line 4: a comment of over 10,000 bytes that never ends" in err
    assert "2 records read before it (2 converted, 0 skipped); nothing was written" in err and not out.exists()


def test_users_xml_with_over_limit_markup_or_a_bad_user_id_still_names_the_other_users(tmp_path, capsys):
    import json

    from pipelines.cli import main

    folder = stackexchange_dump(tmp_path / "users.stackexchange.com", _row(1, "1", "7"), "")
    (folder / "Users.xml").write_text(
        "<users>\n" + '  <row Id="7" Reputation="101" DisplayName="Asker" />\n' + "  <!-- " + "x" * 20_000 + " -->\n"
        + '  <row Id="8\u202e" Reputation="5" DisplayName="Odd" />\n'
        + '  <row Id="9" Reputation="2645" DisplayName="Hel\u202eper\u200b" />\n</users>\n', encoding="utf-8")
    actors, events = tmp_path / "actors.jsonl", tmp_path / "events.jsonl"
    assert main(["import", "stackexchange", str(folder), "--to", f"jsonl:{events}", "--actors-out", str(actors),
                 "--max-line-bytes", "10000"]) == 0
    printed = capsys.readouterr().out
    assert [json.loads(line)["actor_id"] for line in actors.read_text().splitlines()] == ["7", "9"]
    assert json.loads(actors.read_text().splitlines()[1])["name"] == "Helper"  # a bidi override, a zero-width space
    assert "wrote 2 actors (2 skipped: malformed_row 1 e.g. Users.xml:row 2, " in printed
    assert "markup_too_large 1 e.g. Users.xml:line 3 (a comment of 20,009 bytes))" in printed


def test_a_user_id_over_the_id_limit_is_a_counted_skip_not_an_invalid_event_after_the_fact(tmp_path):
    folder = stackexchange_dump(tmp_path / "long.stackexchange.com", _row(1, "1", "7") + _row(2, owner="9" * 600),
                                '  <row Id="1" PostId="1" CreationDate="2018-03-12T17:30:00.000" UserId="'
                                + "8" * 600 + '" />\n')
    items = list(import_stackexchange(folder))
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped)] == [
        ("actor_id_too_long", "Posts.xml:row 2"), ("actor_id_too_long", "Comments.xml:row 1")]


def test_a_50_mb_comment_between_rows_is_read_in_bounded_memory(tmp_path):
    folder = tmp_path / "comment.stackexchange.com"
    folder.mkdir()
    with open(folder / "Posts.xml", "w", encoding="utf-8") as posts:
        posts.write("<posts>\n" + _row(1, "1", "7") + "<!--")
        for _ in range(50):
            posts.write("c\n" * (1 << 19))
        posts.write("-->\n" + _row(2) + "</posts>\n")
    count, reasons, grown_mb = _import_in_a_fresh_process(folder)
    assert (count, reasons) == ("3", "'markup_too_large'")  # once: one error line, nothing imported
    assert grown_mb < 32, f"peak memory grew {grown_mb} MB reading a 50 MB comment"
