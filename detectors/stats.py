"""Two-sample statistics between a reference sample and a current window (numpy, vectorized)."""

import math
from typing import Any

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


def wilson_upper(successes: float, trials: float, z: float) -> float:
    """The upper end of the Wilson score interval for a rate: above zero even when nothing was seen."""
    centre, margin, scale = _wilson(successes, trials, z)
    return min(1.0, (centre + margin) / scale)


def wilson_lower(successes: float, trials: float, z: float) -> float:
    """The lower end of the Wilson score interval for a rate: below one even when everything was seen."""
    centre, margin, scale = _wilson(successes, trials, z)
    return max(0.0, (centre - margin) / scale)


def _wilson(successes: float, trials: float, z: float) -> tuple[float, float, float]:
    p = successes / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    margin = z * math.sqrt(max(p * (1 - p), 0.0) / trials + z2 / (4 * trials * trials))
    return centre, margin, 1 + z2 / trials


def variance_inflation(series: FloatArray) -> float:
    """How much a sum of this series varies more than if its values were independent: (1 + r) / (1 - r)
    for its lag-1 autocorrelation r (an AR(1) reading), taken one standard error high, and 1 when r is
    within two standard errors of zero (independent values then pay nothing).

    Why: a CUSUM's false-alarm bound e**h assumes independent increments. Positively correlated ones
    (logs ordered by user, region or time of day) wander further: a sum of n of them varies like
    n * tau independent ones, and the bound holds again with the increments divided by tau."""
    n = series.size
    if n < 20 or np.ptp(series) == 0.0:  # too short to tell, or constant (where rounding would make noise)
        return 1.0
    centred = series - series.mean()
    energy = float(centred @ centred)
    if energy <= 0.0:
        return 1.0
    r = float(centred[1:] @ centred[:-1]) / energy
    if r <= 2.0 / math.sqrt(n):
        return 1.0
    r = min(r + 1.0 / math.sqrt(n), 0.99)
    return (1.0 + r) / (1.0 - r)


def fisher_lower(hits: int, trials: int, reference_hits: int, reference_trials: int) -> float:
    """P(at most `hits` of the window's `trials` were hits), given the hits of window and reference
    together, when each of all the trials was equally likely a hit: a hypergeometric tail."""
    total, successes = trials + reference_trials, hits + reference_hits
    x = np.arange(max(0, trials - (total - successes)), hits + 1)
    lf = log_factorials(total)  # indexed directly: this runs for every test of every window
    log_p = (lf[successes] - lf[x] - lf[successes - x] + lf[total - successes] - lf[trials - x]
             - lf[total - successes - trials + x] - (lf[total] - lf[trials] - lf[total - trials]))
    return float(min(1.0, np.exp(log_p).sum()))


def log_choose(n: Any, k: Any) -> Any:
    """ln C(n, k), elementwise over integer arrays, or for plain ints."""
    lf = log_factorials(int(np.max(n)))
    return lf[n] - lf[k] - lf[np.subtract(n, k)]


_LOG_FACTORIALS = np.zeros(1)


def log_factorials(top: int) -> NDArray[np.float64]:
    """ln 0!, ln 1!, ... at least up to ln top!: one table, grown by doubling (a prefix of a cumulative sum
    does not depend on its length, so a grown table keeps every value it had)."""
    global _LOG_FACTORIALS
    if top >= _LOG_FACTORIALS.size:
        size = max(top + 1, 2 * _LOG_FACTORIALS.size)
        _LOG_FACTORIALS = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, size)))])
    return _LOG_FACTORIALS
