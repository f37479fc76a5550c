"""Import targets never destroy anything: not an input, not an existing file (without --force), not
what a symlink points at; a failed import leaves nothing half-written."""
import os

import pytest

from importers.core import Converted, event, run_import
from services.outfile import check_target, replacing_all
from pipelines.cli import main
import datetime as dt

T = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
POSTS = '<posts><row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="7" /></posts>'
REDDIT = '{"id": "s1", "author": "op", "created_utc": 1420452000, "subreddit": "rust"}\n'


def test_importing_onto_its_own_input_is_refused_and_the_input_survives(tmp_path, capsys):
    dump = tmp_path / "dump.ndjson"
    dump.write_text(REDDIT)
    for force in ([], ["--force"]):
        assert main(["import", "reddit", str(dump), "--to", f"jsonl:{dump}", *force]) == 2
        err = capsys.readouterr().err
        assert "is one of the inputs" in err and len(err.strip().splitlines()) == 1
    assert dump.read_text() == REDDIT


def test_a_target_inside_an_input_folder_is_refused(tmp_path, capsys):
    (tmp_path / "se").mkdir()
    (tmp_path / "se" / "Posts.xml").write_text(POSTS)
    assert main(["import", "stackexchange", str(tmp_path / "se"), "--to", f"jsonl:{tmp_path / 'se' / 'Posts.xml'}"]) == 2
    assert main(["import", "stackexchange", str(tmp_path / "se"), "--to", f"jsonl:{tmp_path / 'se' / 'e.jsonl'}"]) == 2
    assert "inside the input folder" in capsys.readouterr().err
    assert (tmp_path / "se" / "Posts.xml").read_text() == POSTS


def test_an_existing_file_is_replaced_only_with_force(tmp_path, capsys):
    dump = tmp_path / "dump.ndjson"
    dump.write_text(REDDIT)
    out = tmp_path / "events.jsonl"
    out.write_text("precious\n")
    assert main(["import", "reddit", str(dump), "--to", f"jsonl:{out}"]) == 2
    assert "exists" in capsys.readouterr().err and out.read_text() == "precious\n"
    assert main(["import", "reddit", str(dump), "--to", f"jsonl:{out}", "--force"]) == 0
    assert '"item_id":"s1"' in out.read_text()


def test_a_symlink_at_the_target_is_never_followed(tmp_path, capsys):
    dump = tmp_path / "dump.ndjson"
    dump.write_text(REDDIT)
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch\n")
    link = tmp_path / "events.jsonl"
    link.symlink_to(victim)
    assert main(["import", "reddit", str(dump), "--to", f"jsonl:{link}"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert main(["import", "reddit", str(dump), "--to", f"jsonl:{link}", "--force"]) == 0
    assert victim.read_text() == "do not touch\n"  # --force replaced the link itself, not what it named
    assert not link.is_symlink() and '"item_id":"s1"' in link.read_text()
    dangling = tmp_path / "dangling.jsonl"
    dangling.symlink_to(tmp_path / "not-yet")
    assert main(["import", "reddit", str(dump), "--to", f"jsonl:{dangling}"]) == 2
    assert not (tmp_path / "not-yet").exists()


def test_a_failed_import_leaves_nothing_behind(tmp_path):
    def failing():
        yield event("POST", "s", "t", "p", "a", T)
        raise ValueError("the archive broke half way")

    out = tmp_path / "events.avro"
    with pytest.raises(ValueError, match="half way"):
        run_import(failing(), f"avro:{out}", progress=None)
    assert os.listdir(tmp_path) == []
    out.write_bytes(b"old")
    with pytest.raises(ValueError, match="half way"):
        run_import(failing(), f"avro:{out}", progress=None, force=True)
    assert os.listdir(tmp_path) == ["events.avro"] and out.read_bytes() == b"old"


def test_the_written_file_follows_the_umask(tmp_path):
    out = tmp_path / "events.jsonl"
    run_import(iter([event("POST", "s", "t", "p", "a", T)]), f"jsonl:{out}", progress=None)
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_check_target_refuses_a_folder(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        check_target(tmp_path, [], force=True)


def test_several_outputs_are_written_together_or_not_at_all(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    with pytest.raises(RuntimeError, match="broke"):
        with replacing_all([first, second], force=False) as (a, b):
            a.write(b"a\n")
            raise RuntimeError("broke before the second was done")
    assert os.listdir(tmp_path) == []
    with replacing_all([first, second], force=False) as (a, b):
        a.write(b"a\n")
        b.write(b"b\n")
    assert first.read_bytes() == b"a\n" and second.read_bytes() == b"b\n"


def test_check_target_refuses_another_output_of_the_same_command(tmp_path):
    with pytest.raises(ValueError, match="another output"):
        check_target(tmp_path / "x.jsonl", [], force=True, others=[tmp_path / "sub" / ".." / "x.jsonl"])
    check_target(tmp_path / "x.jsonl", [], force=False, others=[tmp_path / "y.jsonl"])
