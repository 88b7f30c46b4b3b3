"""The expected F1 of the positive class, from calibrated scores alone (no labels).

Why beside `estimated_performance` (each prediction's chance of being right, whose mean is the
expected accuracy): a fraud model's accuracy barely moves when it starts missing the rare class,
its F1 does. With a positive-class probability s and the predicted class known, a prediction adds s
expected true positives and 1 - s false positives when it says positive, and s false negatives when
it says negative; the expected F1 is 2 TP / (2 TP + FP + FN) over a window (confidence-based
performance estimation). It is reported in the evidence of `estimated_performance` alerts, for the
reference and for the window being filled, on the same counts as that signal's windows (the first
`reference_size` scored predictions, then windows of `size`).

Sums are kept in millionths as integers, so any cut of the stream gives the same figures to the
last digit (a float sum would depend on how columns group the values).
"""

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

UNIT = 1_000_000


def f1_of(sums: list[int]) -> float | None:
    """2 TP / (2 TP + FP + FN), or None where nothing was predicted or expected positive."""
    tp, fp, fn = sums
    denominator = 2 * tp + fp + fn
    return None if denominator == 0 else 2 * tp / denominator


@dataclass
class EstimatedF1:
    reference_size: int
    window_size: int
    seen: int = 0
    """Scored predictions counted since the model's reset."""
    reference: list[int] = field(default_factory=lambda: [0, 0, 0])
    window: list[int] = field(default_factory=lambda: [0, 0, 0])
    """The window being filled: its expected TP, FP and FN, in millionths."""

    def add(self, positive: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64]) -> None:
        """Count a column of scored predictions: whether each said positive, and its positive-class score."""
        n = positive.shape[0]
        if not n:
            return
        units = np.rint(np.clip(scores, 0.0, 1.0) * UNIT).astype(np.int64)
        parts = np.stack([np.where(positive, units, 0), np.where(positive, UNIT - units, 0),
                          np.where(positive, 0, units)])
        ranks = self.seen + np.arange(n)
        self.seen += n
        early = ranks < self.reference_size
        if early.any():
            self.reference = [a + int(b) for a, b in zip(self.reference, parts[:, early].sum(axis=1), strict=True)]
        later = ranks[~early] - self.reference_size
        if not later.size:
            return
        window = later // self.window_size
        if later[0] % self.window_size == 0 or window[-1] != window[0]:  # the window at the end starts here
            self.window = [0, 0, 0]
        last = window == window[-1]
        self.window = [a + int(b) for a, b in zip(self.window, parts[:, ~early][:, last].sum(axis=1), strict=True)]
        if (int(later[-1]) + 1) % self.window_size == 0:  # the last value closed its window
            self.window = [0, 0, 0]

    def state(self) -> list[int]:
        return [self.seen, *self.reference, *self.window]

    def restore(self, numbers: list[int]) -> None:
        self.seen, self.reference, self.window = numbers[0], list(numbers[1:4]), list(numbers[4:7])
