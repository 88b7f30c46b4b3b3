"""`driftline replay FILE`: send a recorded stream into Kafka through the producer SDK.

The events keep their own `ts`, so a replayed stream raises the alerts a backtest of the same file
raises. Pacing is optional: `speed` follows the file's event-time gaps (2.0 = twice as fast), `rate`
caps events per second; with both, the slower of the two schedules wins. Replay blocks rather than
drops when the producer's queue is full: a replay that silently loses events would be worse than a
slow one.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from driftline.event_files import BadRecord, count_records, read_events
from driftline.progress import Progress
from driftline.sdk.producer import EventProducer, ProducerConfig
from driftline.settings import Settings


@dataclass
class ReplayResult:
    read: int = 0
    sent: int = 0
    failed: int = 0
    invalid: list[BadRecord] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.failed == 0 and not self.invalid and self.sent == self.read


class Pacer:
    """Sleeps until an event is due under the `speed` and `rate` schedules (None = no pacing)."""

    def __init__(self, speed: float | None, rate: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("--speed must be positive")
        if rate is not None and rate <= 0:
            raise ValueError("--rate must be positive")
        self.speed, self.rate, self.clock, self.sleep = speed, rate, clock, sleep
        self.started: float | None = None
        self.first_ts: float | None = None
        self.count = 0

    def wait(self, ts: float | None) -> None:
        now = self.clock()
        if self.started is None:
            self.started, self.first_ts = now, ts
        due = self.started
        if self.speed is not None and ts is not None and self.first_ts is not None:
            due = max(due, self.started + max(0.0, ts - self.first_ts) / self.speed)
        if self.rate is not None:
            due = max(due, self.started + self.count / self.rate)
        self.count += 1
        if due - now > 0.002:
            self.sleep(due - now)


def replay_file(path: Path | str, settings: Settings, *, speed: float | None = None, rate: float | None = None,
                config: ProducerConfig | None = None, out: TextIO | None = None) -> ReplayResult:
    """Produce every valid event of the file to its topic; invalid records are counted, not sent."""
    pacer = Pacer(speed, rate)
    producer = EventProducer(settings, config or ProducerConfig(when_full="block", block_timeout_seconds=3_600))
    progress = Progress(count_records(path), "replay", out)
    result = ReplayResult()
    started = time.monotonic()
    try:
        for item in read_events(path):
            if isinstance(item, BadRecord):
                result.invalid.append(item)
                continue
            result.read += 1
            pacer.wait(getattr(item, "ts", None))
            producer.send(item)
            progress.show(result.read + len(result.invalid))
    finally:
        producer.close(timeout=120)
        stats = producer.stats.snapshot()
        result.sent, result.failed = stats["sent"], stats["queued"] - stats["sent"]
        result.seconds = time.monotonic() - started
        progress.show(result.read + len(result.invalid), final=True)
    return result
