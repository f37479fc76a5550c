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


@pytest.mark.parametrize("data, what", [
    (b"<d><!-- " + b"x" * 5000 + b" --></d>", "markup of over 1,000 bytes at byte 3"),
    (b"<d>" + b"x" * 5000 + b"</d>", "text of over 1,000 bytes"),
])
def test_other_markup_or_text_over_the_limit_is_one_error_naming_the_file(data, what):
    with pytest.raises(ValueError, match=f"test.xml: {what}"):
        _pieces(data, 1000)


def test_a_file_cut_off_inside_an_over_long_tag_is_reported_malformed(tmp_path):
    path = tmp_path / "Posts.xml"
    path.write_bytes(b"<posts><row Id='1'/><row Body='" + b"x" * 5000)
    with pytest.raises(ValueError, match="Posts.xml: not well-formed XML"):
        list(iterparse(path, max_markup_bytes=1000))


def _records(data, depth, limit):
    from importers.xmlbounded import bounded_records, sized_pieces

    return b"".join(bounded_records(sized_pieces(io.BytesIO(data), limit, "test.xml", stand_ins=True), depth, limit))


def test_with_record_bounds_text_and_cdata_over_the_limit_become_stand_ins():
    data = (b"<d><r><m>" + b"a &amp; b " * 1000 + b"</m></r><r><m><![CDATA[" + b"<x>" * 1000 + b"]]></m></r>"
            b"<r><m>ok</m></r></d>")
    root = ElementTree.fromstring(_records(data, 2, 1000))
    assert [(r[0].text, [(e.tag, e.attrib) for e in r.iter() if TOO_LARGE in e.attrib]) for r in root] == [
        (None, [(TOO_LARGE, {TOO_LARGE: "10014"})]),  # the record's whole size, start tag to end tag
        (None, [(TOO_LARGE, {TOO_LARGE: "3026"})]),
        ("ok", [])]
    # without record bounds, a run of text or a CDATA section still stands alone, in bounded memory
    pieces = list(bounded_pieces(io.BytesIO(data), 1000, "test.xml", stand_ins=True))
    assert b'<sm-too-large sm-too-large="10000"/>' in pieces and b'<sm-too-large sm-too-large="3012"/>' in pieces


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
