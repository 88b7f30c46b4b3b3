"""Load generator: W1 into Kafka with confluent-kafka, flat out or at a set rate, as single-event
messages or batch envelopes, drift at known positions (see loadtests/workload.py).

    python -m loadtests.loadgen --broker kafka://127.0.0.1:9092 --events 200000 --batch 500
    python -m loadtests.loadgen --events 60000 --rate 20000 --shift-every 2000
"""

import argparse
import time
from collections.abc import Callable, Iterable

import numpy as np
from confluent_kafka import Producer

from driftline.settings import Settings
from loadtests.workload import W1, envelope


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


def build_messages(workloads: Iterable[W1], batch: int) -> list[Message]:
    """(key, value) per Kafka message: `batch` events each (1 = single-event messages), built ahead
    so that encoding does not compete with the system under test while it is timed."""
    messages: list[Message] = []
    for workload in workloads:
        key = workload.model_id.encode()
        chunk: list[bytes] = []
        for encoded in workload.encoded():
            chunk.append(encoded)
            if len(chunk) == batch:
                messages.append((key, chunk[0] if batch == 1 else envelope(chunk)))
                chunk = []
        if chunk:
            messages.append((key, chunk[0] if len(chunk) == 1 else envelope(chunk)))
    return messages


def send_messages(settings: Settings, topic: str, messages: Iterable[Message]) -> None:
    producer = producer_for(settings)
    for key, value in messages:
        _send(producer, topic, key, value)
        producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("the broker did not confirm every message")


def produce_flat_out(settings: Settings, topic: str, workloads: Iterable[W1], batch: int) -> None:
    send_messages(settings, topic, build_messages(workloads, batch))


def produce_paced(settings: Settings, topic: str, workload: W1, rate: float, *, tick: float = 0.01,
                  stop: Callable[[], bool] = lambda: False) -> np.ndarray:
    """Send at `rate` events/s, one envelope per `tick` holding the events then due. Returns each
    event's send time (time.time()), indexed like the workload, for latency measurements."""
    producer = producer_for(settings)
    key = workload.model_id.encode()
    sent_at = np.full(workload.events, np.nan)
    events = workload.encoded()
    start = time.perf_counter()
    offset = time.time() - start
    index = 0
    while index < workload.events and not stop():
        due = min(workload.events, int((time.perf_counter() - start) * rate) + 1)
        chunk = [next(events) for _ in range(due - index)]
        if chunk:
            now = time.perf_counter() + offset
            _send(producer, topic, key, envelope(chunk))
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
    parser.add_argument("--model", default="w1")
    parser.add_argument("--batch", type=int, default=500, help="events per message; 1 = single-event messages")
    parser.add_argument("--rate", type=float, help="events/s (paced, envelopes every 10 ms); default: flat out")
    parser.add_argument("--shift-at", type=int, help="event where 3 features shift and the concept changes")
    parser.add_argument("--shift-every", type=int, help="alternate the shift every N events")
    args = parser.parse_args(argv)
    settings = Settings().with_overrides(broker=args.broker)
    topic = args.topic or settings.topics.predictions
    workload = W1(args.events, model_id=args.model, shift_at=args.shift_at, shift_every=args.shift_every)
    started = time.perf_counter()
    if args.rate:
        produce_paced(settings, topic, workload, args.rate)
    else:
        produce_flat_out(settings, topic, [workload], args.batch)
    seconds = time.perf_counter() - started
    print(f"sent {args.events} W1 events to {topic} in {seconds:.1f}s ({args.events / seconds:,.0f}/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
