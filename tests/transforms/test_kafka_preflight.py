"""One connection before any work: each way a Kafka connection fails is one line that names the fix."""
import pytest

from services.maven import free_port
from transforms.kafka_preflight import KafkaConnectionProblem, KafkaNotAnswering, check_connection
from transforms.kafka_security import KafkaSecurity


def secured(broker, env="TEST_PREFLIGHT_PW", mechanism="SCRAM-SHA-512", cafile=True):
    return KafkaSecurity(security_protocol="SASL_SSL", sasl_mechanism=mechanism, sasl_username="alice",
                         sasl_password_env=env, ssl_cafile=str(broker.tls.ca_file) if cafile else None)


def test_the_right_password_connects(secured_kafka_broker, monkeypatch):
    monkeypatch.setenv("TEST_PREFLIGHT_PW", secured_kafka_broker.secured.users["alice"])
    check_connection(secured_kafka_broker.sasl_ssl_bootstrap, secured(secured_kafka_broker))
    check_connection(secured_kafka_broker.bootstrap)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
def test_a_wrong_password_is_one_line_naming_the_login(secured_kafka_broker, monkeypatch, mechanism):
    monkeypatch.setenv("TEST_PREFLIGHT_PW", "not-the-password")
    with pytest.raises(KafkaConnectionProblem) as caught:
        check_connection(secured_kafka_broker.sasl_ssl_bootstrap, secured(secured_kafka_broker, mechanism=mechanism))
    message = str(caught.value)
    assert "\n" not in message and f"SASL {mechanism} login of user alice" in message
    assert "password" in message and "not-the-password" not in message


@pytest.mark.parametrize("where, security, expected", [
    ("sasl_ssl", dict(cafile=False), "not trusted"),
    ("sasl_ssl", None, "closed the connection at once"),
    ("plain", "sasl", "TLS handshake"),
    ("ssl_no_cert", None, "client certificate"),
    ("nothing", None, "nothing listens"),
])
def test_each_misconfiguration_is_one_line_with_the_option_to_check(secured_kafka_broker, monkeypatch, where,
                                                                   security, expected):
    broker = secured_kafka_broker
    monkeypatch.setenv("TEST_PREFLIGHT_PW", broker.secured.users["alice"])
    server = {"sasl_ssl": broker.sasl_ssl_bootstrap, "plain": broker.bootstrap, "ssl_no_cert": broker.ssl_bootstrap,
              "nothing": f"127.0.0.1:{free_port()}"}[where]
    if where == "ssl_no_cert":
        settings = KafkaSecurity(security_protocol="SSL", ssl_cafile=str(broker.tls.ca_file))
    elif isinstance(security, dict):
        settings = secured(broker, **security)
    elif security == "sasl":
        settings = secured(broker)
    else:
        settings = KafkaSecurity()
    with pytest.raises(KafkaConnectionProblem, match=expected) as caught:
        check_connection(server, settings)
    assert "\n" not in str(caught.value) and "--" in str(caught.value)  # names an option to check


def test_nothing_answering_is_told_apart_from_a_refusal(secured_kafka_broker, monkeypatch):
    """A caller that waits out broker restarts may catch KafkaNotAnswering; a wrong password is never that."""
    with pytest.raises(KafkaNotAnswering):
        check_connection(f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("TEST_PREFLIGHT_PW", "not-the-password")
    with pytest.raises(KafkaConnectionProblem) as caught:
        check_connection(secured_kafka_broker.sasl_ssl_bootstrap, secured(secured_kafka_broker))
    assert not isinstance(caught.value, KafkaNotAnswering)


@pytest.mark.parametrize("server", ["notaport", "no-such-host.invalid:9092"])
def test_a_host_that_does_not_resolve_is_one_line_naming_the_option(server):
    # An outside probe: `--bootstrap-servers notaport` said "cannot connect to Kafka at notaport as
    # PLAINTEXT: KafkaConnectionError: KafkaConnectionError: DNS Resolution failure", the class twice
    # and nothing to check. (kafka-python takes a host without a port as HOST:9092.)
    with pytest.raises(KafkaConnectionProblem) as problem:
        check_connection(server, timeout_s=10)
    assert str(problem.value) == f"cannot resolve the host of {server} (check --bootstrap-servers HOST:PORT)"
