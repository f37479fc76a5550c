"""Kafka over TLS and SASL, as an operator runs it: the CLI in its own process against a broker with a
SASL_SSL listener (SCRAM-SHA-256/512, PLAIN) on certificates the test made. Secrets come from an
environment variable or a file, and never show in the output, logs or files of a run."""
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from pipelines.kafka_runs import KafkaSourceSettings, plan_read
from producers.synthetic import CommunitySpec
from transforms.kafka_security import KafkaSecurity, client_kwargs
from warehouse import open_warehouse

PASSWORD_ENV = "MENTORS_TEST_KAFKA_PASSWORD"
REPO = Path(__file__).resolve().parents[2]


def cli(args, cwd, password=None, timeout=600, extra_env=None, verbose=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIAL_MENTORS_KAFKA_")}
    env["PYTHONPATH"] = str(REPO)
    if password is not None:
        env[PASSWORD_ENV] = password
    env.update(extra_env or {})
    # --verbose shows every library log line (where a leaked secret would be), and tracebacks: the
    # one-line error tests run without it.
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *(["--verbose"] if verbose else []), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def tls_args(broker, mechanism="SCRAM-SHA-512"):
    return ["--bootstrap-servers", broker.sasl_ssl_bootstrap, "--security-protocol", "SASL_SSL",
            "--sasl-mechanism", mechanism, "--sasl-username", "alice", "--ssl-cafile", str(broker.tls.ca_file)]


def secured(broker):
    return KafkaSecurity(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_username="alice",
                         sasl_password_env=PASSWORD_ENV, ssl_cafile=str(broker.tls.ca_file)).validate()


def offsets(broker, topic, group, monkeypatch):
    """(committed, end) offsets of the group, read over SASL_SSL."""
    monkeypatch.setenv(PASSWORD_ENV, broker.secured.users["alice"])
    consumer = KafkaConsumer(bootstrap_servers=broker.sasl_ssl_bootstrap, group_id=group, enable_auto_commit=False,
                             **client_kwargs(secured(broker), "consumer"))
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        ends = consumer.end_offsets(tps)
        return sum(consumer.committed(tp) or 0 for tp in tps), sum(ends.values())
    finally:
        consumer.close()


def assert_secret_nowhere(secret, texts, folder, skip=()):
    """The secret is in none of the texts, nor in any file under folder (binary files too)."""
    for text in texts:
        assert secret not in text
    for path in Path(folder).rglob("*"):
        if path.is_file() and path not in skip:
            assert secret.encode() not in path.read_bytes(), path


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_produce_and_a_bounded_run_over_sasl_ssl_commit_offsets_and_never_show_the_password(
        secured_kafka_broker, topic, tmp_path, monkeypatch):
    broker, password = secured_kafka_broker, secured_kafka_broker.secured.users["alice"]
    password_file = tmp_path / "kafka.password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    # produce: SCRAM-SHA-256, the password from a file
    produced = cli(["produce", *tls_args(broker, "SCRAM-SHA-256"), "--sasl-password-file", str(password_file),
                    "--topic", topic, "--scale", "0.05"], tmp_path)
    assert produced.returncode == 0, produced.stderr[-3000:]
    assert "failed 0" in produced.stdout
    # run: SCRAM-SHA-512 chosen in a --kafka-config file (passed through to the launcher's and the
    # workers' consumers alike), the password from an environment variable
    config = tmp_path / "client.properties"
    config.write_text("security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nclient.id=mentors-secured\n")
    warehouse = str(tmp_path / "secured.duckdb")
    run = cli(["run", "--source", "kafka", "--until-end", "--bootstrap-servers", broker.sasl_ssl_bootstrap,
               "--kafka-config", str(config), "--sasl-username", "alice", "--sasl-password-env", PASSWORD_ENV,
               "--ssl-cafile", str(broker.tls.ca_file), "--topic", topic, "--group-id", "secured",
               "--warehouse", warehouse], tmp_path, password)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "SASL_SSL (SCRAM-SHA-512, user alice)" in run.stderr
    assert open_warehouse(warehouse).export("pair_scores")[1]
    committed, end = offsets(broker, topic, "secured", monkeypatch)
    assert committed == end > 0  # the offset commit went over SASL_SSL too
    assert_secret_nowhere(password, [produced.stdout, produced.stderr, run.stdout, run.stderr], tmp_path,
                          skip=(password_file,))
    assert_secret_nowhere(password, [], broker.state_dir, skip=(broker.state_dir / "server.properties",))


def test_a_wrong_password_fails_at_once_with_one_line_and_a_non_zero_exit(secured_kafka_broker, topic, tmp_path):
    broker = secured_kafka_broker
    for command in (["produce", "--scale", "0.02"], ["run", "--source", "kafka", "--until-end",
                                                      "--warehouse", str(tmp_path / "w.duckdb")]):
        done = cli([*command, *tls_args(broker), "--sasl-password-env", PASSWORD_ENV, "--topic", topic], tmp_path,
                   password="wrong-password-123", timeout=120, verbose=False)
        assert done.returncode == 2, done.stderr[-3000:]
        (line,) = error_lines(done.stderr)  # the preflight's line, not a 30 s bootstrap timeout
        assert "SASL SCRAM-SHA-512 login of user alice" in line and "wrong user name or password" in line
        assert "Traceback" not in done.stderr and "wrong-password-123" not in done.stderr + done.stdout


def test_a_missing_password_or_a_plaintext_client_is_refused_with_one_line(secured_kafka_broker, topic, tmp_path):
    broker = secured_kafka_broker
    missing = cli(["produce", *tls_args(broker), "--sasl-password-env", "NO_SUCH_VARIABLE_SET", "--topic", topic],
                  tmp_path, timeout=120)
    assert missing.returncode == 2 and error_lines(missing.stderr) == [
        "error: the SASL password is missing: the environment variable NO_SUCH_VARIABLE_SET is not set "
        "(give --sasl-password-env NAME or --sasl-password-file PATH)"]
    plain = cli(["produce", "--bootstrap-servers", broker.sasl_ssl_bootstrap, "--topic", topic], tmp_path, timeout=120)
    assert plain.returncode == 2 and "--security-protocol" in error_lines(plain.stderr)[0]


def test_there_is_no_password_option_and_the_environment_gives_the_defaults(secured_kafka_broker, topic, tmp_path):
    broker, password = secured_kafka_broker, secured_kafka_broker.secured.users["alice"]
    refused = cli(["produce", "--sasl-password", password, "--topic", topic], tmp_path, timeout=120)
    # named without its value (the secret), with the options that do exist
    assert refused.returncode == 2 and "unknown option --sasl-password (did you mean --sasl-password-env or " \
        "--sasl-password-file?)" in refused.stderr and password not in refused.stderr, refused.stderr
    defaults = {"SOCIAL_MENTORS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "SOCIAL_MENTORS_KAFKA_SASL_MECHANISM": "PLAIN",
                "SOCIAL_MENTORS_KAFKA_SASL_USERNAME": "alice", "SOCIAL_MENTORS_KAFKA_SASL_PASSWORD": password,
                "SOCIAL_MENTORS_KAFKA_SSL_CAFILE": str(broker.tls.ca_file)}
    done = cli(["produce", "--bootstrap-servers", broker.sasl_ssl_bootstrap, "--topic", topic, "--scale", "0.02"],
               tmp_path, extra_env=defaults, timeout=300)
    assert done.returncode == 0 and "failed 0" in done.stdout, done.stderr[-3000:]
    assert password not in done.stdout + done.stderr


def test_the_plan_that_travels_to_the_workers_names_the_secret_but_does_not_hold_it(secured_kafka_broker, topic,
                                                                                  tmp_path, monkeypatch):
    broker, password = secured_kafka_broker, secured_kafka_broker.secured.users["alice"]
    monkeypatch.setenv(PASSWORD_ENV, password)
    from producers.kafka_producer import EventPublisher
    from producers.synthetic import generate_community

    with EventPublisher(broker.sasl_ssl_bootstrap, topic, security=secured(broker)) as publisher:
        publisher.publish_all(generate_community(CommunitySpec(seed=3).scaled(0.02)).events[:20], progress=None)
    source = KafkaSourceSettings(broker.sasl_ssl_bootstrap, topic, until_end=True, security=secured(broker))
    plan = plan_read(source)
    assert plan.plans and all(p.security == secured(broker) for p in plan.plans)
    shipped = pickle.dumps(plan.plans)
    assert password.encode() not in shipped and PASSWORD_ENV.encode() in shipped


# --- streaming over SASL_SSL, on Prism ------------------------------------------------------------

@pytest.mark.slow
def test_a_streaming_run_reads_and_commits_over_sasl_ssl(secured_kafka_broker, topic, tmp_path, monkeypatch,
                                                        prism_binary):
    broker, password = secured_kafka_broker, secured_kafka_broker.secured.users["alice"]
    warehouse = str(tmp_path / "stream.duckdb")
    produced = cli(["produce", *tls_args(broker), "--sasl-password-env", PASSWORD_ENV, "--topic", topic,
                    "--scale", "0.05"], tmp_path, password)
    assert produced.returncode == 0, produced.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIAL_MENTORS_KAFKA_")}
    env.update(PYTHONPATH=str(REPO), **{PASSWORD_ENV: password})
    log_path = tmp_path / "streaming.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "--verbose", "run", "--source", "kafka", "--streaming",
             *tls_args(broker), "--sasl-password-env", PASSWORD_ENV, "--topic", topic, "--group-id", "streamer",
             "--warehouse", warehouse, "--idle-timeout", "2s", "--early-firing", "1s"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        rows = []
        while time.monotonic() < deadline and not rows:
            assert process.poll() is None, log_path.read_text()[-4000:]
            try:
                rows = open_warehouse(warehouse).export("pair_scores")[1]
            except Exception:
                rows = []
            time.sleep(2)
        assert rows, log_path.read_text()[-4000:]
        committed = 0
        while time.monotonic() < deadline and not committed:  # progress commits from the workers' consumer
            committed = offsets(broker, topic, "streamer", monkeypatch)[0]
            time.sleep(1)
        assert committed > 0
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    output = log_path.read_text()
    assert "Run summary" in output
    assert_secret_nowhere(password, [produced.stdout, produced.stderr], tmp_path)


def test_a_wrong_bootstrap_address_is_one_line_not_a_thirty_second_retry(tmp_path):
    from services.maven import free_port

    nobody = f"127.0.0.1:{free_port()}"
    done = cli(["produce", "--bootstrap-servers", nobody], tmp_path, timeout=120, verbose=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert error_lines(done.stderr) == [
        f"error: nothing listens at {nobody}: is the broker running? (check --bootstrap-servers)"]
    # A run waits for a broker that is not there (yet) up to --kafka-timeout, then says so in one line.
    done = cli(["run", "--source", "kafka", "--until-end", "--bootstrap-servers", nobody, "--kafka-timeout", "5s"],
               tmp_path, timeout=120, verbose=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert error_lines(done.stderr) == [
        f"error: cannot reach Kafka at {nobody} for 5 s: is the broker running? "
        "(check --bootstrap-servers; --kafka-timeout sets how long to wait)"]
