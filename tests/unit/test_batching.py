"""The worker's batch window: short while it keeps up, extended while it is busy and behind, always bounded."""


import pytest

from agents.batching import BUSY, BatchWindow, BusyMeter
from driftline.settings import Settings

WINDOW = BatchWindow(within=0.02, longest=1.0, max_messages=8_000, max_bytes=32 * 1024 * 1024)


def test_a_worker_with_time_to_spare_sends_after_one_short_wait() -> None:
    """However many messages a stretch brings: a worker at half of its capacity keeps latency one short wait."""
    assert not WINDOW.keep_filling(0.02, 1, busy=0.5)
    assert not WINDOW.keep_filling(0.02, 500, busy=BUSY - 0.01)


def test_a_busy_worker_extends_the_wait_while_messages_keep_coming() -> None:
    assert WINDOW.keep_filling(0.02, 1, busy=BUSY)
    assert WINDOW.keep_filling(0.96, 400, busy=1.0)
    assert WINDOW.keep_filling(0.98, 400, busy=1.0)  # one more wait ends at 1.0, the longest
    assert not WINDOW.keep_filling(1.0, 400, busy=1.0)
    assert not WINDOW.keep_filling(0.04, 0, busy=1.0)  # nothing came in the last stretch: send what is here


def test_a_batch_is_full_at_either_bound() -> None:
    assert WINDOW.full(8_000, 10)
    assert WINDOW.full(3, 32 * 1024 * 1024)
    assert not WINDOW.full(7_999, 32 * 1024 * 1024 - 1)


class Clocks:
    """A wall clock and a CPU clock that the test moves."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 7.0

    def wait(self, seconds: float) -> None:
        self.wall += seconds

    def work(self, seconds: float) -> None:
        self.wall += seconds
        self.cpu += seconds


def test_the_busy_meter_tells_work_from_waiting() -> None:
    clocks = Clocks()
    meter = BusyMeter(wall=lambda: clocks.wall, cpu=lambda: clocks.cpu)
    clocks.wait(0.04)
    clocks.work(0.01)
    assert meter.share() == pytest.approx(0.2)
    meter.restart()
    clocks.work(0.05)
    assert meter.share() == pytest.approx(1.0)
    meter.restart()
    assert meter.share() == 0.0, "no time passed: not busy"


def test_the_default_settings_give_an_adaptive_window() -> None:
    window = BatchWindow.of(Settings())
    assert window.within < window.longest
    assert window == BatchWindow(within=0.02, longest=1.0, max_messages=8_000, max_bytes=32 * 1024 * 1024)
    # a longest below the first wait means no extension, never a shorter first wait
    short = BatchWindow.of(Settings(worker_batch_seconds=0.05, worker_batch_max_seconds=0.01))
    assert short.within == short.longest == 0.05
