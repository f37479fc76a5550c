"""`import stackexchange --actors-out FILE` is as safe as `--to`: no existing file replaced without
--force, no symlink followed, never an input, never the --to file, and a failed import leaves
neither file."""
import os

import pytest

from pipelines.cli import main

POSTS = '<posts><row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00.000" OwnerUserId="7" /></posts>'
USERS = '<users><row Id="7" Reputation="101" DisplayName="Asker" /></users>'


@pytest.fixture
def base(tmp_path):
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "Posts.xml").write_text(POSTS)
    (folder / "Users.xml").write_text(USERS)
    return folder


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_an_existing_actors_file_is_replaced_only_with_force(base, tmp_path, capsys):
    actors, events = tmp_path / "act.jsonl", tmp_path / "z1.jsonl"
    actors.write_text("precious\n")
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{events}", "--actors-out", str(actors)]) == 2
    assert "exists; pass --force" in one_error_line(capsys)
    assert actors.read_text() == "precious\n" and not events.exists()
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{events}", "--actors-out", str(actors),
                 "--force"]) == 0
    assert '"Asker"' in actors.read_text()


def test_a_symlink_at_actors_out_is_never_followed(base, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch\n")
    link = tmp_path / "act.jsonl"
    link.symlink_to(victim)
    events = tmp_path / "z1.jsonl"
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{events}", "--actors-out", str(link)]) == 2
    assert "symbolic link" in one_error_line(capsys) and not events.exists()
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{events}", "--actors-out", str(link),
                 "--force"]) == 0
    assert victim.read_text() == "do not touch\n"
    assert not link.is_symlink() and '"Asker"' in link.read_text()


def test_actors_out_onto_the_input_users_xml_is_refused_and_the_input_survives(base, tmp_path, capsys):
    for force in ([], ["--force"]):
        assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{tmp_path / 'z1.jsonl'}",
                     "--actors-out", str(base / "Users.xml"), *force]) == 2
        assert "input" in one_error_line(capsys)
    assert (base / "Users.xml").read_text() == USERS
    assert not (tmp_path / "z1.jsonl").exists()


def test_a_folder_at_actors_out_fails_and_leaves_no_events_file(base, tmp_path, capsys):
    (tmp_path / "odir").mkdir()
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{tmp_path / 'z1.jsonl'}",
                 "--actors-out", str(tmp_path / "odir")]) == 2
    assert "folder" in one_error_line(capsys)
    assert sorted(os.listdir(tmp_path)) == ["base", "odir"] and os.listdir(tmp_path / "odir") == []


def test_a_failed_import_leaves_no_actors_file(base, tmp_path, capsys):
    (base / "Posts.xml").write_text("<posts><row Id=")  # malformed: the import stops
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{tmp_path / 'z1.jsonl'}",
                 "--actors-out", str(tmp_path / "act.jsonl")]) == 2
    assert sorted(os.listdir(tmp_path)) == ["base"]


def test_the_events_and_the_actors_must_go_to_different_files(base, tmp_path, capsys):
    same = tmp_path / "same.jsonl"
    for force in ([], ["--force"]):
        assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{same}", "--actors-out", str(same),
                     *force]) == 2
        assert "another output" in one_error_line(capsys)
    assert not same.exists()
    # also through another spelling of the same path
    assert main(["import", "stackexchange", str(base), "--to", f"jsonl:{same}",
                 "--actors-out", str(tmp_path / "base" / ".." / "same.jsonl")]) == 2
    assert not same.exists()
