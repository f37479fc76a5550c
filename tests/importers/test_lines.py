import io

import pytest

from importers.lines import bounded_lines


def test_lines_up_to_the_limit_pass_longer_ones_are_none_and_the_count_goes_on():
    data = b"short\n" + b"x" * 20 + b"\n" + b"exactly8" + b"\n" + b"1234567\n" + b"tail"
    assert list(bounded_lines(io.BytesIO(data), limit=8)) == [
        (1, b"short\n"), (2, None), (3, None), (4, b"1234567\n"), (5, b"tail")]


def test_a_limit_below_one_byte_is_refused():
    with pytest.raises(ValueError, match="at least 1 byte"):
        list(bounded_lines(io.BytesIO(b"x"), limit=0))
