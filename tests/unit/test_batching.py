"""The worker's batch window: short while it keeps up, extended while it is busy and behind, always bounded."""

import time

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


def test_the_busy_meter_tells_work_from_waiting() -> None:
    meter = BusyMeter()
    time.sleep(0.05)
    assert meter.share() < 0.5
    meter.restart()
    spent = time.process_time() + 0.05
    while time.process_time() < spent:  # 50 ms of CPU work: a share near 1, unless another process takes the CPU
        pass
    assert meter.share() > 0.5


def test_the_default_settings_give_an_adaptive_window() -> None:
    window = BatchWindow.of(Settings())
    assert window.within < window.longest
    assert window == BatchWindow(within=0.02, longest=1.0, max_messages=8_000, max_bytes=32 * 1024 * 1024)
    # a longest below the first wait means no extension, never a shorter first wait
    short = BatchWindow.of(Settings(worker_batch_seconds=0.05, worker_batch_max_seconds=0.01))
    assert short.within == short.longest == 0.05
