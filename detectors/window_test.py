"""A detector that tests each tumbling window against a reference window (PSI or KS).

It mimics river's small detector surface (update, drift_detected) so it fits the same adapter
base, and keeps its buffers as plain bytes when pickled so snapshots need no numpy globals.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from detectors.stats import FloatArray, histogram, ks_two_sample, population_stability_index, quantile_edges

WindowScore = Callable[[FloatArray, FloatArray], tuple[float, bool]]


class WindowTest:
    def __init__(self, reference_size: int, window_size: int, score: WindowScore) -> None:
        self.reference_size = reference_size
        self.window_size = window_size
        self.score = score
        self.reference: list[float] = []
        self.current: list[float] = []
        self.last_score = 0.0
        self.windows_tested = 0
        self.drift_detected = False

    def update(self, value: float) -> None:
        self.drift_detected = False
        if len(self.reference) < self.reference_size:
            self.reference.append(value)
            return
        self.current.append(value)
        if len(self.current) < self.window_size:
            return
        self.last_score, self.drift_detected = self.score(np.asarray(self.reference), np.asarray(self.current))
        self.windows_tested += 1
        self.current = []

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["reference"] = np.asarray(self.reference, dtype=np.float64).tobytes()
        state["current"] = np.asarray(self.current, dtype=np.float64).tobytes()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["reference"] = np.frombuffer(state["reference"], dtype=np.float64).tolist()
        state["current"] = np.frombuffer(state["current"], dtype=np.float64).tolist()
        self.__dict__.update(state)


class PsiScore:
    """Drift when PSI between reference and window exceeds `threshold`."""

    def __init__(self, bins: int, threshold: float) -> None:
        self.bins = bins
        self.threshold = threshold

    def __call__(self, reference: FloatArray, current: FloatArray) -> tuple[float, bool]:
        edges = quantile_edges(reference, self.bins)
        psi = population_stability_index(histogram(reference, edges), histogram(current, edges))
        return psi, psi > self.threshold


class KsScore:
    """Drift when the two-sample KS p-value falls below `alpha`."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def __call__(self, reference: FloatArray, current: FloatArray) -> tuple[float, bool]:
        _, p_value = ks_two_sample(reference, current)
        return p_value, p_value < self.alpha
