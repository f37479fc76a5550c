"""The standalone Flink session cluster (a JobManager and a TaskManager process on 127.0.0.1)."""
import socket

from services.flink_cluster import FlinkSessionCluster


def test_a_cluster_whose_chosen_port_is_taken_before_it_binds_it_starts_on_another(tmp_path, capsys):
    # What failed a CI run: the REST port was free when chosen and taken by the time the JobManager
    # bound it, and the JobManager exited with code 1 (a BindException in its log).
    cluster = FlinkSessionCluster(tmp_path / "cluster", slots=1)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", cluster.rest_port))
        holder.listen()
        with cluster:
            assert cluster.rest_port != holder.getsockname()[1]
            assert (cluster.overview() or {}).get("taskmanagers") == 1
        assert "a port was taken before the service could bind it; starting it again (2 of 3)" in capsys.readouterr().err
    assert "BindException" in (tmp_path / "cluster" / "jobmanager.log").read_text()
    assert cluster.job_manager.poll() is not None and cluster.task_manager.poll() is not None
