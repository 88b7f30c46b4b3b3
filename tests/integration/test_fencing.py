"""Two workers fed one model through two partitions (a producer that partitions differently from the
SDK) must not overwrite each other's state: every write is fenced by the model's owner generation.

Before fencing, each worker saved its own copy of the model's monitor over the other's: 2,000 events
were counted as about 1,000, with no warning anywhere.
"""

import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from driftline.embedded import EmbeddedBroker, EmbeddedRedis
from driftline.settings import Settings
from schemas import PredictionEvent, encode_event
from tests.faults import metric, owns_partitions, private_settings, system_alerts
from tests.live import WorkerProcess, wait_for_events, wait_until

pytestmark = pytest.mark.integration


def produce_round_robin(settings: Settings, events: list[PredictionEvent], partitions: int) -> None:
    """What a producer keyed by something other than model_id does: one model over every partition."""
    producer = Producer(settings.kafka_client_config())
    for i, event in enumerate(events):
        producer.produce(settings.topics.predictions, key=event.model_id.encode(), value=encode_event(event),
                         partition=i % partitions)
        producer.poll(0)
    assert producer.flush(30) == 0


def test_two_workers_fed_one_model_count_every_event_once_and_say_which_producer_setting_is_wrong(
        broker: EmbeddedBroker, redis_service: EmbeddedRedis, tmp_path: Path) -> None:
    settings = private_settings(broker.url, redis_service.url, worker_batch_messages=20)
    workers = [WorkerProcess(settings, tmp_path / f"worker{i}.log").start(wait_ready=False) for i in range(2)]
    try:
        wait_until(lambda: all(owns_partitions(w) for w in workers), timeout=90, what="both workers own partitions")
        time.sleep(2)  # let the group settle after the second join
        events = [PredictionEvent(model_id="split-model", model_version="1", event_id=f"e{i}", ts=float(i),
                                  features={"x": float(i % 7)}, prediction=float(i % 2)) for i in range(2_000)]
        produce_round_robin(settings, events, settings.partitions)

        state = wait_for_events(settings, "split-model", len(events), timeout=120)
        time.sleep(2)
        assert wait_for_events(settings, "split-model", 0).event_count == len(events) == state.event_count
        assert sum(metric(w, "driftline_fenced_writes_total") for w in workers) > 0, "the two workers did contend"
        warning = system_alerts(settings, "split-model", "partitioning")[0]
        assert "murmur2" in (warning.detail or "")
        fenced = system_alerts(settings, "split-model", "state")
        assert any(a.detector == "fencing" for a in fenced)
    finally:
        for worker in workers:
            worker.stop()
