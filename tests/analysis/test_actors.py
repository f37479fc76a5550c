"""An actors file read as rows of the warehouse's actors table (`run --actors`, `warehouse load-actors`):
every line a row, or an error naming the line before anything is written."""
import json

import pytest

from analysis.actors import MAX_NAME_LENGTH, names_of_rows, read_actor_rows


def _file(tmp_path, *records) -> object:
    path = tmp_path / "actors.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_each_record_is_a_row_with_an_empty_site_for_every_site_and_names_shortened(tmp_path):
    rows = read_actor_rows(_file(tmp_path, {"site": "s", "actor_id": 7, "name": " Ada ", "signal": 12},
                                 {"actor_id": "b", "name": "x" * 500}, "", {"actor_id": "c", "name": "  "}), 5)
    assert rows == [
        {"site": "s", "actor_id": "7", "name": "Ada", "signal": 12.0, "loaded_at": 5},
        {"site": "", "actor_id": "b", "name": "x" * (MAX_NAME_LENGTH - 1) + "…", "signal": None, "loaded_at": 5},
        {"site": "", "actor_id": "c", "name": None, "signal": None, "loaded_at": 5}]
    names = names_of_rows((r["site"], r["actor_id"], r["name"]) for r in rows)
    assert names.name("any-site", "b").startswith("xxx") and names.name("s", "7") == "Ada"
    assert names.name("other", "7") is None and not names.knows_id("c")


@pytest.mark.parametrize("record, why", [
    ({"name": "no id"}, "actor_id"),
    ({"actor_id": "a", "signal": "high"}, "not a finite number"),
    ({"actor_id": "a", "signal": "100"}, "'a': signal \"100\" is not a finite number"),
    ({"actor_id": "a", "signal": float("nan")}, "not a finite number"),
    ({"actor_id": "a", "signal": True}, "not a finite number"),
    ({"actor_id": "a" * 513}, "actor_id longer than 512"),
    ({"actor_id": "a", "site": "s" * 513}, "site longer than 512"),
    ({"actor_id": "  ", "name": "blank"}, "a blank actor_id"),
    ({"actor_id": "9", "name": 123}, "name must be a string or null, got int"),
    ("[1, 2]", "want a JSON object"),
    ("{not json", "want a JSON object"),
])
def test_a_bad_line_is_an_error_naming_it(tmp_path, record, why):
    path = _file(tmp_path, {"actor_id": "fine"}, record)
    with pytest.raises(ValueError, match=f"{path}:2: .*") as error:
        read_actor_rows(path, 0)
    assert why in str(error.value)


def test_a_file_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "actors.jsonl"
    path.write_bytes(b'{"actor_id": "a"}\n\xff\xfe{"site": "q"}\n')
    with pytest.raises(ValueError, match=f"{path}:2: not UTF-8 text"):
        read_actor_rows(path, 0)
