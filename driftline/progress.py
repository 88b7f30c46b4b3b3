"""Progress of long work on a terminal: events, rate and time left on one line, redrawn at most five
times a second. Piped or redirected (logs, CI, `| jq`), it stays quiet: the output is for people."""

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    def __init__(self, total: int | None, what: str, out: TextIO | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.what, self.out, self.clock = total, what, out or sys.stderr, clock
        self.shown = is_terminal(self.out)
        self.started = clock()
        self.last_shown = -1.0

    def show(self, done: int, final: bool = False) -> None:
        if not self.shown:
            return
        now = self.clock()
        if not final and now - self.last_shown < 0.2:
            return
        self.last_shown = now
        self.out.write("\r" + self.line(done, now) + ("\n" if final else ""))
        self.out.flush()

    def line(self, done: int, now: float) -> str:
        """`[#####.....]  52.0% 52,000 events  10,400/s  5s left` (without a total: no bar, no time left)."""
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        if not self.total:
            return f"{self.what}: {done:,} events  {rate:,.0f}/s"
        fraction = min(done / self.total, 1.0)
        bar = "#" * int(fraction * 30) + "." * (30 - int(fraction * 30))
        left = "" if rate <= 0 or done >= self.total else f"  {_duration((self.total - done) / rate)} left"
        return f"{self.what}: [{bar}] {fraction:6.1%} {done:,} events  {rate:,.0f}/s{left}"


def is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3_600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3_600}h{seconds % 3_600 // 60:02d}m"
