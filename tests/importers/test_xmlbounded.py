"""XML in bounded memory: pieces within the limit pass unchanged, an over-long start tag becomes a stand-in."""
import io
import xml.etree.ElementTree as ElementTree

import pytest

from importers.xmlbounded import TOO_LARGE, BoundedXml, bounded_pieces
from importers.xmlutil import iterparse

ORDINARY = (b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY e "a > b"> <!-- it\'s ] here -->]>\n'
            b"<d><!-- a <comment> --><?pi x > y?><r a='1 > 0' b=\"it's\"/><r><![CDATA[<not a tag>]]>&e;</r></d>\n")


def _pieces(data, limit):
    return list(bounded_pieces(io.BytesIO(data), limit, "test.xml"))


def test_an_ordinary_document_passes_unchanged_in_whole_pieces():
    pieces = _pieces(ORDINARY, 100)
    assert b"".join(pieces) == ORDINARY
    assert b"<r a='1 > 0' b=\"it's\"/>" in pieces and b"<?pi x > y?>" in pieces
    assert ElementTree.parse(BoundedXml(io.BytesIO(ORDINARY), 100, "test.xml")).getroot()[1].text == "<not a tag>a > b"


def test_a_start_tag_over_the_limit_becomes_a_stand_in_that_keeps_the_tree_whole():
    data = b"<d><r a='" + b"x>\"" * 100_000 + b"'>text</r><r b='1'/></d>"
    root = ElementTree.parse(BoundedXml(io.BytesIO(data), 1000, "test.xml")).getroot()
    assert [(r.tag, r.attrib, r.text) for r in root] == [("r", {TOO_LARGE: str(300_008)}, "text"), ("r", {"b": "1"}, None)]


OVER_LIMIT_MARKUP = [  # issue 12: each of these stopped the import with "not a dump of records"
    ("comment", b"<!-- " + b"x\n" * 2500 + b" -->"),
    ("instruction", b"<?pi " + b"x > y\n" * 1000 + b"?>"),
    ("text", b"t" * 5000),  # joined with the line ends around it: a run of text from line 2
    ("cdata", b"<![CDATA[" + b"<x>\n" * 1500 + b"]]>"),
]


@pytest.mark.parametrize("kind, markup", OVER_LIMIT_MARKUP)
def test_other_markup_or_text_over_the_limit_is_dropped_in_chunks_and_reported_with_its_line(kind, markup):
    from importers.xmlutil import DroppedMarkup

    data = b"<d>\n<r n='1'/>\n" + markup + b"\n<r n='2'/>\n</d>\n"
    events = list(iterparse(io.BytesIO(data), events=("end",), max_markup_bytes=1000))
    assert [e.get("n") for action, e in events if action == "end" and e.tag == "r"] == ["1", "2"]
    dropped = [e for action, e in events if action == "dropped"]
    assert dropped == ([DroppedMarkup(kind, len(markup), 3)] if kind != "text" else [DroppedMarkup(kind, 5002, 2)])


def test_a_doctype_or_an_end_tag_over_the_limit_is_dropped_and_the_rows_after_it_still_read():
    from importers.xmlutil import DroppedMarkup

    doctype = b"<!DOCTYPE d [\n<!-- ] > -->" + b"<!ENTITY e 'a > ]'>\n" * 200 + b"]>"
    data = doctype + b"\n<d>\n<r n='1'></r" + b" \n" * 3000 + b">\n<r n='2'/>\n</d>\n"
    events = list(iterparse(io.BytesIO(data), events=("end",), max_markup_bytes=1000))
    assert [e.get("n") for action, e in events if action == "end" and e.tag == "r"] == ["1", "2"]
    assert [e for action, e in events if action == "dropped"] == [
        DroppedMarkup("doctype", len(doctype), 1), DroppedMarkup("end_tag", 6004, 204)]


def test_a_50_mb_comment_is_never_held_whole():
    class Endless(io.RawIOBase):  # a 50 MB comment, made as it is read: no copy of it exists but the reader's
        def __init__(self):
            self.parts = [b"<d><r n='1'/><!--"] + [b"c" * (1 << 20)] * 50 + [b"--><r n='2'/></d>"]

        def readable(self):
            return True

        def read(self, size=-1):
            if not self.parts:
                return b""
            part = self.parts[0][:size if size >= 0 else None]
            self.parts[0] = self.parts[0][len(part):]
            if not self.parts[0]:
                self.parts.pop(0)
            return part

    import tracemalloc

    tracemalloc.start()
    try:
        events = [(a, getattr(e, "attrib", e)) for a, e in iterparse(Endless(), events=("end",), max_markup_bytes=1000)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [e for a, e in events if a == "dropped"][0].size == 50 * (1 << 20) + 7
    assert peak < 4 * (1 << 20), f"{peak:,} bytes traced reading a 50 MB comment"


@pytest.mark.parametrize("data, what", [
    (b"<d>\n<r/>\n<!-- " + b"x" * 5000, "line 3: a comment of over 1,000 bytes that never ends"),
    (b"<d>\n<r/>\n<?pi " + b"x" * 5000, "line 3: a processing instruction of over 1,000 bytes that never ends"),
    (b"<!DOCTYPE d [\n" + b"<!ENTITY e 'x'>" * 500, "line 1: a doctype of over 1,000 bytes that never ends"),
    (b"<d>\n<r a='" + b"x" * 5000, "line 2: a start tag of over 1,000 bytes that never ends"),
    (b"<d>\n</d" + b" " * 5000, "line 2: an end tag of over 1,000 bytes that never ends"),
    (b"<d>\n<r/>\n</r " + b"junk " * 500 + b">", "line 3: an end tag of over 1,000 bytes that is not well-formed"),
    (b"<d>\n<!ELEMENT " + b"x" * 5000 + b">", "line 2: a declaration of over 1,000 bytes that is not well-formed"),
])
def test_markup_that_cannot_be_resynchronised_is_one_error_naming_the_file_and_line(data, what):
    with pytest.raises(ValueError, match=f"^test.xml: {what}"):
        _pieces(data, 1000)


def test_a_file_cut_off_inside_an_over_long_tag_is_reported_malformed(tmp_path):
    path = tmp_path / "Posts.xml"
    path.write_bytes(b"<posts><row Id='1'/><row Body='" + b"x" * 5000)
    with pytest.raises(ValueError, match="Posts.xml: line 1: a start tag of over 1,000 bytes that never ends"):
        list(iterparse(path, max_markup_bytes=1000))


def _records(data, depth, limit):
    from importers.xmlbounded import bounded_records, sized_pieces

    return b"".join(bounded_records(sized_pieces(io.BytesIO(data), limit, "test.xml"), depth, limit))


def test_with_record_bounds_text_and_cdata_over_the_limit_become_stand_ins():
    data = (b"<d><r><m>" + b"a &amp; b " * 1000 + b"</m></r><r><m><![CDATA[" + b"<x>" * 1000 + b"]]></m></r>"
            b"<r><m>ok</m></r></d>")
    root = ElementTree.fromstring(_records(data, 2, 1000))
    assert [(r[0].text, [(e.tag, e.attrib) for e in r.iter() if TOO_LARGE in e.attrib]) for r in root] == [
        (None, [(TOO_LARGE, {TOO_LARGE: "10014"})]),  # the record's whole size, start tag to end tag
        (None, [(TOO_LARGE, {TOO_LARGE: "3026"})]),
        ("ok", [])]
    # without record bounds, a run of text or a CDATA section still stands alone, in bounded memory
    pieces = list(bounded_pieces(io.BytesIO(data), 1000, "test.xml"))
    assert b'<?sm-too-large text 10000 1?>' in pieces and b'<?sm-too-large cdata 3012 1?>' in pieces


def test_a_record_of_many_small_parts_is_cut_at_the_limit_and_its_open_elements_closed():
    data = b"<d><r a='1'><m>" + b"".join(b"<p>%d</p>" % n for n in range(1000)) + b"</m><n/></r><r>ok</r></d>"
    out = _records(data, 2, 500)
    assert len(out) < 1000
    root = ElementTree.fromstring(out)  # still well-formed: <m> was closed before the stand-in
    first = root[0]
    assert first.attrib == {"a": "1"} and first[-1].attrib == {TOO_LARGE: str(len(data) - len(b"<d><r>ok</r></d>"))}
    assert root[1].text == "ok" and len(list(first.iter("p"))) < 100


def test_a_file_that_writes_the_stand_in_attribute_itself_is_not_a_crash(tmp_path):
    from importers.xmlutil import too_large

    assert too_large(ElementTree.fromstring(f'<r><x {TOO_LARGE}="lots"/></r>')) == 0


def _random_element(rng, depth=0):
    if depth > 3 or rng.random() < 0.3:
        return rng.choice([b"t" * rng.randint(0, 50), b"&amp;x", b"<![CDATA[<" + b"c" * rng.randint(0, 60) + b"]]>",
                           b"<!-- c -->", b"<e a='>' b=\"x\"/>"])
    name = rng.choice([b"a", b"bc", b"long"])
    children = b"".join(_random_element(rng, depth + 1) for _ in range(rng.randint(0, 4)))
    return b"<%s k='%s'>%s</%s>" % (name, b"v" * rng.randint(0, 30), children, name)


def test_random_records_come_out_well_formed_each_whole_or_marked_exactly_when_over_the_limit():
    import random

    rng = random.Random(12)
    for _ in range(500):
        records = [b"<r>" + b"".join(_random_element(rng) for _ in range(rng.randint(0, 5))) + b"</r>"
                   for _ in range(rng.randint(1, 4))]
        limit = rng.choice([10, 40, 100, 400])
        root = ElementTree.fromstring(_records(b"<d>" + b"".join(records) + b"</d>", 2, limit))
        assert len(root) == len(records)
        for got, raw in zip(root, records):
            marked = any(TOO_LARGE in e.attrib for e in got.iter())
            assert marked == (len(raw) > limit), (raw, limit)
            if not marked:
                assert ElementTree.tostring(got) == ElementTree.tostring(ElementTree.fromstring(raw))


def test_a_file_that_writes_the_markup_stand_in_itself_is_not_a_crash():
    from importers.xmlutil import DroppedMarkup

    data = b"<d><?sm-too-large lots of bytes?><?sm-too-large comment 5 2?><r/></d>"
    events = list(iterparse(io.BytesIO(data), events=("end",), max_markup_bytes=1000))
    assert [e for action, e in events if action == "dropped"] == [DroppedMarkup("comment", 5, 2)]
    assert [e.tag for action, e in events if action == "end"] == ["r", "d"]
