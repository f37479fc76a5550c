from importers.core import Converted, Skipped
from importers.wordpress import import_wordpress
from importer_memory import peak_of_import


def wxr(items: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
  <title>My Blog</title><link>https://blog.example.com</link>
  <wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[admin]]></wp:author_login></wp:author>
  {items}
</channel></rss>"""


POST = """<item><title>Hello</title><dc:creator><![CDATA[admin]]></dc:creator><wp:post_id>12</wp:post_id>
  <wp:post_date_gmt>2015-01-01 10:00:00</wp:post_date_gmt><wp:post_type>post</wp:post_type>
  <wp:comment><wp:comment_id>5</wp:comment_id><wp:comment_author><![CDATA[Jane]]></wp:comment_author>
    <wp:comment_author_email>Jane@Example.com</wp:comment_author_email><wp:comment_date_gmt>2015-01-01 11:00:00</wp:comment_date_gmt>
    <wp:comment_approved>1</wp:comment_approved><wp:comment_parent>0</wp:comment_parent><wp:comment_user_id>0</wp:comment_user_id></wp:comment>
  <wp:comment><wp:comment_id>7</wp:comment_id><wp:comment_author><![CDATA[admin]]></wp:comment_author>
    <wp:comment_date_gmt>2015-01-01 12:00:00</wp:comment_date_gmt><wp:comment_approved>1</wp:comment_approved>
    <wp:comment_parent>5</wp:comment_parent><wp:comment_user_id>1</wp:comment_user_id></wp:comment>
  <wp:comment><wp:comment_id>8</wp:comment_id><wp:comment_author_email>p@x.com</wp:comment_author_email>
    <wp:comment_date_gmt>2015-01-01 12:00:00</wp:comment_date_gmt><wp:comment_approved>spam</wp:comment_approved>
    <wp:comment_parent>0</wp:comment_parent></wp:comment>
  <wp:comment><wp:comment_id>9</wp:comment_id><wp:comment_type>pingback</wp:comment_type>
    <wp:comment_date_gmt>2015-01-01 12:00:00</wp:comment_date_gmt><wp:comment_approved>1</wp:comment_approved></wp:comment>
  <wp:comment><wp:comment_id>10</wp:comment_id><wp:comment_author><![CDATA[Nameless]]></wp:comment_author>
    <wp:comment_date_gmt>2015-01-01 13:00:00</wp:comment_date_gmt><wp:comment_approved>1</wp:comment_approved>
    <wp:comment_parent>0</wp:comment_parent><wp:comment_user_id>0</wp:comment_user_id></wp:comment>
  <wp:comment><wp:comment_id>11</wp:comment_id><wp:comment_author_email>k@x.com</wp:comment_author_email>
    <wp:comment_date_gmt>0000-00-00 00:00:00</wp:comment_date_gmt><wp:comment_approved>1</wp:comment_approved>
    <wp:comment_parent>0</wp:comment_parent></wp:comment>
  <wp:comment><wp:comment_id>12</wp:comment_id><wp:comment_author_email>q@x.com</wp:comment_author_email>
    <wp:comment_date_gmt>2015-01-01 14:00:00</wp:comment_date_gmt><wp:comment_approved>1</wp:comment_approved>
    <wp:comment_parent>999</wp:comment_parent></wp:comment>
</item>
<item><title>logo</title><wp:post_id>13</wp:post_id><wp:post_type>attachment</wp:post_type></item>"""


def test_posts_comments_and_replies_of_a_wxr_export(tmp_path):
    path = tmp_path / "blog.wordpress.xml"
    path.write_text(wxr(POST), encoding="utf-8")
    items = list(import_wordpress([path]))
    events = {i.record["item_id"]: i.record for i in items if isinstance(i, Converted)}
    assert set(events) == {"post-12", "comment-5", "comment-7"}
    assert events["post-12"]["site"] == "blog.example.com" and events["post-12"]["actor_id"] == "admin"
    assert (events["comment-5"]["kind"], events["comment-5"]["actor_id"], events["comment-5"]["parent_actor_id"]) == (
        "COMMENT", "jane@example.com", "admin")
    assert (events["comment-7"]["kind"], events["comment-7"]["actor_id"], events["comment-7"]["parent_actor_id"]) == (
        "REPLY", "admin", "jane@example.com")
    assert [i.origin for i in items if isinstance(i, Converted)] == [
        "blog.wordpress.xml:item 1", "blog.wordpress.xml:item 1 comment 1", "blog.wordpress.xml:item 1 comment 2"]
    skipped = sorted(s.reason for s in items if isinstance(s, Skipped))
    assert skipped == ["bad_date", "no_author_id", "parent_missing", "pingback", "post_type_attachment", "unapproved"]


def test_a_large_export_streams_in_memory_that_does_not_grow_with_its_size(tmp_path):
    import tracemalloc

    def peak(posts: int) -> int:
        path = tmp_path / f"big-{posts}.xml"
        with path.open("w", encoding="utf-8") as out:
            out.write(wxr("").split("</channel>")[0])
            for n in range(posts):
                out.write(POST.split("<item><title>logo")[0].replace("<wp:post_id>12", f"<wp:post_id>{n}"))
            out.write("</channel></rss>")
        tracemalloc.start()
        count = sum(1 for _ in import_wordpress([path]))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == posts * 8
        return top

    small, large = peak(200), peak(4000)
    assert large < 2 * small, (small, large)  # 20 times the data, about the same memory


def test_a_later_comment_reusing_a_comment_id_is_a_duplicate_id_skip_that_reassigns_no_reply(tmp_path):
    duplicate = """<wp:comment><wp:comment_id>5</wp:comment_id><wp:comment_author_email>mallory@x.com</wp:comment_author_email>
    <wp:comment_date_gmt>2015-01-01 15:00:00</wp:comment_date_gmt><wp:comment_approved>1</wp:comment_approved>
    <wp:comment_parent>0</wp:comment_parent></wp:comment>
</item>"""
    path = tmp_path / "blog.wordpress.xml"
    path.write_text(wxr(POST.replace("</item>", duplicate, 1)), encoding="utf-8")
    items = list(import_wordpress([path]))
    events = {i.record["item_id"]: i.record for i in items if isinstance(i, Converted)}
    assert (events["comment-5"]["actor_id"], events["comment-7"]["parent_actor_id"]) == ("jane@example.com", "jane@example.com")
    assert len([i for i in items if isinstance(i, Converted)]) == 3
    assert [s.origin for s in items if isinstance(s, Skipped) and s.reason == "duplicate_id"] == [
        "blog.wordpress.xml:item 1 comment 8"]


def _comment(number, extra=""):
    return (f"<wp:comment><wp:comment_id>{number}</wp:comment_id><wp:comment_author_email>c{number}@x.com"
            f"</wp:comment_author_email><wp:comment_date_gmt>2015-01-01 11:00:00</wp:comment_date_gmt>"
            f"<wp:comment_approved>1</wp:comment_approved><wp:comment_parent>0</wp:comment_parent>{extra}</wp:comment>\n")


def _item(post_id, content, comments=""):
    return (f"<item><title>Post</title><dc:creator><![CDATA[admin]]></dc:creator><wp:post_id>{post_id}</wp:post_id>"
            f"<content:encoded>{content}</content:encoded>"
            f"<wp:post_date_gmt>2015-01-01 10:00:00</wp:post_date_gmt><wp:post_type>post</wp:post_type>\n"
            f"{comments}</item>\n")


def test_a_post_or_comment_over_the_limit_is_a_counted_skip_and_the_rest_imports(tmp_path):
    items_xml = "".join([
        _item(1, "short", _comment(11) + _comment(12, "<wp:comment_content>" + "x &amp; y " * 20_000
                                                  + "</wp:comment_content>") + _comment(13)),
        _item(2, "<![CDATA[" + "<p>a</p>" * 20_000 + "]]>", _comment(21)),    # 160 KB of content
        _item(3, "".join(f"<p>{n}</p>" for n in range(20_000))),              # many small elements
        _item(4, "short"),
    ])
    path = tmp_path / "blog.wordpress.xml"
    path.write_text(wxr(items_xml).replace("<rss ", '<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" '),
                    encoding="utf-8")
    items = list(import_wordpress([path], max_record_bytes=10_000))
    assert sorted(i.record["item_id"] for i in items if isinstance(i, Converted)) == [
        "comment-11", "comment-13", "post-1", "post-4"]
    skipped = sorted((s.reason, s.origin.split(" (")[0]) for s in items if isinstance(s, Skipped))
    assert skipped == [("parent_missing", "blog.wordpress.xml:item 2 comment 1"),
                       ("record_too_large", "blog.wordpress.xml:item 1 comment 2"),
                       ("record_too_large", "blog.wordpress.xml:item 2"),
                       ("record_too_large", "blog.wordpress.xml:item 3")]


def test_a_64_mb_post_content_is_read_in_bounded_memory(tmp_path):
    path = tmp_path / "blog.wordpress.xml"
    head, tail = _item(2, "<![CDATA[HUGE]]>", _comment(21)).split("HUGE")
    with open(path, "w", encoding="utf-8") as out:
        out.write(wxr(_item(1, "short") + head).rsplit("\n</channel>", 1)[0].replace(
            "<rss ", '<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" '))
        for _ in range(64):
            out.write("<p>a</p>" * (1 << 17))
        out.write(tail + _item(3, "short") + "</channel></rss>")
    events, reasons, grown_mb = peak_of_import("wordpress", path)
    assert (events, reasons) == (2, "['parent_missing', 'record_too_large']")
    assert grown_mb < 32, f"peak memory grew {grown_mb} MB reading a 64 MB post"


def test_a_comment_over_the_limit_between_items_or_fields_is_a_counted_skip_and_the_items_import(tmp_path):
    """issue 12: an over-long XML comment anywhere stopped the whole import."""
    big = "<!-- " + "z" * 20_000 + " -->"
    items_xml = _item(1, "short", _comment(11)) + big + "\n" + _item(2, "short").replace("<title>", big + "<title>")
    path = tmp_path / "blog.wordpress.xml"
    path.write_text(wxr(items_xml).replace("<rss ", '<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" '),
                    encoding="utf-8")
    items = list(import_wordpress([path], max_record_bytes=10_000))
    assert sorted(i.record["item_id"] for i in items if isinstance(i, Converted)) == ["comment-11", "post-1", "post-2"]
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped)] == [
        ("markup_too_large", "blog.wordpress.xml:line 9 (a comment of 20,009 bytes)"),
        ("markup_too_large", "blog.wordpress.xml:line 10 (a comment of 20,009 bytes)")]


def test_a_login_or_e_mail_with_control_or_format_characters_or_over_the_limit_is_a_counted_skip(tmp_path):
    """issue 12: logins, e-mails and post authors were taken as they came."""
    comments = (_comment(11) + _comment(12).replace("c12@x.com", "c\x85@x.com")
                + _comment(13).replace("c13@x.com", "c\u202e@x.com") + _comment(14).replace("c14@x.com", "x" * 600))
    items_xml = _item(1, "short", comments) + _item(2, "short").replace("<![CDATA[admin]]>", "<![CDATA[ad\u200bmin]]>")
    path = tmp_path / "blog.wordpress.xml"
    path.write_text(wxr(items_xml).replace("<rss ", '<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" '),
                    encoding="utf-8")
    items = list(import_wordpress([path]))
    assert sorted(i.record["item_id"] for i in items if isinstance(i, Converted)) == ["comment-11", "post-1"]
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped)] == [
        ("bad_actor_id", "blog.wordpress.xml:item 1 comment 2"), ("bad_actor_id", "blog.wordpress.xml:item 1 comment 3"),
        ("actor_id_too_long", "blog.wordpress.xml:item 1 comment 4"), ("bad_actor_id", "blog.wordpress.xml:item 2")]
