import json
import os

import pytest
from kafka import KafkaConsumer, TopicPartition

from producers.kafka_producer import EventPublisher, message_key
from schemas import wire
from helpers import T0, record
from services.kafka_broker import KafkaBroker, KafkaBrokerError


def test_the_broker_answers_and_reports_its_status(kafka_broker):
    assert kafka_broker.is_ready()
    status = kafka_broker.status()
    assert "running" in status and kafka_broker.bootstrap in status
    assert kafka_broker.start() == kafka_broker.bootstrap  # starting a running broker is a no-op


def _consume_all(bootstrap, topic, expected):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    got = []
    for _ in range(50):
        for records in consumer.poll(timeout_ms=200).values():
            got.extend(records)
        if len(got) >= expected:
            break
    consumer.close()
    return got


def test_events_are_keyed_by_thread_timestamped_by_event_time_and_decodable(kafka_broker, topic):
    records = [record(event_id=f"e{i}", item_id=f"c{i}", thread_id=f"t{i % 2}", created_at=T0 + i) for i in range(6)]
    with EventPublisher(kafka_broker.bootstrap, topic) as publisher:
        report = publisher.publish_all(records, progress=None)
    assert (report.sent, report.failed) == (6, 0)
    got = _consume_all(kafka_broker.bootstrap, topic, 6)
    assert sorted(m.key for m in got) == sorted(message_key(r) for r in records)
    assert sorted(m.timestamp for m in got) == [T0 + i for i in range(6)]
    by_partition = {}
    for message in got:  # one thread's events share a partition, in order
        by_partition.setdefault(message.key, set()).add(message.partition)
        assert wire.decode(message.value)["event_id"].startswith("e")
    assert all(len(p) == 1 for p in by_partition.values())


def test_a_record_s_url_reaches_the_topic(kafka_broker, topic):
    # An outside reading: publish sent the validated event, which has no url, so every url was lost.
    with EventPublisher(kafka_broker.bootstrap, topic) as publisher:
        publisher.publish_all([record(url="https://example.org/q/1#c2"), record(event_id="e2", item_id="c2")],
                              progress=None)
    urls = {wire.decode(m.value)["event_id"]: wire.decode(m.value)["url"] for m in _consume_all(kafka_broker.bootstrap, topic, 2)}
    assert urls == {"e1": "https://example.org/q/1#c2", "e2": None}


def test_confluent_framing_carries_the_schema_id(kafka_broker, topic):
    with EventPublisher(kafka_broker.bootstrap, topic, wire_format=wire.CONFLUENT, schema_id=42) as publisher:
        publisher.publish_all([record()], progress=None)
    (message,) = _consume_all(kafka_broker.bootstrap, topic, 1)
    assert message.value[:5] == b"\x00\x00\x00\x00\x2a"
    assert wire.decode(message.value, frozenset({42}))["event_id"] == "e1"


def test_invalid_records_are_counted_not_sent(kafka_broker, topic):
    with EventPublisher(kafka_broker.bootstrap, topic) as publisher:
        report = publisher.publish_all([record(), record(kind="LIKE"), record(actor_id="")], progress=None)
    assert (report.sent, report.failed) == (1, 2)
    assert report.reasons == {"UNKNOWN_KIND": 1, "MISSING_FIELD": 1}


# --- the secured listeners: SASL_SSL (SCRAM-SHA-256/512, PLAIN) and SSL with client certificates ----

import stat  # noqa: E402


from transforms.kafka_security import KafkaSecurity, client_kwargs  # noqa: E402


def scram(broker, mechanism="SCRAM-SHA-512", env="TEST_SECURED_KAFKA_PW"):
    return KafkaSecurity(security_protocol="SASL_SSL", sasl_mechanism=mechanism, sasl_username="alice",
                         sasl_password_env=env, ssl_cafile=str(broker.tls.ca_file)).validate()


def _consume_secured(bootstrap, topic, expected, security):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
                             **client_kwargs(security, "consumer"))
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
    got = []
    for _ in range(50):
        for records in consumer.poll(timeout_ms=200).values():
            got.extend(records)
        if len(got) >= expected:
            break
    consumer.close()
    return got


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
def test_the_secured_listener_takes_every_mechanism_over_tls(secured_kafka_broker, topic, mechanism, monkeypatch):
    broker = secured_kafka_broker
    monkeypatch.setenv("TEST_SECURED_KAFKA_PW", broker.secured.users["alice"])
    security = scram(broker, mechanism)
    with EventPublisher(broker.sasl_ssl_bootstrap, topic, security=security) as publisher:
        report = publisher.publish_all([record(event_id=f"e{i}", created_at=T0 + i) for i in range(3)], progress=None)
    assert (report.sent, report.failed) == (3, 0)
    got = _consume_secured(broker.sasl_ssl_bootstrap, topic, 3, security)
    assert sorted(m.timestamp for m in got) == [T0, T0 + 1, T0 + 2]


def test_the_ssl_listener_takes_a_client_certificate_with_an_encrypted_key(secured_kafka_broker, topic):
    broker = secured_kafka_broker
    tls = broker.tls
    security = KafkaSecurity(security_protocol="SSL", ssl_cafile=str(tls.ca_file), ssl_certfile=str(tls.client_certfile),
                             ssl_keyfile=str(tls.client_keyfile),
                             ssl_key_password_file=str(tls.client_key_password_file)).validate()
    with EventPublisher(broker.ssl_bootstrap, topic, security=security) as publisher:
        assert publisher.publish_all([record()], progress=None).sent == 1
    assert len(_consume_secured(broker.ssl_bootstrap, topic, 1, security)) == 1


def test_the_tls_material_and_the_broker_config_are_readable_by_the_owner_only(secured_kafka_broker):
    broker = secured_kafka_broker
    for path in [broker.tls.folder, *broker.tls.folder.iterdir(), broker.state_dir / "server.properties"]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    password = broker.secured.users["alice"]
    assert password not in repr(broker)
    for log in broker.state_dir.glob("*.log"):  # the broker logs neither the user's password nor its stores'
        text = log.read_text(errors="replace")
        assert password not in text and broker.tls.broker_keystore_password() not in text


def test_a_secured_broker_keeps_its_ports_across_restarts(secured_kafka_broker):
    from services.kafka_broker import KafkaBroker, SecuredListeners

    again = KafkaBroker(state_dir=secured_kafka_broker.state_dir, secured=SecuredListeners({"alice": "x"}))
    assert (again.sasl_ssl_bootstrap, again.ssl_bootstrap) == (secured_kafka_broker.sasl_ssl_bootstrap,
                                                               secured_kafka_broker.ssl_bootstrap)


def test_a_local_secured_broker_keeps_its_user_password_in_an_owner_only_file(tmp_path):
    from services.kafka_secured import local_secured_listeners

    first, path = local_secured_listeners(tmp_path, "mentors", 9093, 9094, password="from-the-environment")
    assert first.users == {"mentors": "from-the-environment"} and (first.sasl_ssl_port, first.ssl_port) == (9093, 9094)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().strip() == "from-the-environment"
    # the SCRAM credentials were made at the first format: a later start keeps that password
    again, _ = local_secured_listeners(tmp_path, "mentors", password="another")
    assert again.users == {"mentors": "from-the-environment"}
    generated, _ = local_secured_listeners(tmp_path / "other", "mentors")
    assert len(generated.users["mentors"]) >= 20 and "from-the-environment" not in repr(generated)


def test_kafka_start_mentions_maven_only_when_the_broker_is_not_cached(kafka_broker, tmp_path, capsys):
    # Issue 14: `kafka start` warned "first start resolves ... with Maven" on every start.
    from pipelines.cli import main
    from services.kafka_broker import jars_cached
    from services.maven import free_port

    assert jars_cached()  # the session's broker resolved them
    state = str(tmp_path / "kafka")
    assert main(["kafka", "start", "--port", str(free_port()), "--state-dir", state]) == 0
    try:
        captured = capsys.readouterr()
        assert "starting Kafka ..." in captured.err and "Maven" not in captured.err
    finally:
        assert main(["kafka", "stop", "--state-dir", state]) == 0


def test_kafka_start_on_a_running_broker_says_it_is_already_running(kafka_broker, capsys):
    # An outside probe: a second `kafka start` on the same state folder said "starting Kafka ..."
    # (exit 0) where nothing started.
    from pipelines.cli import main

    assert main(["kafka", "start", "--port", str(kafka_broker.port), "--state-dir", str(kafka_broker.state_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == kafka_broker.bootstrap
    assert "starting" not in captured.err and f"Kafka is already running at {kafka_broker.bootstrap}" in captured.err


def test_kafka_start_on_a_port_another_broker_listens_on_fails_and_starts_nothing(kafka_broker, tmp_path, capsys):
    # An outside probe: the other broker answered this one's readiness check, so `kafka start` said
    # 127.0.0.1:PORT and exit 0, and `kafka status` "ready", while the new broker died of its
    # BindException seconds later.
    from pipelines.cli import main

    state = str(tmp_path / "kafka")
    assert main(["kafka", "start", "--port", str(kafka_broker.port), "--state-dir", state]) == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert f"port {kafka_broker.port} on 127.0.0.1 is in use by another process" in line and "--port" in line, line
    assert KafkaBroker(state_dir=tmp_path / "kafka").pid() is None
    assert kafka_broker.is_ready()  # the other broker is untouched


def test_an_explicit_port_wins_over_the_one_a_stopped_broker_left(tmp_path):
    """`kafka start --port 19093` on a state folder a broker used with 19092 started on 19092 again,
    without a word: the user's port was dropped. A stopped broker's port is only a default."""
    (tmp_path / "broker.json").write_text(json.dumps({"port": 19092, "controller_port": 19100}))
    assert KafkaBroker(state_dir=tmp_path).port == 19092  # status, stop: the broker it left
    moved = KafkaBroker(state_dir=tmp_path, port=19093)
    assert (moved.port, moved.controller_port) == (19093, 19100)


def test_a_running_broker_is_not_moved_to_another_port(tmp_path):
    (tmp_path / "broker.json").write_text(json.dumps({"port": 19092, "controller_port": 19100}))
    (tmp_path / "broker.pid").write_text(str(os.getpid()))  # a live process stands for the broker
    with pytest.raises(KafkaBrokerError, match="already runs from .* on 127.0.0.1:19092.*stop it first"):
        KafkaBroker(state_dir=tmp_path, port=19093)
    assert KafkaBroker(state_dir=tmp_path, port=19092).port == 19092


@pytest.mark.parametrize("stored", [70000, 0, "9092", None])
def test_a_stored_port_that_is_not_a_port_is_one_clear_error(tmp_path, stored):
    """broker.json holding port 70000 made every `kafka start` fail with only Java's error in the log."""
    (tmp_path / "broker.json").write_text(json.dumps({"port": stored, "controller_port": 19100}))
    with pytest.raises(KafkaBrokerError, match="broker.json.*not a TCP port.*delete it"):
        KafkaBroker(state_dir=tmp_path)
