"""Fixtures shared by the tests."""
import pytest


@pytest.fixture
def warehouse_path(tmp_path):
    return str(tmp_path / "warehouse.duckdb")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    """A real single-node Kafka broker (KRaft) on a free port, started through the product's code."""
    from services.kafka_broker import KafkaBroker
    from services.maven import free_port

    broker = KafkaBroker(state_dir=tmp_path_factory.mktemp("kafka"), port=free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def topic(kafka_broker, request):
    """A fresh topic name per test (3 partitions, auto-created on first produce)."""
    import re
    import uuid

    return re.sub(r"[^a-zA-Z0-9]", "-", request.node.name)[:60] + "-" + uuid.uuid4().hex[:6]


@pytest.fixture(scope="session")
def prism_binary():
    """Beam's Prism runner, built from the Go module proxy once (cached), before any test times out."""
    from services.prism import ensure_prism

    return ensure_prism()


@pytest.fixture(scope="session")
def bigquery_emulator(tmp_path_factory):
    """A local BigQuery emulator on 127.0.0.1 (its own virtualenv, built on first use); the
    google-cloud-bigquery client follows BIGQUERY_EMULATOR_HOST to it."""
    import os

    from services.bigquery_emulator import BigQueryEmulator

    emulator = BigQueryEmulator(tmp_path_factory.mktemp("bigquery"))
    endpoints = {"BIGQUERY_EMULATOR_HOST": emulator.start(),
                 "BIGQUERY_STORAGE_EMULATOR_HOST": emulator.storage_endpoint}
    previous = {name: os.environ.get(name) for name in endpoints}
    os.environ.update(endpoints)
    yield emulator
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    emulator.stop()


# The emulator's memory grows through the BigQuery tests (about 0.8 GB a minute in a full run): a test
# starts on a restarted one past this (data kept), so the suite never meets the OOM killer.
EMULATOR_RESTART_ABOVE_MB = 3072


@pytest.fixture
def empty_bigquery_url(bigquery_emulator, request):
    """A fresh dataset name per test; nothing created."""
    import re
    import uuid

    bigquery_emulator.restart_if_above(EMULATOR_RESTART_ABOVE_MB)

    name = re.sub(r"[^a-zA-Z0-9_]", "_", request.node.name)[:40] + "_" + uuid.uuid4().hex[:6]
    yield f"bigquery://{bigquery_emulator.project}/{name}"
    # Every call of the emulator slows with the datasets it holds (a prepare took 9 s on a fresh one and
    # 45-60 s late in a full run), so a test's dataset goes with the test.
    from warehouse import open_warehouse

    open_warehouse(f"bigquery://{bigquery_emulator.project}/{name}").client.delete_dataset(
        f"{bigquery_emulator.project}.{name}", delete_contents=True, not_found_ok=True)


@pytest.fixture
def bigquery_url(empty_bigquery_url):
    """A fresh dataset per test, prepared as `warehouse init` or a run's launch leaves it."""
    from warehouse import open_warehouse

    open_warehouse(empty_bigquery_url).prepare()
    return empty_bigquery_url


@pytest.fixture(scope="session")
def secured_kafka_broker(tmp_path_factory):
    """A real broker that also listens with SASL_SSL (SCRAM-SHA-256/512 and PLAIN; user ``alice``, a
    random password in ``secured.users``) and with SSL requiring a client certificate. Its CA and
    certificates are made for the test by ``services.kafka_tls`` (openssl)."""
    import secrets

    from services.kafka_broker import KafkaBroker, SecuredListeners
    from services.maven import free_port

    users = {"alice": "pw-" + secrets.token_urlsafe(18)}
    broker = KafkaBroker(state_dir=tmp_path_factory.mktemp("kafka-secured"), port=free_port(),
                         secured=SecuredListeners(users))
    broker.start()
    yield broker
    broker.stop()
