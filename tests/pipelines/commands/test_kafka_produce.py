"""produce: a synthetic community placed in time, or a live one at a steady rate, to a real broker."""
import time

from kafka import KafkaConsumer

from pipelines.cli import main
from schemas import wire
from warehouse import open_warehouse


def decoded(message):
    """The event of a message (wire.decode gives created_at as the epoch millis on the wire)."""
    return wire.decode(message.value)


def consume(bootstrap, topic, expected, timeout_s=60):
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=2000, enable_auto_commit=False)
    messages, deadline = [], time.monotonic() + timeout_s
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            messages.extend(consumer)
    finally:
        consumer.close()
    return messages


def test_produce_live_sends_current_events_at_a_steady_rate(kafka_broker, topic, capsys):
    before = time.time() * 1000
    assert main(["produce", "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic,
                 "--live", "--rate", "50", "--count", "120"]) == 0
    after = time.time() * 1000
    assert "sent 120 records" in capsys.readouterr().out
    messages = consume(kafka_broker.bootstrap, topic, 120)
    events = [decoded(m) for m in messages]
    assert len(events) == 120
    assert all(before - 1000 <= e["created_at"] <= after and m.timestamp == e["created_at"]
               for m, e in zip(messages, events))
    assert max(e["created_at"] for e in events) - min(e["created_at"] for e in events) >= 119 * 20 * 0.9


def test_two_seeds_on_one_topic_never_collide(kafka_broker, topic, capsys):
    for seed in ("1", "2"):
        assert main(["produce", "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic,
                     "--seed", seed, "--scale", "0.1", "--start", "now"]) == 0
    sent = sum(int(line.split()[1].replace(",", "")) for line in capsys.readouterr().out.splitlines()
               if line.startswith("sent "))
    events = [decoded(m) for m in consume(kafka_broker.bootstrap, topic, sent)]
    assert len(events) == sent
    content = {}
    for event in events:  # a re-delivery repeats its event's content, never another's
        assert content.setdefault(event["event_id"], event) == event
    assert time.time() * 1000 - 36 * 86_400_000 <= min(e["created_at"] for e in events)
    assert max(e["created_at"] for e in events) <= time.time() * 1000  # a broker refuses the future


def test_live_events_have_the_current_time_so_start_and_input_are_refused(tmp_path, capsys):
    assert main(["produce", "--live", "--start", "now"]) == 2
    assert main(["produce", "--live", "--input", str(tmp_path / "events.avro")]) == 2
    assert main(["produce", "--live", "--rate", "0"]) == 2
    assert capsys.readouterr().err.count("error: ") == 3


def test_a_registry_id_of_1_given_to_produce_and_run_scores_every_record(kafka_broker, topic, tmp_path, capsys):
    # an outside probe: id 1 (a registry's first schema id) collided with this release's version 1, and
    # every message became a PARSE_ERROR dead letter in a run that still exited 0
    assert main(["produce", "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic, "--seed", "3",
                 "--scale", "0.05", "--wire-format", "confluent", "--schema-id", "1"]) == 0
    sent = int(next(line for line in capsys.readouterr().out.splitlines() if line.startswith("sent ")).split()[1]
               .replace(",", ""))
    warehouse = str(tmp_path / "registry.duckdb")
    assert main(["run", "--source", "kafka", "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic,
                 "--until-end", "--schema-id", "1", "--warehouse", warehouse]) == 0
    out = capsys.readouterr().out
    assert f"records in      {sent:>12,}" in out
    dead = next(line for line in out.splitlines() if line.strip().startswith("dead-lettered"))
    assert "PARSE_ERROR" not in dead and "UNKNOWN_SCHEMA_ID" not in dead, out


def test_a_registry_id_given_to_run_adds_to_the_ids_it_reads(kafka_broker, topic, tmp_path, capsys):
    # an outside probe: an UNKNOWN_SCHEMA_ID dead letter said "pass --schema-id to accept it", and
    # `run --schema-id 99` then refused the topic's messages framed with the built-in ids 1 and 2
    for schema_id in ("2", "99"):
        assert main(["produce", "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic, "--seed", schema_id,
                     "--scale", "0.02", "--wire-format", "confluent", "--schema-id", schema_id]) == 0
    sent = sum(int(line.split()[1].replace(",", "")) for line in capsys.readouterr().out.splitlines()
               if line.startswith("sent "))
    warehouse = str(tmp_path / "mixed.duckdb")
    assert main(["run", "--source", "kafka", "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic,
                 "--until-end", "--warehouse", warehouse]) == 0
    out = capsys.readouterr().out
    assert "UNKNOWN_SCHEMA_ID" in out  # 99 is not read unless named...
    message = open_warehouse(warehouse).sql(
        "SELECT message FROM dead_letters WHERE error_kind = 'UNKNOWN_SCHEMA_ID' LIMIT 1")[1][0][0]
    assert "run with --schema-id 99 (added to the ids read)" in message and "newer" not in message, message  # 99 is far from a next version
    again = str(tmp_path / "named.duckdb")
    assert main(["run", "--source", "kafka", "--bootstrap-servers", kafka_broker.bootstrap, "--topic", topic,
                 "--group-id", "named", "--until-end", "--schema-id", "99", "--warehouse", again]) == 0
    out = capsys.readouterr().out
    assert f"records in      {sent:>12,}" in out and "UNKNOWN_SCHEMA_ID" not in out, out  # ...and then with 1 and 2
