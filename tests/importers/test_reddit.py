import json

from importers.core import Converted, Skipped
from importers.reddit import import_reddit

RECORDS = [
    {"id": "s1", "name": "t3_s1", "author": "op", "created_utc": 1420452000, "subreddit": "learnpython", "title": "?"},
    {"id": "k1", "parent_id": "t3_s1", "link_id": "t3_s1", "author": "helper", "created_utc": 1420455600, "subreddit": "learnpython"},
    {"id": "k2", "parent_id": "t1_k1", "link_id": "t3_s1", "author": "op", "created_utc": "1420459200", "subreddit": "learnpython"},
    {"id": "k3", "parent_id": "t1_gone", "link_id": "t3_s1", "author": "x", "created_utc": 1420459200, "subreddit": "learnpython"},
    {"id": "k4", "parent_id": "t3_s1", "link_id": "t3_s1", "author": "[deleted]", "created_utc": 1420459200, "subreddit": "learnpython"},
    {"id": "k5", "parent_id": "t1_k4", "link_id": "t3_s1", "author": "y", "created_utc": 1420459300, "subreddit": "learnpython"},
    {"id": "k6", "parent_id": "t3_s1", "link_id": "t3_s1", "author": "z", "created_utc": "soon", "subreddit": "learnpython"},
]


def test_submissions_comments_and_replies_from_ndjson(tmp_path):
    path = tmp_path / "dump.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n{broken\n", encoding="utf-8")
    items = list(import_reddit([path]))
    events = {i.record["item_id"]: i.record for i in items if isinstance(i, Converted)}
    assert events["s1"]["kind"] == "POST" and events["s1"]["site"] == "learnpython"
    assert (events["k1"]["kind"], events["k1"]["parent_actor_id"], events["k1"]["thread_id"]) == ("COMMENT", "op", "s1")
    assert (events["k2"]["kind"], events["k2"]["parent_actor_id"], events["k2"]["parent_id"]) == ("REPLY", "helper", "k1")
    assert [i.origin for i in items if isinstance(i, Converted)] == ["dump.ndjson:1", "dump.ndjson:2", "dump.ndjson:3"]
    skipped = sorted((s.reason, s.origin) for s in items if isinstance(s, Skipped))
    assert skipped == [("bad_date", "dump.ndjson:7"), ("deleted_author", "dump.ndjson:5"), ("malformed_row", "dump.ndjson:8"),
                       ("parent_author_deleted", "dump.ndjson:6"), ("parent_missing", "dump.ndjson:4")]


def test_csv_exports_read_the_same(tmp_path):
    import csv

    path = tmp_path / "dump.csv"
    fields = ["id", "name", "parent_id", "link_id", "author", "created_utc", "subreddit"]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fields, extrasaction="ignore")
        writer.writeheader()
        for record in RECORDS[:3]:
            writer.writerow(record)
    events = [i.record for i in import_reddit([path]) if isinstance(i, Converted)]
    assert [e["kind"] for e in events] == ["POST", "COMMENT", "REPLY"]


def _write(path, lines):
    with path.open("wb") as out:
        for line in lines:
            out.write(line if isinstance(line, bytes) else json.dumps(line).encode())
            out.write(b"\n")
    return path


def test_an_over_long_line_is_a_counted_skip_read_in_constant_memory(tmp_path):
    import tracemalloc

    huge = {"id": "big", "author": "a", "created_utc": 1420452000, "body": "x" * 30_000_000}
    path = _write(tmp_path / "dump.ndjson", [RECORDS[0], huge, RECORDS[1]])
    tracemalloc.start()
    items = list(import_reddit([path]))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped)] == [("line_too_long", "dump.ndjson:2")]
    assert sum(isinstance(i, Converted) for i in items) == 2
    assert peak < 16_000_000  # not the 30 MB line, nor its decoded copies


def test_hostile_json_values_are_malformed_rows_not_crashes(tmp_path):
    path = _write(tmp_path / "dump.ndjson", [
        b"[" * 200_000,                                                   # nesting that overflows the stack
        b'{"id": 1' + b"0" * 5000 + b'}',                                # an int past Python's digit limit
        {"id": "x1", "name": 5, "author": "a", "created_utc": 1420452000},  # a name that is not text
        {"id": "x2", "author": ["a"], "created_utc": 1420452000},          # an author that is not text
        {"id": "x3", "parent_id": 7, "author": "b", "created_utc": 1420452000},
        {"id": {"a": 1}, "author": "b", "created_utc": 1e300},
        b"\xff\xfe not utf-8",
    ])
    items = list(import_reddit([path]))
    assert len(items) == 7
    assert all(isinstance(i, Skipped) or isinstance(i.record["item_id"], str) for i in items)


def test_csv_lines_and_fields_are_bounded(tmp_path):
    path = tmp_path / "dump.csv"
    path.write_text("id,author,created_utc,subreddit,body\n"
                    "s1,op,1420452000,rust,short\n"
                    f's2,op,1420452000,rust,"{"y" * 400_000}"\n'
                    f"s3,op,1420452000,rust,{'z' * 3000}\n"
                    "s4,op,1420452000,rust,short\n", encoding="utf-8")
    items = list(import_reddit([path], max_line_bytes=2000))
    skipped = sorted((s.reason, s.origin) for s in items if isinstance(s, Skipped))
    assert skipped == [("line_too_long", "dump.csv:3"), ("line_too_long", "dump.csv:4")]
    assert [i.record["item_id"] for i in items if isinstance(i, Converted)] == ["s1", "s4"]


def test_a_later_line_reusing_an_id_is_a_duplicate_id_skip_and_never_takes_over_the_replies_to_it(tmp_path):
    path = _write(tmp_path / "dump.ndjson", [
        {"id": "s1", "name": "t3_s1", "author": "bob", "created_utc": 1420452000, "subreddit": "rust"},
        {"id": "c1", "parent_id": "t3_s1", "link_id": "t3_s1", "author": "bob", "created_utc": 1420452100, "subreddit": "rust"},
        {"id": "c2", "parent_id": "t1_c1", "link_id": "t3_s1", "author": "alice", "created_utc": 1420452200, "subreddit": "rust"},
        {"id": "c1", "parent_id": "t3_s1", "link_id": "t3_s1", "author": "mallory", "created_utc": 1420452300, "subreddit": "rust"},
        {"id": "c1", "name": "t1_c1", "parent_id": "t3_s1", "link_id": "t3_s1", "author": "[deleted]", "created_utc": 1420452400, "subreddit": "rust"},
    ])
    items = list(import_reddit([path]))
    events = {i.record["item_id"]: i.record for i in items if isinstance(i, Converted)}
    assert (events["c1"]["actor_id"], events["c2"]["parent_actor_id"]) == ("bob", "bob")
    assert len([i for i in items if isinstance(i, Converted)]) == 3
    assert sorted((s.reason, s.origin) for s in items if isinstance(s, Skipped)) == [
        ("duplicate_id", "dump.ndjson:4"), ("duplicate_id", "dump.ndjson:5")]


def test_subreddit_names_are_reddits_own_and_never_link_a_comment_across_subreddits(tmp_path):
    # Look-alike names (Unicode confusables, NFKC variants) were sites of their own whose comments
    # still answered the submission of the real subreddit, and case variants of one subreddit (which
    # Reddit treats as one) were two sites.
    def comment(item, subreddit, parent="t3_s1"):
        return {"id": item, "parent_id": parent, "link_id": "t3_s1", "author": f"u{item}", "created_utc": 1420455600,
                "subreddit": subreddit}

    path = _write(tmp_path / "dump.ndjson", [
        {"id": "s1", "author": "op", "created_utc": 1420452000, "subreddit": "learnpython"},
        comment("k1", "LearnPython"),            # the same subreddit: Reddit's names are case-insensitive
        comment("k2", "\uff4cearnpython"),       # a fullwidth l: NFKC makes it "learnpython"
        comment("k3", "l\u0435arnpython"),       # a Cyrillic e
        comment("k4", "learnpython\u200b"),      # a zero-width space
        comment("k5", "learn python"),
        comment("k6", "otherpython"),            # a real name, but the submission is in learnpython
        comment("k7", "LEARNPYTHON", "t1_k6"),   # answers a comment of another subreddit
        {"id": "s2", "author": "op", "created_utc": 1420452000, "subreddit": "u_Some-User"},  # a profile
        {"id": "s3", "author": "op", "created_utc": 1420452000, "subreddit": "x"},  # shorter than Reddit allows
    ])
    items = list(import_reddit([path]))
    events = {i.record["item_id"]: i.record for i in items if isinstance(i, Converted)}
    assert {k: (e["site"], e["parent_actor_id"]) for k, e in events.items()} == {
        "s1": ("learnpython", None), "k1": ("learnpython", "op"), "s2": ("u_some-user", None)}
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped)] == [
        ("bad_subreddit", "dump.ndjson:3"), ("bad_subreddit", "dump.ndjson:4"), ("bad_subreddit", "dump.ndjson:5"),
        ("bad_subreddit", "dump.ndjson:6"), ("parent_in_other_subreddit", "dump.ndjson:7"),
        ("parent_in_other_subreddit", "dump.ndjson:8"), ("bad_subreddit", "dump.ndjson:10")]
    # --site names the site; the subreddits must still agree for a comment to answer its parent
    with_site = list(import_reddit([path], site="python"))
    assert sorted(i.record["item_id"] for i in with_site if isinstance(i, Converted)) == ["k1", "s1", "s2"]


def _csv_comments(count: int, broken_at: int) -> str:
    """A submission and ``count`` comments on it; the comment at ``broken_at`` opens a quote in its
    last field that it never closes (a stray '"' in a real dump)."""
    lines = ["id,parent_id,link_id,author,created_utc,subreddit,body",
             "s1,,,op,1420452000,rust,a question"]
    for n in range(count):
        body = '"b broken' if n == broken_at else f"comment {n}"
        lines.append(f"k{n},t3_s1,t3_s1,u{n},{1420452100 + n},rust,{body}")
    return "\n".join(lines) + "\n"


def test_an_unclosed_quote_costs_its_own_row_never_the_rows_after_it(tmp_path):
    """A stray quote in a CSV row's last field made the reader take every later line as that field's
    text: 46 of 51 rows vanished with no skip (exit 0), or, past csv's field limit, thousands behind
    one counted skip. The broken row is a malformed_row skip; every row after it is read."""
    path = tmp_path / "dump.csv"
    path.write_text(_csv_comments(50, broken_at=4), encoding="utf-8")
    items = list(import_reddit([path]))
    skipped = [(s.reason, s.origin) for s in items if isinstance(s, Skipped)]
    assert skipped == [("malformed_row", "dump.csv:7")]
    converted = [i.record["item_id"] for i in items if isinstance(i, Converted)]
    assert converted == ["s1"] + [f"k{n}" for n in range(50) if n != 4]


def test_a_quote_left_open_past_csv_s_field_limit_still_costs_only_its_row(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(_csv_comments(20_000, broken_at=3), encoding="utf-8")
    items = list(import_reddit([path]))
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped)] == [("malformed_row", "big.csv:6")]
    assert sum(isinstance(i, Converted) for i in items) == 1 + 20_000 - 1


def test_a_quoted_field_over_several_lines_is_one_row(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('id,parent_id,link_id,author,created_utc,subreddit,body\n'
                    's1,,,op,1420452000,rust,a question\n'
                    'k1,t3_s1,t3_s1,u1,1420452100,rust,"first line\nsecond, with a comma\n\nlast"\n'
                    'k2,t3_s1,t3_s1,u2,1420452200,rust,after\n', encoding="utf-8")
    items = list(import_reddit([path]))
    assert [i.origin for i in items if isinstance(i, Converted)] == ["multi.csv:2", "multi.csv:3", "multi.csv:7"]
    assert not [i for i in items if isinstance(i, Skipped)]


HOSTILE_AUTHORS = [("a\x1b[2Jb", "bad_actor_id"), ("zero\u200bwidth", "bad_actor_id"), ("bidi\u202eevil", "bad_actor_id"),
                   ("x" * 600, "actor_id_too_long"), ("   ", "no_author_id")]


def _hostile_author_records():
    records = [{"id": "s1", "name": "t3_s1", "author": "op", "created_utc": 1420452000, "subreddit": "learnpython"}]
    for number, (author, _) in enumerate(HOSTILE_AUTHORS):
        records.append({"id": f"k{number}", "parent_id": "t3_s1", "link_id": "t3_s1", "author": author,
                        "created_utc": 1420455600, "subreddit": "learnpython"})
    records.append({"id": "r1", "parent_id": "t1_k0", "link_id": "t3_s1", "author": "helper",  # answers a bad id
                    "created_utc": 1420459200, "subreddit": "learnpython"})
    return records


def test_reddit_authors_get_the_id_checks_of_every_importer_ndjson_and_csv(tmp_path):
    """issue 12: Reddit authors were taken as they came: terminal escapes, zero-width and bidi
    characters, a 600-character name, a blank one became actors (or an invalid_* skip after the fact)."""
    import csv

    ndjson = tmp_path / "dump.ndjson"
    ndjson.write_text("\n".join(json.dumps(r) for r in _hostile_author_records()) + "\n", encoding="utf-8")
    as_csv = tmp_path / "dump.csv"
    with as_csv.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, ["id", "name", "parent_id", "link_id", "author", "created_utc", "subreddit"])
        writer.writeheader()
        writer.writerows(_hostile_author_records())
    for path, first in ((ndjson, 2), (as_csv, 3)):  # a CSV's first record is on its line 2
        items = list(import_reddit([path]))
        assert [i.record["item_id"] for i in items if isinstance(i, Converted)] == ["s1"]
        skipped = [(s.reason, s.origin) for s in items if isinstance(s, Skipped)]
        assert skipped == [(reason, f"{path.name}:{first + n}") for n, (_, reason) in enumerate(HOSTILE_AUTHORS)] + [
            ("parent_author_invalid", f"{path.name}:{first + len(HOSTILE_AUTHORS)}")]
