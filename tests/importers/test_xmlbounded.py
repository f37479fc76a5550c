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
