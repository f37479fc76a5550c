"""Beam's Flink job server, resolved from Maven Central and run as a process on 127.0.0.1."""
import socket

import pytest

from pipelines.cli import main
from services.flink_job_server import RUNNER_OVERRIDE_VARIABLE, FlinkJobServer, FlinkJobServerError


def test_the_job_server_answers_on_loopback_while_open_and_is_gone_after(tmp_path):
    with FlinkJobServer(tmp_path) as server:
        host, port = server.endpoint.split(":")
        assert host == "127.0.0.1"
        socket.create_connection((host, int(port)), timeout=5).close()
    assert server.process.poll() is not None
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=2).close()


def test_a_runner_maven_cannot_resolve_fails_the_run_with_maven_s_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SOCIAL_MENTORS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(RUNNER_OVERRIDE_VARIABLE, "org.apache.beam:beam-runners-flink-1.19:0.0.1-not-published")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FlinkJobServerError, match="Maven could not resolve Beam's Flink job server"):
        FlinkJobServer(tmp_path).start()
    events = tmp_path / "events.jsonl"
    assert main(["generate", "--out", str(events), "--seed", "1"]) == 0
    assert main(["run", "--input", str(events), "--warehouse", str(tmp_path / "w.duckdb"), "--runner", "FlinkRunner"]) == 2
    assert "error: Maven could not resolve Beam's Flink job server" in capsys.readouterr().err


def test_a_job_server_whose_chosen_port_is_taken_before_it_binds_it_starts_on_another(tmp_path, monkeypatch, capsys):
    from services import maven

    # An outgoing connection holds a port the same way: bound, not listening, refusing connections.
    holder = socket.socket()
    holder.bind(("127.0.0.1", maven.free_port()))
    taken = holder.getsockname()[1]
    chosen = iter([taken])
    real_free_port = maven.free_port
    monkeypatch.setattr(maven, "free_port", lambda: next(chosen, None) or real_free_port())
    try:
        with FlinkJobServer(tmp_path) as server:
            assert server.port != taken
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    finally:
        holder.close()
    assert "starting it again (2 of 3)" in capsys.readouterr().err
    assert server.process.poll() is not None


def test_a_job_server_port_the_operator_chose_is_not_changed_when_taken(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        with pytest.raises(FlinkJobServerError, match="exited with code"):
            FlinkJobServer(tmp_path, port=holder.getsockname()[1]).start()
