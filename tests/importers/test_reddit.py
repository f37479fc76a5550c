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
