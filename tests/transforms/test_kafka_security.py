"""Kafka client security settings: validation, secrets by reference, --kafka-config, kafka-python kwargs."""
import pickle

import pytest
from kafka import KafkaConsumer

from transforms.kafka_security import (DEFAULT_PASSWORD_ENV, KafkaSecurity, KafkaSecurityError, client_kwargs,
                                       read_kafka_config)

SECRET = "s3cret-Value-42"


def sasl(**fields):
    base = dict(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_username="alice",
                sasl_password_env="TEST_KAFKA_PW")
    base.update(fields)
    return KafkaSecurity(**base)


def test_no_settings_give_kafka_pythons_plain_connection():
    assert client_kwargs(None, "consumer") == {}
    assert client_kwargs(KafkaSecurity().validate(), "producer") == {}


def test_the_password_is_read_from_the_environment_when_a_client_is_made(monkeypatch):
    security = sasl().validate()
    monkeypatch.setenv("TEST_KAFKA_PW", SECRET)
    kwargs = client_kwargs(security, "consumer")
    assert kwargs == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                      "sasl_plain_username": "alice", "sasl_plain_password": SECRET}
    assert set(kwargs) <= set(KafkaConsumer.DEFAULT_CONFIG)


def test_the_password_from_a_file_loses_only_its_line_end(tmp_path):
    path = tmp_path / "pw"
    path.write_text(SECRET + " \n")
    kwargs = client_kwargs(sasl(sasl_password_env=None, sasl_password_file=str(path)).validate(), "admin")
    assert kwargs["sasl_plain_password"] == SECRET + " "


def test_the_default_password_variable_is_used_when_none_is_named(monkeypatch):
    monkeypatch.setenv(DEFAULT_PASSWORD_ENV, SECRET)
    assert client_kwargs(sasl(sasl_password_env=None).validate(), "producer")["sasl_plain_password"] == SECRET


def test_a_missing_password_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("TEST_KAFKA_PW", raising=False)
    with pytest.raises(KafkaSecurityError, match="environment variable TEST_KAFKA_PW is not set"):
        client_kwargs(sasl().validate(), "consumer")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(KafkaSecurityError, match="is empty"):
        client_kwargs(sasl(sasl_password_env=None, sasl_password_file=str(empty)).validate(), "consumer")


def test_settings_never_hold_the_secret_so_they_can_be_printed_and_pickled(monkeypatch, tmp_path):
    monkeypatch.setenv("TEST_KAFKA_PW", SECRET)
    security = sasl().validate()
    assert SECRET not in repr(security) and SECRET.encode() not in pickle.dumps(security)
    assert SECRET not in security.describe()


@pytest.mark.parametrize("fields, message", [
    (dict(security_protocol="SASL_SSL", sasl_username="u"), "needs --sasl-mechanism"),
    (dict(security_protocol="SASL_SSL", sasl_mechanism="PLAIN"), "needs --sasl-username"),
    (dict(security_protocol="SASL_SSL", sasl_mechanism="GSSAPI", sasl_username="u"), "not GSSAPI"),
    (dict(security_protocol="PLAINTEXT", sasl_username="u"), "--sasl-username need --security-protocol SASL"),
    (dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u", ssl_cafile="/x"),
     "--ssl-cafile need --security-protocol SSL"),
    (dict(security_protocol="SSL", ssl_cafile="/no/such/ca.pem"), "--ssl-cafile /no/such/ca.pem: no such file"),
    (dict(security_protocol="SSL", ssl_keyfile="/k"), "--ssl-keyfile needs --ssl-certfile"),
    (dict(security_protocol="TLS"), "choose one of"),
    (dict(security_protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_username="u", sasl_password_env="A",
          sasl_password_file="/p"), "one way"),
])
def test_settings_that_cannot_work_are_refused_with_the_option_to_fix(fields, message):
    with pytest.raises(KafkaSecurityError, match=message):
        KafkaSecurity(**fields).validate()


def test_plain_without_tls_and_a_readable_password_file_are_warned_about(tmp_path):
    path = tmp_path / "pw"
    path.write_text(SECRET)
    path.chmod(0o644)
    notes = KafkaSecurity(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u",
                          sasl_password_file=str(path)).validate().warnings()
    assert any("clear text" in n for n in notes) and any("chmod 600" in n for n in notes)


def test_a_kafka_config_file_passes_settings_through_by_role(tmp_path):
    path = tmp_path / "client.properties"
    path.write_text("# comment\nrequest.timeout.ms=45000\nssl_check_hostname = false\nlinger.ms=50\n"
                    "fetch.max.wait.ms: 100\nclient.id=mentors-test\n")
    extra = read_kafka_config(str(path))
    assert dict(extra) == {"request_timeout_ms": 45000, "ssl_check_hostname": False, "linger_ms": 50,
                           "fetch_max_wait_ms": 100, "client_id": "mentors-test"}
    security = KafkaSecurity(security_protocol="SSL", extra=extra).validate()
    consumer, producer = client_kwargs(security, "consumer"), client_kwargs(security, "producer")
    assert consumer["fetch_max_wait_ms"] == 100 and "linger_ms" not in consumer
    assert producer["linger_ms"] == 50 and "fetch_max_wait_ms" not in producer
    assert consumer["security_protocol"] == producer["security_protocol"] == "SSL"


def test_a_json_kafka_config_may_choose_the_protocol_and_options_win(tmp_path, monkeypatch):
    path = tmp_path / "client.json"
    path.write_text('{"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_plain_username": "bob"}')
    monkeypatch.setenv(DEFAULT_PASSWORD_ENV, SECRET)
    security = KafkaSecurity(sasl_mechanism="SCRAM-SHA-256", extra=read_kafka_config(str(path))).validate()
    kwargs = client_kwargs(security, "admin")
    assert (kwargs["security_protocol"], kwargs["sasl_mechanism"], kwargs["sasl_plain_username"]) == (
        "SASL_SSL", "SCRAM-SHA-256", "bob")


@pytest.mark.parametrize("line, message", [
    ("sasl.plain.password=hunter2", "is a secret"),
    ("ssl_password=hunter2", "is a secret"),
    ("sasl.jaas.config=org.apache...PlainLoginModule required;", "Java-only"),
    ("bootstrap.servers=evil:9092", "set by social-mentors itself"),
    ("enable.auto.commit=true", "set by social-mentors itself"),
    ("no.such.setting=1", "not a kafka-python setting"),
    ("request.timeout.ms=soon", "must be a number"),
    ("just words", "expected key=value"),
])
def test_a_kafka_config_file_refuses_secrets_fixed_and_unknown_settings(tmp_path, line, message):
    path = tmp_path / "client.properties"
    path.write_text(line + "\n")
    with pytest.raises(KafkaSecurityError, match=message):
        read_kafka_config(str(path))
