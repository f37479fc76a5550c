from importers.core import Converted, Skipped
from importers.disqus import import_disqus
from importer_memory import peak_of_import

EXPORT = """<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
  <category dsq:id="1"><forum>myblog</forum><title>General</title></category>
  <thread dsq:id="100"><forum>myblog</forum><title>Hello</title><createdAt>2016-05-01T10:00:00Z</createdAt>
    <author><name>Blogger</name><username>blogger</username></author></thread>
  <thread dsq:id="101"><forum>myblog</forum><createdAt>2016-05-02T10:00:00Z</createdAt>
    <author><name>Ghost</name></author></thread>
  <post dsq:id="1"><message>Nice</message><createdAt>2016-05-01T11:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam>
    <author><name>Reader</name><email>Reader@Example.com</email></author><thread dsq:id="100"/></post>
  <post dsq:id="2"><message>Thanks</message><createdAt>2016-05-01T12:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam>
    <author><name>Blogger</name><username>blogger</username></author><thread dsq:id="100"/><parent dsq:id="1"/></post>
  <post dsq:id="3"><createdAt>2016-05-01T13:00:00Z</createdAt><isDeleted>true</isDeleted><isSpam>false</isSpam>
    <author><name>X</name><email>x@example.com</email></author><thread dsq:id="100"/></post>
  <post dsq:id="4"><createdAt>2016-05-01T13:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>true</isSpam>
    <author><name>Spam</name><email>s@example.com</email></author><thread dsq:id="100"/></post>
  <post dsq:id="5"><createdAt>2016-05-01T14:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam>
    <author><name>Anon</name></author><thread dsq:id="100"/></post>
  <post dsq:id="6"><createdAt>2016-05-01T15:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam>
    <author><email>r2@example.com</email></author><thread dsq:id="100"/><parent dsq:id="3"/></post>
  <post dsq:id="7"><createdAt>2016-05-02T11:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam>
    <author><email>r3@example.com</email></author><thread dsq:id="101"/></post>
</disqus>
"""


def test_threads_comments_and_replies_of_a_disqus_export(tmp_path):
    path = tmp_path / "export.xml"
    path.write_text(EXPORT, encoding="utf-8")
    items = list(import_disqus([path]))
    events = {i.record["item_id"]: i.record for i in items if isinstance(i, Converted)}
    assert set(events) == {"thread-100", "post-1", "post-2"}
    assert events["post-1"]["site"] == "myblog"
    assert (events["post-1"]["kind"], events["post-1"]["actor_id"], events["post-1"]["parent_actor_id"]) == (
        "COMMENT", "reader@example.com", "blogger")
    assert (events["post-2"]["kind"], events["post-2"]["parent_actor_id"]) == ("REPLY", "reader@example.com")
    assert [i.origin for i in items if isinstance(i, Converted)] == [
        "export.xml:thread 1", "export.xml:post 1", "export.xml:post 2"]
    skipped = sorted((s.reason, s.origin) for s in items if isinstance(s, Skipped))
    assert skipped == [("deleted", "export.xml:post 3"), ("no_author_id", "export.xml:post 5"),
                       ("parent_missing", "export.xml:post 6"), ("parent_missing", "export.xml:post 7"),
                       ("spam", "export.xml:post 4"), ("thread_author_unknown", "export.xml:thread 2")]


def test_a_later_post_or_thread_reusing_a_dsq_id_is_a_duplicate_id_skip_that_reassigns_no_reply(tmp_path):
    duplicated = EXPORT.replace("</disqus>", """
  <thread dsq:id="100"><forum>myblog</forum><createdAt>2016-05-03T10:00:00Z</createdAt>
    <author><username>mallory</username></author></thread>
  <post dsq:id="1"><createdAt>2016-05-03T11:00:00Z</createdAt><isDeleted>false</isDeleted><isSpam>false</isSpam>
    <author><username>mallory</username></author><thread dsq:id="100"/></post>
</disqus>""")
    path = tmp_path / "export.xml"
    path.write_text(duplicated, encoding="utf-8")
    items = list(import_disqus([path]))
    events = {i.record["item_id"]: i.record for i in items if isinstance(i, Converted)}
    assert (events["post-1"]["actor_id"], events["post-1"]["parent_actor_id"]) == ("reader@example.com", "blogger")
    assert events["post-2"]["parent_actor_id"] == "reader@example.com"
    assert len([i for i in items if isinstance(i, Converted)]) == 3
    duplicates = sorted(s.origin for s in items if isinstance(s, Skipped) and s.reason == "duplicate_id")
    assert duplicates == ["export.xml:post 8", "export.xml:thread 3"]


def _post(number, body, thread="100"):
    return (f'  <post dsq:id="{number}"><message>{body}</message><createdAt>2016-05-01T11:00:00Z</createdAt>'
            f"<isDeleted>false</isDeleted><isSpam>false</isSpam><author><email>r{number}@example.com</email></author>"
            f'<thread dsq:id="{thread}"/></post>\n')


def test_a_post_over_the_limit_is_a_counted_skip_and_the_posts_around_it_import(tmp_path):
    export = EXPORT.split("  <post ")[0] + "".join([
        _post(1, "short"),
        _post(2, "&lt;p&gt;" + "It's a > b &amp; c. " * 10_000),   # 200 KB of text in one message
        _post(3, "<![CDATA[" + "<b>x</b>" * 10_000 + "]]>"),      # 80 KB of CDATA
        _post(4, "".join(f"<p>{n}</p>" for n in range(10_000))),  # many small elements, 100 KB in all
        _post(5, "short"),
    ]) + "</disqus>\n"
    path = tmp_path / "export.xml"
    path.write_text(export, encoding="utf-8")
    items = list(import_disqus([path], max_record_bytes=10_000))
    assert sorted(i.record["item_id"] for i in items if isinstance(i, Converted)) == ["post-1", "post-5", "thread-100"]
    skipped = [(s.reason, s.origin.split(" (")[0]) for s in items if isinstance(s, Skipped)]
    assert ("record_too_large", "export.xml:post 2") in skipped and ("record_too_large", "export.xml:post 3") in skipped
    assert ("record_too_large", "export.xml:post 4") in skipped
    too_large = [s.origin for s in items if isinstance(s, Skipped) and s.reason == "record_too_large"]
    assert "bytes" in too_large[0]  # its size, for the curious


def test_a_64_mb_message_is_read_in_bounded_memory(tmp_path):
    path = tmp_path / "export.xml"
    with open(path, "w", encoding="utf-8") as out:
        out.write(EXPORT.split("  <post ")[0] + _post(1, "short") + _post(2, "HUGE").split("HUGE")[0])
        for _ in range(64):
            out.write("a" * (1 << 20))
        out.write(_post(2, "HUGE").split("HUGE")[1] + _post(3, "short") + "</disqus>\n")
    events, reasons, grown_mb = peak_of_import("disqus", path)
    assert (events, reasons) == (3, "['record_too_large', 'thread_author_unknown']")
    assert grown_mb < 32, f"peak memory grew {grown_mb} MB reading a 64 MB message"


def test_actors_name_each_author_with_their_disqus_name(tmp_path):
    from importers.disqus import disqus_actors

    path = tmp_path / "export.xml"
    path.write_text(EXPORT, encoding="utf-8")
    # deleted and spam posts (X, Spam) and authors without an id (Ghost, Anon) name no actor
    assert list(disqus_actors([path])) == [
        {"site": "myblog", "actor_id": "blogger", "name": "Blogger"},
        {"site": "myblog", "actor_id": "reader@example.com", "name": "Reader"},
        {"site": "myblog", "actor_id": "r2@example.com", "name": None},
        {"site": "myblog", "actor_id": "r3@example.com", "name": None},
    ]


def test_a_comment_or_instruction_over_the_limit_between_posts_is_a_counted_skip_with_its_line(tmp_path):
    """issue 12: an over-long comment or processing instruction stopped the whole import."""
    head = EXPORT.split("  <post ")[0]
    export = (head + _post(1, "short") + "  <!-- " + "x\n" * 10_000 + " -->\n" + _post(2, "short")
              + "  <?app " + "y" * 20_000 + "?>\n" + _post(3, "short") + "</disqus>\n")
    path = tmp_path / "export.xml"
    path.write_text(export, encoding="utf-8")
    items = list(import_disqus([path], max_record_bytes=10_000))
    assert sorted(i.record["item_id"] for i in items if isinstance(i, Converted)) == [
        "post-1", "post-2", "post-3", "thread-100"]
    line = head.count("\n") + 2
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped) and s.reason == "markup_too_large"] == [
        ("markup_too_large", f"export.xml:line {line:,} (a comment of 20,009 bytes)"),
        ("markup_too_large", f"export.xml:line {line + 10_002:,} (a processing instruction of 20,008 bytes)")]
    from importers.disqus import disqus_actors

    actors = list(disqus_actors([path], max_record_bytes=10_000))
    assert sum(isinstance(a, Skipped) for a in actors) == 2  # counted there too, not passed over


def test_an_export_that_cannot_be_read_on_says_how_many_records_came_before_it(tmp_path, capsys):
    """Read twice: the first pass (the index) no longer stops at the error before anything is counted."""
    from pipelines.cli import main

    path = tmp_path / "export.xml"
    path.write_text(EXPORT.split("  <post ")[0] + _post(1, "short") + _post(2, "short") + "  <!-- " + "x" * 20_000,
                    encoding="utf-8")
    out = tmp_path / "events.jsonl"
    assert main(["import", "disqus", str(path), "--to", f"jsonl:{out}", "--max-line-bytes", "10000"]) == 2
    err = capsys.readouterr().err.strip()
    assert "export.xml: line 10: a comment of over 10,000 bytes that never ends" in err and len(err.splitlines()) == 1
    assert "4 records read before it (3 converted, 1 skipped); nothing was written" in err and not out.exists()


def test_an_author_id_with_control_or_format_characters_or_over_the_limit_is_a_counted_skip(tmp_path):
    """issue 12: usernames and e-mails were taken as they came."""
    def post(number, author, parent=""):
        return (f'  <post dsq:id="{number}"><createdAt>2016-05-01T11:00:00Z</createdAt><isDeleted>false</isDeleted>'
                f"<isSpam>false</isSpam><author><name>N</name>{author}</author><thread dsq:id=\"100\"/>{parent}</post>\n")
    export = EXPORT.split("  <post ")[0] + "".join([
        post(1, "<username>ok</username>"), post(2, "<username>a\x85b</username>"),
        post(3, "<email>zero\u200bwidth@example.com</email>"), post(4, "<username>" + "x" * 600 + "</username>"),
        post(5, "<username>fine</username>", '<parent dsq:id="2"/>'),
    ]) + "</disqus>\n"
    path = tmp_path / "export.xml"
    path.write_text(export, encoding="utf-8")
    items = list(import_disqus([path]))
    assert sorted(i.record["item_id"] for i in items if isinstance(i, Converted)) == ["post-1", "thread-100"]
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped) and s.reason != "thread_author_unknown"] == [
        ("bad_actor_id", "export.xml:post 2"), ("bad_actor_id", "export.xml:post 3"),
        ("actor_id_too_long", "export.xml:post 4"), ("parent_missing", "export.xml:post 5")]
    from importers.disqus import disqus_actors

    assert [a["actor_id"] for a in disqus_actors([path]) if isinstance(a, dict)] == ["blogger", "ok", "fine"]
