"""The worker's batch window: short while it keeps up, extended while messages pour in, always bounded."""

from agents.batching import BatchWindow
from driftline.settings import Settings

WINDOW = BatchWindow(within=0.02, longest=0.2, max_messages=2_000, max_bytes=32 * 1024 * 1024)


def test_a_trickle_is_sent_after_one_short_wait() -> None:
    """A few messages per wait (a paced stream the worker keeps up with): no extension, latency stays short."""
    assert not WINDOW.keep_filling(0.02, 1)
    assert not WINDOW.keep_filling(0.02, 49)


def test_a_flood_extends_the_wait_until_the_longest() -> None:
    """Messages at a rate that would fill a quarter of the batch by `longest`: the worker is behind."""
    assert WINDOW.keep_filling(0.02, 50)
    assert WINDOW.keep_filling(0.16, 400)
    assert WINDOW.keep_filling(0.18, 400)  # one more wait ends at 0.2, the longest
    assert not WINDOW.keep_filling(0.2, 400)


def test_a_batch_is_full_at_either_bound() -> None:
    assert WINDOW.full(2_000, 10)
    assert WINDOW.full(3, 32 * 1024 * 1024)
    assert not WINDOW.full(1_999, 32 * 1024 * 1024 - 1)


def test_the_default_settings_give_an_adaptive_window() -> None:
    window = BatchWindow.of(Settings())
    assert window.within < window.longest
    assert window == BatchWindow(within=0.02, longest=0.2, max_messages=2_000, max_bytes=32 * 1024 * 1024)
    # a longest below the first wait means no extension, never a shorter first wait
    short = BatchWindow.of(Settings(worker_batch_seconds=0.05, worker_batch_max_seconds=0.01))
    assert short.within == short.longest == 0.05
