"""Replay pacing and record counting: pure logic, no broker."""

import json
from pathlib import Path

import pytest

from driftline.event_files import count_records
from driftline.replay import Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def paced(speed: float | None, rate: float | None, timestamps: list[float]) -> list[float]:
    """Send times, relative to the first event, of events sent as soon as the pacer lets them go."""
    fake = FakeTime()
    pacer = Pacer(speed, rate, clock=fake.clock, sleep=fake.sleep)
    sent = []
    for ts in timestamps:
        pacer.wait(ts)
        sent.append(round(fake.now - 100.0, 6))
    return sent


def test_speed_follows_event_time_gaps_scaled() -> None:
    assert paced(2.0, None, [10.0, 11.0, 15.0, 15.0]) == [0.0, 0.5, 2.5, 2.5]


def test_rate_caps_events_per_second() -> None:
    assert paced(None, 4.0, [0.0, 0.0, 0.0, 0.0, 0.0]) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_with_both_the_slower_schedule_wins() -> None:
    assert paced(1.0, 2.0, [0.0, 0.1, 3.0]) == [0.0, 0.5, 3.0]


def test_no_pacing_never_sleeps() -> None:
    assert paced(None, None, [0.0, 100.0, 200.0]) == [0.0, 0.0, 0.0]


def test_pacing_must_be_positive() -> None:
    with pytest.raises(ValueError, match="--speed"):
        Pacer(0.0, None)
    with pytest.raises(ValueError, match="--rate"):
        Pacer(None, -1.0)


def test_records_are_counted_for_the_progress_bar(tmp_path: Path) -> None:
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text("\n".join(json.dumps({"n": i}) for i in range(7)) + "\n\n", encoding="utf-8")
    csv = tmp_path / "events.csv"
    csv.write_text("model_id,ts,x\nm,1,2\nm,2,3\n", encoding="utf-8")
    assert (count_records(jsonl), count_records(csv), count_records(tmp_path / "e.txt")) == (7, 2, None)
