"""The command line's logging (pipelines/logs.py): Beam's worker noise goes to the log file, ours to
the console."""
import io
import sys


def test_a_traceback_printed_by_beams_worker_stays_off_the_console_and_other_text_passes():
    # Beam's sdk_worker._execute prints a failed instruction's traceback to stderr before logging it;
    # a drained stream met one ("Bundle is not in a finalizable state") after every row was written
    from pipelines.logs import _QuietBeamWorkerTracebacks

    console = io.StringIO()
    quiet = _QuietBeamWorkerTracebacks(console)
    worker_traceback = ('Traceback (most recent call last):\n  File "/x/site-packages/apache_beam/runners/worker/'
                        'sdk_worker.py", line 310, in _execute\nRuntimeError: Bundle is not in a finalizable state\n')
    print(worker_traceback, file=quiet)
    print("Run summary", file=quiet)
    print('Traceback (most recent call last):\n  File "/x/pipelines/cli.py", line 1\nValueError: ours', file=quiet)
    assert console.getvalue() == ('Run summary\nTraceback (most recent call last):\n  File "/x/pipelines/cli.py", '
                                  'line 1\nValueError: ours\n')


def test_an_uncaught_error_in_a_beam_worker_thread_goes_to_the_log_file_and_others_to_stderr(tmp_path, monkeypatch,
                                                                                              capfd):
    # `demo --live`, Ctrl-C: the stream drained and balanced, then printed "Exception in thread
    # read_state: Traceback ... grpc ... StatusCode.UNAVAILABLE" (Beam's worker thread reading state
    # from Prism, which the run had ended)
    import threading

    from pipelines.logs import configure_logging

    monkeypatch.setenv("SOCIAL_MENTORS_LOG", str(tmp_path / "cli.log"))
    monkeypatch.setattr(threading, "excepthook", threading.__excepthook__)  # Python's own, not pytest's; restored after
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    configure_logging(verbose=False)
    beam_code = compile("def pull_responses():\n    raise RuntimeError('Stream removed (Connection reset by peer)')\n",
                        "/x/site-packages/apache_beam/runners/worker/sdk_worker.py", "exec")
    namespace: dict = {}
    exec(beam_code, namespace)

    def ours():
        raise ValueError("ours")

    for target, name in ((namespace["pull_responses"], "read_state"), (ours, "our-thread")):
        thread = threading.Thread(target=target, name=name)
        thread.start()
        thread.join()
    err = capfd.readouterr().err
    assert "read_state" not in err and "Stream removed" not in err, err
    assert "Exception in thread our-thread" in err and "ValueError: ours" in err
    logged = (tmp_path / "cli.log").read_text()
    assert "read_state" in logged and "Stream removed (Connection reset by peer)" in logged
