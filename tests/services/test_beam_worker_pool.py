"""Beam's SDK worker pool: started, answering, and stopped with every worker it started."""
import os
import time

import pytest

from services.beam_worker_pool import BeamWorkerPool
from services.flink_job_server import answers


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def _worker_pids(pool_pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _alive(int(entry)):
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pool_pid:
                        children.append(int(entry))
            except OSError:
                pass
    return children


def test_the_pool_answers_and_the_workers_it_started_stop_with_it(tmp_path):
    import grpc
    from apache_beam.portability.api import beam_fn_api_pb2, beam_fn_api_pb2_grpc, endpoints_pb2

    with BeamWorkerPool(tmp_path) as pool:
        assert answers(pool.port) and pool.address == f"localhost:{pool.port}"
        # a worker as a runner asks for one (its control endpoint answers nobody: it keeps trying)
        with grpc.insecure_channel(pool.address) as channel:
            beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolStub(channel).StartWorker(
                beam_fn_api_pb2.StartWorkerRequest(
                    worker_id="w1", control_endpoint=endpoints_pb2.ApiServiceDescriptor(url="localhost:1")))
        workers = _worker_pids(pool.process.pid)
        assert len(workers) == 1
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    assert pool.process.poll() is not None and not answers(pool.port)


def test_a_pool_that_cannot_start_says_where_its_log_is(tmp_path, monkeypatch):
    import services.beam_worker_pool as module

    monkeypatch.setattr(module.sys, "executable", "/bin/false")
    with pytest.raises(module.WorkerPoolError, match="worker-pool.log"):
        with BeamWorkerPool(tmp_path):
            pass
