import gzip

from importers.core import Converted, Skipped
from importers.mbox import import_mbox, normalize_sender

ARCHIVE = b"""From alice at example.org  Mon Jan  5 10:00:00 2015
From: alice at example.org (Alice Liddell)
Date: Mon, 05 Jan 2015 10:00:00 +0000
Subject: [list] How do I start?
Message-ID: <a1@example.org>

Body
From bob at example.org  Mon Jan  5 11:00:00 2015
From: =?iso-8859-1?q?Bob_M=FCller?= <Bob@Example.org>
Date: Mon, 05 Jan 2015 12:00:00 +0100
Subject: Re: [list] How do I start?
Message-ID: <b1@example.org>
In-Reply-To: <a1@example.org>

From the docs.
From alice at example.org  Mon Jan  5 12:00:00 2015
From: alice at example.org (Alice Liddell)
Date: Mon, 05 Jan 2015 12:30:00 +0000
Message-ID: <a2@example.org>
References: <a1@example.org> <b1@example.org>

Thanks!
From carol at example.org  Mon Jan  5 13:00:00 2015
From: carol at example.org
Date: Mon, 05 Jan 2015 13:00:00 +0000
Message-ID: <c1@example.org>
In-Reply-To: <not-in-archive@example.org>

Late to the party
From nobody  Mon Jan  5 14:00:00 2015
Date: Mon, 05 Jan 2015 14:00:00 +0000
Message-ID: <n1@example.org>

no sender
From dave at example.org  Mon Jan  5 15:00:00 2015
From: dave at example.org
Date: someday
Message-ID: <d1@example.org>

bad date
From eve at example.org  Mon Jan  5 16:00:00 2015
From: \xe9ve <eve@example.org>
Date: Mon, 05 Jan 2015 16:00:00 +0000
Message-ID: <e1@example.org>
In-Reply-To: <b1@example.org>

latin-1 header bytes
"""


def _import(tmp_path, name="2015-January.txt", data=ARCHIVE, compress=False):
    folder = tmp_path / "python-list"
    folder.mkdir(parents=True)
    path = folder / (name + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(data) if compress else data)
    return list(import_mbox([folder]))


def test_threads_replies_and_senders_of_a_pipermail_archive(tmp_path):
    items = _import(tmp_path)
    events = {i.record["item_id"]: i.record for i in items if isinstance(i, Converted)}
    assert events["<a1@example.org>"]["kind"] == "POST"
    assert events["<a1@example.org>"]["actor_id"] == "alice@example.org"
    assert events["<a1@example.org>"]["site"] == "python-list"
    bob = events["<b1@example.org>"]
    assert (bob["kind"], bob["actor_id"], bob["parent_actor_id"]) == ("COMMENT", "bob@example.org", "alice@example.org")
    assert bob["created_at"] == events["<a1@example.org>"]["created_at"] + 3600_000  # 12:00+01:00 is 11:00 UTC
    thanks = events["<a2@example.org>"]  # no In-Reply-To: the last References id is the parent
    assert (thanks["kind"], thanks["parent_id"], thanks["thread_id"]) == ("REPLY", "<b1@example.org>", "<a1@example.org>")
    assert events["<c1@example.org>"]["kind"] == "POST"  # its parent is not in the archive
    assert events["<e1@example.org>"]["actor_id"] == "eve@example.org"
    assert all(i.origin.startswith("2015-January.txt:") for i in items)  # file:line, events and skips alike


def test_no_sender_and_bad_dates_are_skipped_with_their_line(tmp_path):
    skipped = [(s.reason, s.origin) for s in _import(tmp_path) if isinstance(s, Skipped)]
    assert skipped == [("no_sender", "2015-January.txt:30"), ("bad_date", "2015-January.txt:35")]


def test_gzipped_monthly_archives_read_the_same(tmp_path):
    plain = [i.record for i in _import(tmp_path / "a") if isinstance(i, Converted)]
    packed = [i.record for i in _import(tmp_path / "b", compress=True) if isinstance(i, Converted)]
    assert plain == packed and len(plain) == 5


def test_sender_normalization():
    assert normalize_sender("john.doe at Example.COM (John)") == "john.doe@example.com"
    assert normalize_sender('"Doe, John" <John@Example.com>') == "john@example.com"
    assert normalize_sender("=?utf-8?b?SsO2cmc=?= <jorg@example.de>") == "jorg@example.de"
    assert normalize_sender("undisclosed") is None


def _long_line_archive(header_bytes: int, body_bytes: int) -> bytes:
    first = (b"From alice at example.org  Mon Jan  5 10:00:00 2015\nFrom: alice at example.org\n"
             b"Date: Mon, 05 Jan 2015 10:00:00 +0000\nMessage-ID: <a1@example.org>\n"
             b"References: " + b"<r@x> " * (header_bytes // 6) + b"\n\nbody\n")
    second = (b"From bob at example.org  Mon Jan  5 11:00:00 2015\nFrom: bob at example.org\n"
              b"Date: Mon, 05 Jan 2015 11:00:00 +0000\nMessage-ID: <b1@example.org>\n\n"
              + b"x" * body_bytes + b"\n")
    return first + second


def test_an_over_long_header_line_is_a_counted_skip_read_in_constant_memory(tmp_path):
    import tracemalloc

    from importers.mbox import import_mbox

    folder = tmp_path / "list"
    folder.mkdir()
    (folder / "2015-January.txt.gz").write_bytes(gzip.compress(_long_line_archive(40_000_000, 40_000_000)))
    tracemalloc.start()
    items = list(import_mbox([folder]))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    skipped = [(s.reason, s.origin) for s in items if isinstance(s, Skipped)]
    assert skipped == [("line_too_long", "2015-January.txt.gz:1")]
    assert [i.record["item_id"] for i in items if isinstance(i, Converted)] == ["<b1@example.org>"]  # a long body is fine
    assert peak < 8_000_000  # a few line buffers, not the 40 MB lines (measured 1.6 GB RSS before)


def test_the_line_limit_is_an_option(tmp_path):
    from importers.mbox import import_mbox

    folder = tmp_path / "l"
    folder.mkdir()
    (folder / "a.mbox").write_bytes(_long_line_archive(header_bytes=600, body_bytes=10))
    items = list(import_mbox([folder], max_line_bytes=500))
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped)] == [("line_too_long", "a.mbox:1")]
    assert sum(isinstance(i, Converted) for i in list(import_mbox([folder], max_line_bytes=10_000))) == 2


def test_a_header_block_of_many_lines_is_bounded_too(tmp_path):
    from importers.mbox import import_mbox

    folder = tmp_path / "l"
    folder.mkdir()
    many = b"X-Filler: " + b"y" * 90 + b"\n"
    (folder / "a.mbox").write_bytes(
        b"From a at example.org  Mon Jan  5 10:00:00 2015\nFrom: a at example.org\n"
        b"Date: Mon, 05 Jan 2015 10:00:00 +0000\nMessage-ID: <a1@example.org>\n" + many * 100 + b"\nbody\n")
    items = list(import_mbox([folder], max_line_bytes=5_000))
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped)] == [("header_too_long", "a.mbox:1")]


def test_a_later_message_reusing_a_message_id_is_skipped_and_never_takes_over_the_replies_to_it(tmp_path):
    impostor = (b"From mallory at example.org  Mon Jan  5 16:00:00 2015\nFrom: mallory at example.org\n"
                b"Date: Mon, 05 Jan 2015 16:00:00 +0000\nMessage-ID: <a1@example.org>\n\nmine now\n")
    folder = tmp_path / "list"
    folder.mkdir()
    (folder / "2015-January.txt").write_bytes(ARCHIVE + impostor)
    items = list(import_mbox([folder]))
    events = {i.record["item_id"]: i.record for i in items if isinstance(i, Converted)}
    assert (events["<a1@example.org>"]["actor_id"], events["<b1@example.org>"]["parent_actor_id"]) == (
        "alice@example.org", "alice@example.org")
    line = ARCHIVE.count(b"\n") + 1
    assert [s.reason for s in items if isinstance(s, Skipped) and s.origin == f"2015-January.txt:{line}"] == [
        "duplicate_message_id"]


def test_actors_name_each_sender_from_the_from_header(tmp_path):
    from importers.mbox import mbox_actors

    _import(tmp_path)
    actors = list(mbox_actors([tmp_path / "python-list"]))
    assert actors == [
        {"site": "python-list", "actor_id": "alice@example.org", "name": "Alice Liddell"},  # pipermail "(Name)"
        {"site": "python-list", "actor_id": "bob@example.org", "name": "Bob Müller"},  # RFC 2047, "Name <addr>"
        {"site": "python-list", "actor_id": "carol@example.org", "name": None},  # an address alone names no one
        {"site": "python-list", "actor_id": "eve@example.org", "name": "\ufffdve"},  # raw 8-bit: replaced, not a crash
    ]  # no sender, or a bad date (dave): no event, so no actor


def test_an_actor_s_name_is_the_one_they_use_most(tmp_path):
    from importers.mbox import mbox_actors

    messages = [("Al", 1), ("Alice Liddell", 2), ("Alice Liddell", 3), ("A. Liddell", 4)]
    data = b"".join(f"From alice at example.org  Mon Jan  5 10:00:00 2015\nFrom: {name} <alice@example.org>\n"
                    f"Date: Mon, 05 Jan 2015 10:00:00 +0000\nMessage-ID: <m{n}@x>\n\nhi\n".encode()
                    for name, n in messages)
    _import(tmp_path, data=data)
    assert [a["name"] for a in mbox_actors([tmp_path / "python-list"])] == ["Alice Liddell"]


def test_a_sender_address_with_control_or_format_characters_or_over_the_id_limit_is_a_counted_skip(tmp_path):
    """issue 12: a bell, an escape or a zero-width space in an address became part of an actor id."""
    def message(number, sender, reply_to=""):
        return (f"From x at y  Mon Jan  5 1{number}:00:00 2015\nFrom: {sender}\nDate: Mon, 05 Jan 2015 1{number}:00:00 +0000\n"
                f"Message-ID: <m{number}@example.org>\n{reply_to}\nBody\n").encode("utf-8")
    archive = (message(0, "ok@example.org") + message(1, "ev\x07il@example.org") + message(2, "user at host\x1b")
               + message(3, "a\u200b@example.org") + message(4, "x" * 600 + "@example.org")
               + message(5, "fine@example.org", "In-Reply-To: <m0@example.org>\n"))
    items = _import(tmp_path, data=archive)
    assert [i.record["actor_id"] for i in items if isinstance(i, Converted)] == ["ok@example.org", "fine@example.org"]
    assert [(s.reason, s.origin) for s in items if isinstance(s, Skipped)] == [
        ("bad_actor_id", "2015-January.txt:7"), ("bad_actor_id", "2015-January.txt:13"),
        ("bad_actor_id", "2015-January.txt:19"), ("actor_id_too_long", "2015-January.txt:25")]
    from importers.mbox import mbox_actors

    assert [a["actor_id"] for a in mbox_actors([tmp_path / "python-list"])] == ["ok@example.org", "fine@example.org"]


def test_a_display_name_loses_control_and_format_characters_and_is_bounded(tmp_path):
    from importers.mbox import mbox_actors

    archive = ("From x at y  Mon Jan  5 10:00:00 2015\nFrom: \x07Eve\x1b\u202e" + "e" * 2000
               + " <eve@example.org>\nDate: Mon, 05 Jan 2015 10:00:00 +0000\nMessage-ID: <m@example.org>\n\nBody\n")
    (tmp_path / "2015-January.txt").write_bytes(archive.encode("utf-8"))
    [actor] = mbox_actors([tmp_path / "2015-January.txt"])
    assert actor["name"] == ("Eve" + "e" * 2000)[:512]
