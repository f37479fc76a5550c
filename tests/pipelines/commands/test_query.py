"""`--as-of` as an analyst types it (outside probe of issue 10: an empty value was read as "the
newest data" without a word, and an ISO date past the range was told it might be epoch seconds)."""
import pytest

from pipelines.cli import main
from pipelines.commands.query import parse_as_of


def test_an_empty_as_of_is_refused_naming_what_to_give():
    with pytest.raises(ValueError, match="--as-of is empty"):
        parse_as_of("")
    with pytest.raises(ValueError, match="--as-of is empty"):
        parse_as_of("   ")
    assert parse_as_of(None) is None  # left out: the newest data


def test_an_empty_as_of_on_the_command_line_exits_2(tmp_path, capsys):
    assert main(["query", "top", "--as-of", "", "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert "--as-of is empty" in capsys.readouterr().err


def test_the_range_is_said_in_dates_and_the_epoch_hint_only_for_numbers():
    assert parse_as_of("2099-12-31T23:59:59Z").year == 2099
    with pytest.raises(ValueError) as iso:
        parse_as_of("2100-12-31T23:59:59Z")
    assert "1990-01-01..2099-12-31" in str(iso.value) and "seconds" not in str(iso.value)
    with pytest.raises(ValueError) as seconds:
        parse_as_of(1_700_000_000)  # epoch seconds sent as millis: 1970
    assert "were seconds or microseconds sent?" in str(seconds.value)
