"""Two-sample statistics between a reference sample and a current window (numpy, vectorized)."""

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

PSI_EPSILON = 1e-4
"""Floor on a bin's share so an empty bin does not make PSI infinite."""


def quantile_edges(reference: FloatArray, bins: int) -> FloatArray:
    """Inner bin edges at the reference's quantiles, so each bin holds about the same reference mass."""
    if reference.size == 0:
        return np.empty(0)
    inner = np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    return np.unique(inner)


def histogram(values: FloatArray, edges: FloatArray) -> NDArray[np.int64]:
    """Counts per bin; the outer bins are open-ended so nothing falls outside."""
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1).astype(np.int64)


def population_stability_index(reference_counts: NDArray[np.int64], current_counts: NDArray[np.int64]) -> float:
    """PSI = sum((c - r) * ln(c / r)) over bin shares; 0.1 is a small shift, 0.25 a large one."""
    ref = np.maximum(reference_counts / max(int(reference_counts.sum()), 1), PSI_EPSILON)
    cur = np.maximum(current_counts / max(int(current_counts.sum()), 1), PSI_EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def ks_two_sample(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    """Kolmogorov-Smirnov statistic D and its asymptotic p-value."""
    if reference.size == 0 or current.size == 0:
        return 0.0, 1.0
    a = np.sort(reference)
    b = np.sort(current)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    n_eff = a.size * b.size / (a.size + b.size)
    return d, kolmogorov_survival((np.sqrt(n_eff) + 0.12 + 0.11 / np.sqrt(n_eff)) * d)


def kolmogorov_survival(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (Numerical Recipes' series, Stephens' correction above)."""
    if x < 0.2:
        return 1.0
    k = np.arange(1, 101)
    terms = 2.0 * (-1.0) ** (k - 1) * np.exp(-2.0 * (k * x) ** 2)
    return float(np.clip(np.sum(terms), 0.0, 1.0))
