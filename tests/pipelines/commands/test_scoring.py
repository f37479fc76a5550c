"""`run` from the command line: its input handling (files named twice, per-record limits)."""
import json
import re

import pytest

from helpers import record
from pipelines.cli import main
from warehouse import open_warehouse


def dead_letters(warehouse_path):
    columns, rows = open_warehouse(warehouse_path).export("dead_letters")
    return [dict(zip(columns, row)) for row in rows]


def test_a_file_named_twice_is_read_once_and_the_run_says_so(tmp_path, warehouse_path, capsys):
    # Issue 9, item 8: `--input f --input f` counted 10 dead letters while the table held 5.
    events = tmp_path / "events.jsonl"
    lines = [record(event_id=f"p{n}", kind="POST", item_id=f"p{n}", parent_id=None) for n in range(5)]
    lines += [record(event_id=f"bad{n}", actor_id=None) for n in range(5)]
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["run", "--input", str(events), "--input", str(tmp_path / "*.jsonl"), "--input", str(events),
                 "--warehouse", warehouse_path]) == 0
    captured = capsys.readouterr()
    assert f"note: {events} is named by 3 --input patterns" in captured.err and "it is read once" in captured.err
    assert re.search(r"records in\s+10\b", captured.out) and re.search(r"dead-lettered\s+5\b", captured.out), captured.out
    assert "balanced" in captured.out and "NOT balanced" not in captured.out
    assert len(dead_letters(warehouse_path)) == 5


def test_record_and_id_limits_are_options_of_run(tmp_path, warehouse_path, capsys):
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(record(event_id="long-line", note="x" * 300)) + "\n"
                      + json.dumps(record(event_id="long-id", actor_id="a" * 40)) + "\n"
                      + json.dumps(record(event_id="p", kind="POST", item_id="p", parent_id=None)) + "\n")
    assert main(["run", "--input", str(events), "--max-record-bytes", "300", "--max-id-length", "32",
                 "--warehouse", warehouse_path]) == 0
    kinds = {(d["origin"], d["error_kind"]) for d in dead_letters(warehouse_path)}
    assert kinds == {(f"{events}:1", "RECORD_TOO_LARGE"), (f"{events}:2", "FIELD_TOO_LONG")}
    for bad in (["--max-record-bytes", "0"], ["--max-record-bytes", "1MB"], ["--max-id-length", "-3"]):
        with pytest.raises(SystemExit):
            main(["run", "--input", str(events), *bad, "--warehouse", warehouse_path])
    assert "is not a size" in capsys.readouterr().err


def _conversation(path):
    """A post of A's with comments of R and B spread over three days of one week, and A's answers."""
    from helpers import DAY_MS, HOUR_MS, T0

    post = record(event_id="p", kind="POST", item_id="p", parent_id=None, actor_id="A")
    lines = [post]
    for day, reader in ((0, "R"), (1, "B"), (2, "R")):
        at = T0 + day * DAY_MS + HOUR_MS
        lines.append(record(event_id=f"c{day}", item_id=f"c{day}", parent_id="p", actor_id=reader, created_at=at))
        lines.append(record(event_id=f"r{day}", kind="REPLY", item_id=f"r{day}", parent_id=f"c{day}", actor_id="A",
                            created_at=at + HOUR_MS))
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def test_a_run_refuses_windows_of_another_length_than_the_warehouse_holds(tmp_path, warehouse_path, capsys):
    # Outside tester: weekly, then --window 1d, then --window 3d into one warehouse each ended
    # "FINISHED, balanced" while pair_scores_latest mixed the three lengths and strengths grew.
    events = _conversation(tmp_path / "c.jsonl")
    assert main(["run", "--input", events, "--warehouse", warehouse_path]) == 0
    rows = open_warehouse(warehouse_path).count("pair_scores")
    capsys.readouterr()
    for window in ("1d", "3d"):
        assert main(["run", "--input", events, "--warehouse", warehouse_path, "--window", window]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
        assert f"--window {window}" in err and "7d" in err and "another --warehouse" in err, err
        assert "Scoring" not in err  # refused before the pipeline started
    assert open_warehouse(warehouse_path).count("pair_scores") == rows
    assert main(["run", "--input", events, "--warehouse", warehouse_path, "--window", "7d"]) == 0  # same length
    # a Kafka stream is refused the same way, before it reads (nobody listens on the broker's port)
    argv = ["run", "--source", "kafka", "--bootstrap-servers", "127.0.0.1:9", "--topic", "t", "--streaming",
            "--kafka-timeout", "1s", "--warehouse", warehouse_path, "--window", "1d"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--window 1d" in err and "7d" in err, err
    # an empty warehouse takes any length
    assert main(["run", "--input", events, "--warehouse", str(tmp_path / "fresh.duckdb"), "--window", "3d"]) == 0


def test_a_bounded_run_takes_a_window_longer_than_the_default_dedupe_horizon(tmp_path, warehouse_path):
    # Outside tester: the README's `--window 30d` was refused on a file run, in seconds
    # ("--dedupe-horizon (1.2096e+06 s) must be at least ..."): a bounded run dedupes its whole input.
    events = _conversation(tmp_path / "c1.jsonl")
    assert main(["run", "--input", events, "--warehouse", warehouse_path, "--window", "30d"]) == 0


def test_a_stream_raises_a_default_dedupe_horizon_and_refuses_a_given_one_too_short(tmp_path, capsys):
    from pipelines.cli import parse
    from pipelines.commands.scoring import kafka_run_config

    stream = ["run", "--source", "kafka", "--bootstrap-servers", "127.0.0.1:9", "--topic", "t", "--streaming",
              "--warehouse", str(tmp_path / "w.duckdb"), "--window", "30d"]
    _, settings = kafka_run_config(parse(stream))
    assert settings.dedupe_horizon_s == 32 * 86400  # window + the default 2d allowed lateness
    assert "--dedupe-horizon 32d" in capsys.readouterr().err
    _, settings = kafka_run_config(parse(stream[:-1] + ["7d"]))  # short enough: the default stands, silently
    assert settings.dedupe_horizon_s == 14 * 86400 and "dedupe" not in capsys.readouterr().err
    assert main(stream + ["--dedupe-horizon", "14d"]) == 2
    err = capsys.readouterr().err
    assert "--dedupe-horizon (14d) must be at least --window + --allowed-lateness (32d)" in err, err


@pytest.mark.parametrize("mode", ["--until-end", "--streaming"])
def test_a_kafka_run_whose_broker_is_unreachable_leaves_no_warehouse_file(tmp_path, capsys, mode):
    # The DuckDB file used to be created (tables and all) before the Kafka check failed.
    from services.maven import free_port

    nobody = f"127.0.0.1:{free_port()}"  # a real port on this machine that nothing listens on
    warehouse = tmp_path / "new.duckdb"
    code = main(["run", "--source", "kafka", mode, "--bootstrap-servers", nobody, "--topic", "t",
                 "--kafka-timeout", "3s", "--warehouse", str(warehouse)])
    err = capsys.readouterr().err
    assert code == 2 and f"error: cannot reach Kafka at {nobody}" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a failed launch left files behind"
