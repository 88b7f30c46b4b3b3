"""Joint drift: one number per event for how unusual its numeric features are together.

Why: every feature signal watches one feature's marginal. Two features whose correlation flips from
+0.8 to -0.8 keep both marginals, and nothing moves unless the prediction happens to. The joint
signal is each event's squared Mahalanobis distance from the reference, over the numeric features
of the model's first event (at most MAX_FEATURES): (x - mean)' inverse(covariance) (x - mean), with
the reference's mean and covariance. A correlation flip puts events along a direction the
reference hardly varied in, so their distance jumps (for +0.8 to -0.8: nine times on that
direction). The distances then go to signal `joint`, watched as any numeric signal (a location bank
calibrated on its own first 500 values), which carries the false-alarm bound; no distribution of
the distance is assumed.

The reference is the first `reference_size` events with every one of those features a number,
kept as running sums (count, origin, sums, sums of products: 1 + 2d + d(d + 1)/2 numbers: 41 KB for
100 features, 608 bytes for 10) and accumulated row by row in a compiled loop, so any cut of the stream
gives the same sums to the last bit; distances are computed row by row too (d * d multiply-adds per
event: about 10,000 for 100 features). A feature the reference never saw vary is left out;
directions of the features' correlations that hardly varied are floored at a millionth of the
largest, so the inverse stays finite whatever the features' units.

>>> import numpy as np
>>> from detectors.joint import JointReference
>>> rng = np.random.default_rng(0)
>>> a = rng.normal(size=2000); b = 0.8 * a + 0.6 * rng.normal(size=2000)
>>> joint = JointReference(["a", "b"], 1000)
>>> flipped = np.column_stack([a, -b])
>>> before = joint.update(np.column_stack([a, b])[:1500]); after = joint.update(flipped[1500:])
>>> bool(before[1000:].mean() < 2.5 < after.mean())
True
"""

from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from detectors.base import Floats

MAX_FEATURES = 100
"""The numeric features the joint signal spans, in the order of the model's first event."""
FLOOR = 1e-6
"""Directions of the reference's correlations below this share of the largest are floored to it."""


@njit(cache=True)
def _accumulate(sums: Any, rows: Any, take: int) -> None:  # pragma: no cover (compiled)
    """Add the first `take` rows to sums laid out as [count, origin_i, sum(y_i), sum(y_i y_j) for i <= j],
    where y = x - origin and the origin is the first row ever added: sums of products of raw values
    lose a variance of 1 around 1.7e9 (a timestamp) to rounding; around the origin they do not."""
    d = rows.shape[1]
    for r in range(take):
        if sums[0] == 0.0:
            for i in range(d):
                sums[1 + i] = rows[r, i]
        sums[0] += 1.0
        k = 1 + 2 * d
        for i in range(d):
            y = rows[r, i] - sums[1 + i]
            sums[1 + d + i] += y
            for j in range(i, d):
                sums[k] += y * (rows[r, j] - sums[1 + j])
                k += 1


@njit(cache=True)
def _distances(rows: Any, mean: Any, whitening_t: Any, out: Any) -> None:  # pragma: no cover (compiled)
    """Each row's squared length after centring and whitening (`whitening_t`: one row per direction, so
    the inner loop reads memory in order)."""
    m, d = whitening_t.shape[0], whitening_t.shape[1]
    centred = np.empty(d)
    for r in range(rows.shape[0]):
        for i in range(d):
            centred[i] = rows[r, i] - mean[i]
        total = 0.0
        for c in range(m):
            z = 0.0
            for i in range(d):
                z += centred[i] * whitening_t[c, i]
            total += z * z
        out[r] = total


class JointReference:
    """The running reference of a model's numeric features, then each later row's distance from it."""

    def __init__(self, names: list[str], size: int) -> None:
        self.names = names[:MAX_FEATURES]
        self.size = size
        d = len(self.names)
        self.sums: Floats = np.zeros(1 + 2 * d + d * (d + 1) // 2)
        self._mean: Floats | None = None
        self._whitening: Floats | None = None

    @property
    def count(self) -> int:
        return int(self.sums[0])

    @property
    def full(self) -> bool:
        return self.count >= self.size

    def update(self, rows: npt.NDArray[np.float64]) -> Floats:
        """Take complete rows (one column per name, in order); return a distance for each row after the
        reference (NaN for rows that went into it)."""
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        take = min(rows.shape[0], self.size - self.count) if not self.full else 0
        if take:
            _accumulate(self.sums, rows, take)
        out = np.full(rows.shape[0], np.nan)
        if self.full and take < rows.shape[0]:
            mean, whitening = self._fitted()
            _distances(rows[take:], mean, whitening, out[take:])
        return out

    def _fitted(self) -> tuple[Floats, Floats]:
        if self._mean is None or self._whitening is None:
            mean, whitening = whitening_of(self.sums, len(self.names))
            self._mean, self._whitening = mean, np.ascontiguousarray(whitening.T)
        return self._mean, self._whitening

    def restore(self, sums: bytes) -> None:
        loaded = np.frombuffer(sums, dtype="<f8").astype(np.float64)
        if loaded.size != self.sums.size:
            raise ValueError(f"joint reference has {loaded.size} sums, expected {self.sums.size}")
        self.sums = loaded.copy()
        self._mean = self._whitening = None

    def raw(self) -> bytes:
        return self.sums.astype("<f8").tobytes()


def whitening_of(sums: Floats, d: int) -> tuple[Floats, Floats]:
    """The reference's mean, and a matrix W whose product with (x - mean) has identity covariance on
    the reference (columns for the features that varied; small directions floored)."""
    n, origin = sums[0], sums[1 : 1 + d]
    shifted = sums[1 + d : 1 + 2 * d] / n
    products = np.zeros((d, d))
    products[np.triu_indices(d)] = sums[1 + 2 * d :]
    products = products + np.triu(products, 1).T
    covariance = products / n - np.outer(shifted, shifted)
    mean = origin + shifted
    varied = np.flatnonzero(np.diag(covariance) > 0.0)  # about the origin, a constant's deviations are exactly 0
    whitening = np.zeros((d, 0))
    if varied.size:  # on the correlations, so the floor does not depend on the features' units
        scale = np.sqrt(np.diag(covariance)[varied])
        values, vectors = np.linalg.eigh(covariance[np.ix_(varied, varied)] / np.outer(scale, scale))
        values = np.maximum(values, FLOOR * max(float(values.max()), 1e-300))
        whitening = np.zeros((d, varied.size))
        whitening[varied] = vectors / np.sqrt(values) / scale[:, None]
    return mean, np.ascontiguousarray(whitening)
