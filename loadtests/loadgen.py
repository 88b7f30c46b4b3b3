"""Load generator: a workload into Kafka with confluent-kafka, flat out or at a set rate, as
single-event messages or batch envelopes keyed by model, drift at known positions (see
loadtests/workload.py).

    python -m loadtests.loadgen --broker kafka://127.0.0.1:9092 --events 200000 --batch 500
    python -m loadtests.loadgen --events 60000 --rate 20000 --shift-every 2000
"""

import argparse
import time
from collections.abc import Callable, Iterable

import numpy as np
from confluent_kafka import Producer

from driftline.settings import Settings
from loadtests.workload import Workload, envelope


def producer_for(settings: Settings) -> Producer:
    return Producer({**settings.kafka_producer_config(), "linger.ms": 5, "batch.size": 1_000_000,
                     "queue.buffering.max.kbytes": 1_048_576, "compression.type": "none"})


def _send(producer: Producer, topic: str, key: bytes, value: bytes) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value)
            return
        except BufferError:
            producer.poll(0.05)


Message = tuple[bytes, bytes]


ENVELOPE_BYTES = 900_000
"""Kafka refuses messages over 1 MB by default: wide events (W100, ~2.6 kB) make smaller envelopes."""

LINGER_EVENTS = 5_000
"""Events of a many-model stream an SDK producer would hold before sending (its linger): each model's
share of them becomes its envelopes, as the SDK batches per model."""


def build_messages(workloads: Iterable[Workload], batch: int) -> list[Message]:
    """(key, value) per Kafka message: up to `batch` events of one model each (1 = single-event
    messages), keyed by model, built ahead so that encoding does not compete with the system under
    test while it is timed."""
    messages: list[Message] = []
    for workload in workloads:
        if batch == 1:
            messages += [(str(r["model_id"]).encode(), e) for r, e in zip(workload.records(), workload.encoded(),
                                                                           strict=True)]
            continue
        if workload.models == 1:
            _chunks(messages, [(workload.model_id, e) for e in workload.encoded()], batch)
            continue
        for start in range(0, workload.events, LINGER_EVENTS):
            stop = min(start + LINGER_EVENTS, workload.events)
            records = workload.records(start, stop)
            _chunks(messages, [(str(r["model_id"]), e) for r, e in zip(records, workload.encoded(start, stop),
                                                                         strict=True)], batch)
    return messages


def _chunks(messages: list[Message], events: list[tuple[str, bytes]], batch: int) -> None:
    """Append each model's events, in order, as envelopes of up to `batch` events and ENVELOPE_BYTES."""
    by_model: dict[str, list[bytes]] = {}
    for model_id, encoded in events:
        by_model.setdefault(model_id, []).append(encoded)
    for model_id, encoded_events in by_model.items():
        key = model_id.encode()
        chunk: list[bytes] = []
        size = 0
        for encoded in encoded_events:
            if chunk and (len(chunk) == batch or size + len(encoded) > ENVELOPE_BYTES):
                messages.append((key, chunk[0] if len(chunk) == 1 else envelope(chunk)))
                chunk, size = [], 0
            chunk.append(encoded)
            size += len(encoded) + 1
        if chunk:
            messages.append((key, chunk[0] if len(chunk) == 1 else envelope(chunk)))


TopicMessage = tuple[str, bytes, bytes]


def build_stream_messages(workload: Workload, batch: int, predictions: str, labels: str) -> list[TopicMessage]:
    """A one-model workload whose labels are events of their own: envelopes of up to `batch` events per
    topic, sent in the order they fill, so labels reach the broker about as late as the stream has them."""
    assert workload.models == 1, "labels as events are built for one model"
    key = workload.model_id.encode()
    messages: list[TopicMessage] = []
    chunks: dict[str, list[bytes]] = {predictions: [], labels: []}
    for record, encoded in zip(workload.records(), workload.encoded(), strict=True):
        topic = predictions if "features" in record else labels
        chunk = chunks[topic]
        chunk.append(encoded)
        if len(chunk) == batch:
            messages.append((topic, key, envelope(chunk)))
            chunks[topic] = []
    messages += [(topic, key, envelope(chunk)) for topic, chunk in chunks.items() if chunk]
    return messages


def send_stream_messages(settings: Settings, messages: Iterable[TopicMessage]) -> None:
    producer = producer_for(settings)
    for topic, key, value in messages:
        _send(producer, topic, key, value)
        producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("the broker did not confirm every message")


def send_messages(settings: Settings, topic: str, messages: Iterable[Message]) -> None:
    producer = producer_for(settings)
    for key, value in messages:
        _send(producer, topic, key, value)
        producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("the broker did not confirm every message")


def produce_flat_out(settings: Settings, topic: str, workloads: Iterable[Workload], batch: int) -> None:
    send_messages(settings, topic, build_messages(workloads, batch))


def produce_paced(settings: Settings, topic: str, workload: Workload, rate: float, *, tick: float = 0.01,
                  stop: Callable[[], bool] = lambda: False) -> np.ndarray:
    """Send at `rate` events/s, every `tick` one envelope per model holding its events then due.
    Returns each event's send time (time.time()), indexed like the workload, for latency
    measurements. Events are encoded before the clock starts: a producer service encodes on its own
    machine, and encoding here took a third of a CPU at 35k events/s from the worker under test."""
    producer = producer_for(settings)
    sent_at = np.full(workload.events, np.nan)
    events = [(str(r["model_id"]), e) for r, e in zip(workload.records(), workload.encoded(), strict=True)]
    start = time.perf_counter()
    offset = time.time() - start
    index = 0
    while index < workload.events and not stop():
        due = min(workload.events, int((time.perf_counter() - start) * rate) + 1)
        chunk = events[index:due]
        if chunk:
            now = time.perf_counter() + offset
            messages: list[Message] = []
            _chunks(messages, chunk, len(chunk))
            for key, value in messages:
                _send(producer, topic, key, value)
            sent_at[index:due] = now
            index = due
        producer.poll(0)
        time.sleep(max(0.0, tick - ((time.perf_counter() - start) % tick)))
    producer.flush(60)
    return sent_at


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", help="Kafka URL (default: DRIFTLINE_BROKER)")
    parser.add_argument("--topic", help="default: the predictions topic of DRIFTLINE_TOPIC_PREFIX")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workload", choices=("w1", "w100", "wm"), default="w1")
    parser.add_argument("--model", help="model id (WM: the prefix of its 1,000 ids); default: the workload's name")
    parser.add_argument("--batch", type=int, default=500, help="events per message; 1 = single-event messages")
    parser.add_argument("--rate", type=float, help="events/s (paced, envelopes every 10 ms); default: flat out")
    parser.add_argument("--shift-at", type=int, help="event where 3 features shift and the concept changes")
    parser.add_argument("--shift-every", type=int, help="alternate the shift every N events")
    args = parser.parse_args(argv)
    settings = Settings().with_overrides(broker=args.broker)
    topic = args.topic or settings.topics.predictions
    make = {"w1": Workload.w1, "w100": Workload.w100, "wm": Workload.wm}[args.workload]
    workload = make(args.events, model_id=args.model or args.workload, shift_at=args.shift_at,
                    shift_every=args.shift_every)
    started = time.perf_counter()
    if args.rate:
        produce_paced(settings, topic, workload, args.rate)
    else:
        produce_flat_out(settings, topic, [workload], args.batch)
    seconds = time.perf_counter() - started
    print(f"sent {args.events} {workload.name} events to {topic} in {seconds:.1f}s ({args.events / seconds:,.0f}/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
