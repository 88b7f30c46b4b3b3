"""How long the worker waits to fill a batch: briefly while it keeps up, longer while it is behind.

Each batch costs a fixed amount per model it touches (the monitor's per-signal calls, a snapshot,
a Redis write), so a fleet of thin models is served far faster in large batches. Faust's
`take_events` waits a fixed time, and in that time its per-message hand-off moves only a few hundred
messages into the batch, however long the backlog: a worker serving 1,000 thin models then fell
further behind at half of its flat-out rate. `BatchWindow` keeps the short wait while the worker has
time to spare (latency stays one short wait), and extends it, up to `longest`, while the worker is
busy all the time and messages keep coming: it is behind, and a larger batch is what lets it catch
up.

Busy is measured, not guessed from arrivals: the process's CPU seconds per second since the last
batch was handed over (`BusyMeter`). A worker at half of its capacity shows about half; one with a
backlog shows one (handing off the backlog is work too). An earlier rule, extending whenever 50
messages came in 20 ms, also extended for a worker that kept up with such a stream easily, adding
latency there.

`DriftlineStream.take_batches` is Faust's `take_events` (faust-streaming 0.15, BSD licence) with
that wait and a byte bound; its buffering, acking and cleanup are Faust's, unchanged.
"""

import asyncio
import time
from asyncio import CancelledError
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.streams import _tracks_buffer_agen
from faust.types import ChannelT, EventT
from mode.utils.aiter import aiter
from mode.utils.futures import notify

from driftline.settings import Settings

BUSY = 0.8
"""The share of its time the worker must have been busy (CPU seconds per second) for a batch's wait to be
extended. At half of its capacity it shows about 0.5; with a backlog, about 1.0 (less the time it waits on
Redis and Kafka within a batch, hence not higher)."""


class BusyMeter:
    """CPU seconds the process spent per wall second since `restart` (all its threads).

    The clocks are parameters so the arithmetic is tested on clocks a test moves, not on this machine's load."""

    def __init__(self, wall: Callable[[], float] = time.monotonic, cpu: Callable[[], float] = time.process_time
                 ) -> None:
        self._wall_clock, self._cpu_clock = wall, cpu
        self.restart()

    def restart(self) -> None:
        self._wall, self._cpu = self._wall_clock(), self._cpu_clock()

    def share(self) -> float:
        elapsed = self._wall_clock() - self._wall
        return (self._cpu_clock() - self._cpu) / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True)
class BatchWindow:
    """When a batch is complete: `max_messages` or `max_bytes` reached, or the wait is over.

    The wait is `within`, extended by `within` at a time while the worker has been busy at least `BUSY`
    of the time since it handed over its last batch and the last stretch still brought messages, and
    never beyond `longest` in all."""

    within: float
    longest: float
    max_messages: int
    max_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> "BatchWindow":
        """The window the settings describe; a longest wait below the first wait means no extension."""
        return cls(within=settings.worker_batch_seconds,
                   longest=max(settings.worker_batch_max_seconds, settings.worker_batch_seconds),
                   max_messages=settings.worker_batch_messages, max_bytes=settings.worker_batch_bytes)

    def full(self, messages: int, size: int) -> bool:
        return messages >= self.max_messages or size >= self.max_bytes

    def keep_filling(self, waited: float, added_last: int, busy: float) -> bool:
        """After `waited` seconds, the last `within` of which added `added_last` messages, with the worker
        busy a share `busy` of the time since its last batch."""
        if waited + self.within > self.longest + 1e-9:
            return False
        return added_last > 0 and busy >= BUSY


class DriftlineStream(faust.Stream[Any]):
    @_tracks_buffer_agen
    async def take_batches(self, window: BatchWindow) -> AsyncGenerator[Sequence[EventT[Any]], None]:
        """Yield lists of events as `window` decides; each batch is acked once the caller is done with
        it (the caller withholds the acks of a batch it could not save: agents/app.py)."""
        events: list[EventT[Any]] = []  # Faust's copy also keeps the values; only the events are used
        size = 0
        buffer_full = asyncio.Event()
        buffer_consumed = asyncio.Event()
        stream_enable_acks: bool = self.enable_acks
        buffer_consuming: asyncio.Future[None] | None = None
        channel_it = aiter(self.channel)
        busy = BusyMeter()  # since the last batch was handed over: its processing, then this wait

        async def add_to_buffer(value: Any) -> Any:
            nonlocal buffer_consuming, size
            try:
                if buffer_consuming is not None:
                    try:
                        await buffer_consuming
                    finally:
                        buffer_consuming = None
                event = self.current_event
                if event is None:
                    raise RuntimeError("take buffer found current_event is None")
                events.append(event)
                size += len(event.message.value or b"")
                if window.full(len(events), size):
                    buffer_full.set()
                    buffer_consumed.clear()  # no more than the window allows in one batch
                    await self.wait(buffer_consumed)  # type: ignore[arg-type]  # as Faust's own take_events
            except CancelledError:  # pragma: no cover
                raise
            except Exception as exc:
                self.log.exception("Error adding to take buffer: %r", exc)
                await self.crash(exc)
            return value

        self.enable_acks = False  # acked here, after the caller is done with the batch
        self.add_processor(add_to_buffer)
        self._enable_passive(cast(ChannelT[Any], channel_it))
        try:
            while not self.should_stop:
                await self.wait_for_stopped(buffer_full, timeout=window.within)  # type: ignore[arg-type]
                waited, before = window.within, 0
                while (not buffer_full.is_set() and events
                       and window.keep_filling(waited, len(events) - before, busy.share())):
                    before = len(events)
                    await self.wait_for_stopped(buffer_full, timeout=window.within)  # type: ignore[arg-type]
                    waited += window.within
                if events:
                    buffer_consuming = self.loop.create_future()  # hold new values while the caller works
                    busy.restart()
                    try:
                        yield list(events)
                    finally:
                        for event in events:
                            await self.ack(event)
                        events.clear()
                        size = 0
                        notify(buffer_consuming)
                        buffer_full.clear()
                        buffer_consumed.set()
        finally:
            self.enable_acks = stream_enable_acks
            self._processors.remove(add_to_buffer)
