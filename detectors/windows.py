"""Windowed statistics per signal: a reference window and tumbling windows compared against it.

The reference is the first `reference_size` values after a reset (deployment); each tumbling
window of `size` values then closes with count, mean, variance, a histogram on the reference's
quantile bins, PSI and a two-sample KS test against the reference. Values are buffered in a
float32 array of fixed capacity: memory and snapshot size per signal stay bounded (4 bytes a
value), a restored buffer is bit-identical, and the numpy work (in float64) happens once per
window, not per value.
"""

from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from detectors.kernels.window import close_window
from detectors.stats import FloatArray, histogram, quantile_edges


class WindowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    reference_size: int = Field(default=500, ge=10, le=100_000)
    reference_max: int = Field(default=20_000, ge=10, le=100_000_000, description="how far a rate CUSUM's "
                               "reference grows while its signal is stable, doubling "
                               "(detectors/maturing.py); at or below reference_size it never grows")
    size: int = Field(default=500, ge=10, le=100_000)
    bins: int = Field(default=10, ge=2, le=100)


class WindowStats(BaseModel):
    """One closed tumbling window of one signal, compared with the reference window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: str
    first_index: int
    last_index: int
    from_ts: float
    to_ts: float
    count: int
    mean: float
    variance: float
    bin_edges: list[float]
    histogram: list[int]
    psi: float
    ks_statistic: float
    ks_p_value: float


class FixedBuffer:
    """A fixed-capacity numeric buffer (float32 values by default; performance windows keep int16 codes)."""

    __slots__ = ("data", "length")

    def __init__(self, capacity: int, dtype: type[np.float32] | type[np.int16] = np.float32) -> None:
        self.data = np.empty(capacity, dtype=dtype)
        self.length = 0

    @property
    def full(self) -> bool:
        return self.length == self.data.size

    def held(self) -> npt.NDArray[Any]:
        """What is stored, in the buffer's own type (a view)."""
        return self.data[: self.length]

    def values(self) -> FloatArray:
        return self.held().astype(np.float64)

    def raw(self) -> bytes:
        return self.held().tobytes()

    def load(self, raw: bytes) -> None:
        values = np.frombuffer(raw, dtype=self.data.dtype)
        self.length = min(values.size, self.data.size)
        self.data[: self.length] = values[: self.length]


class SignalWindows:
    """Reference plus current tumbling window for one signal."""

    def __init__(self, signal: str, config: WindowConfig) -> None:
        self.signal = signal
        self.config = config
        self.reference = FixedBuffer(config.reference_size)
        self.current = FixedBuffer(config.size)
        self.edges: FloatArray = np.empty(0)
        self.edge_list: list[float] = []  # the edges as every closed window reports them, made once
        self.sorted_reference: FloatArray = np.empty(0)
        self.reference_counts = np.zeros(1, dtype=np.int64)
        self.first_index = -1
        self.from_ts = 0.0

    def add(self, value: float, event_index: int, ts: float) -> WindowStats | None:
        """Record one value; return the window's statistics when this value closes it."""
        closed, _ = self.add_many(np.array([value]), np.array([event_index]), np.array([ts]))
        return closed[0] if closed else None

    def add_many(self, values: FloatArray, indices: npt.NDArray[np.int64], ts: FloatArray
                 ) -> tuple[list[WindowStats], int | None]:
        """Record a column (with each value's event index and time); return the windows it closed, and
        the position of the value that completed the reference window, if this column completed it."""
        closed: list[WindowStats] = []
        completed_at = None
        n, i = values.shape[0], 0
        reference = self.reference
        if reference.length < reference.data.size:
            i = min(n, reference.data.size - reference.length)
            reference.data[reference.length : reference.length + i] = values[:i]
            reference.length += i
            if reference.full:
                self._freeze_reference()
                completed_at = i - 1
        current = self.current
        while i < n:
            if current.length == 0:
                self.first_index, self.from_ts = int(indices[i]), float(ts[i])
            take = min(n - i, current.data.size - current.length)
            current.data[current.length : current.length + take] = values[i : i + take]
            current.length += take
            i += take
            if current.full:
                closed.append(self._close(int(indices[i - 1]), float(ts[i - 1])))
                current.length = 0
        return closed, completed_at

    def prefill(self, values: FloatArray) -> None:
        """Take a given reference (detectors/reference.py) instead of waiting for the first values."""
        self.reference.length = min(values.size, self.reference.data.size)
        self.reference.data[: self.reference.length] = values[: self.reference.length]
        if self.reference.full:
            self._freeze_reference()

    def restore(self, reference: bytes, current: bytes, first_index: int, from_ts: float) -> None:
        """Put back buffers saved by a snapshot (float32 bytes, as `raw()` gives them)."""
        self.reference.load(reference)
        if self.reference.full:
            self._freeze_reference()
        self.current.load(current)
        self.first_index, self.from_ts = first_index, from_ts

    def _freeze_reference(self) -> None:
        reference = self.reference.values()
        self.sorted_reference = np.sort(reference)
        self.edges = quantile_edges(reference, self.config.bins)
        self.edge_list = self.edges.tolist()
        self.reference_counts = histogram(reference, self.edges)

    def _close(self, last_index: int, to_ts: float) -> WindowStats:
        window = self.current.held()
        mean, variance, counts, psi, d, p_value = close_window(
            self.sorted_reference, self.edges, self.reference_counts, window)
        return WindowStats(  # validated: pydantic-core's validation costs less than model_construct's Python
            signal=self.signal,
            first_index=self.first_index,
            last_index=last_index,
            from_ts=self.from_ts,
            to_ts=to_ts,
            count=int(window.size),
            mean=float(mean),
            variance=float(variance),
            bin_edges=self.edge_list,
            histogram=counts.tolist(),
            psi=float(psi),
            ks_statistic=float(d),
            ks_p_value=float(p_value),
        )
