"""Rate CUSUM: a change in how often values fall in a watched set, against the reference's rate.

Why it is the zero-config detector for bits and shapes: a value's indicator (an error, a missing
value, a value beyond the reference's 10% tails) is a 0/1 variable whatever the signal's scale,
tails or ties, and a one-sided log-likelihood-ratio CUSUM on a 0/1 variable has a false-alarm rate
that depends only on its threshold: with threshold h, the mean run between false alarms is at least
e**h (Lorden, 1971). The reference rate comes from the signal's own reference (the end of its
confidence interval the change moves away from, so a reference that happened to be quiet does not
make every later window look busy), and the threshold from the false-alarm budget
(detectors/calibration.py).

Any change size. A CUSUM tuned to one alternative (say a doubling) drifts down, never up, under a
smaller change. So each watched set has a bank of CUSUMs, one per alternative in `odds_ratios`
(location: `shifts`), run side by side and calibrated together: the threshold is ln(statistics /
rate), so the bank keeps the budget while a 1.25x rise and a 16x rise each meet a CUSUM close to
the best one for them (within ln(statistics) of the delay of a CUSUM told the change in advance).

`watch` says which sets: `rate` watches the value 1 of a 0/1 signal (the error bit, a feature's
missing bit); `spread` cuts a numeric signal at its reference's 10%, 25%, 75% and 90% quantiles and
watches the tails (below 10% or above 90%: the spread grows) and the middle half (it shrinks), so a
variance change is found with the mean unchanged. `location` cuts it at the reference's quantiles and
watches, in both directions, the shares tilting towards higher (or lower) cells: a CUSUM on the
values' normal scores whose likelihood ratio is exact for the reference's own cell shares, so
heavy tails, ties and 0/1 values keep the bound. `scale` takes the same cells and tilts them by the
squared normal scores: for Gaussian scores exactly the likelihood ratio of their spread multiplied
by each of `scales` (0.5 to 1.5), so a 15% narrowing meets its own CUSUM on sixteen cells, where
`spread`'s two sets see it through five. `categories` takes category codes (each category
of the reference its own cell, the last cell for categories the reference never had) and watches
every cell's share. `direction = "both"` also watches each set's rate falling (a category
vanishing, a null rate dropping); `up`, the default but for location, only rising (an error rate
falling is not drift); `down` only falling (location: an estimated accuracy dropping).

The reference matures: `counts` holds the reference's values per cell, and `absorb` adds a later
stretch of stable values to them (the monitor decides which, detectors/maturing.py), so the
reference's rates, shares and slack tighten as it grows while edges and statistics stay.
`dependence` divides every increment: an autocorrelated reference's variance inflation
(`detectors.stats.variance_inflation`), so a stationary but dependent stream keeps the bound.

>>> import numpy as np
>>> from detectors.rate_cusum import RateCusum, RateCusumParams
>>> rng = np.random.default_rng(3)
>>> values = np.concatenate([rng.normal(size=3000), rng.normal(size=2000) * 2 ** 0.5])
>>> params = RateCusumParams(watch="spread", edges=[-1.28, -0.67, 0.67, 1.28], rates=[0.2, 0.5], threshold=14.0)
>>> RateCusum(params).update_many(values).drifts.tolist()[:1]
[3124]
"""

import math
import statistics
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from detectors.base import DetectorParams, Floats
from detectors.kernels.rate_cusum import RateCusumKernel
from detectors.stats import variance_inflation, wilson_lower, wilson_upper

SPREAD_QUANTILES = (0.10, 0.25, 0.75, 0.90)
LOCATION_QUANTILES = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)
WATCHED_SETS = {"rate": [[1]], "spread": [[0, 4], [2]]}
ODDS_RATIOS = (1.25, 1.5, 2.0, 4.0, 16.0)
SHIFTS = (0.25, 0.5, 1.0, 2.0)
SCALES = (0.5, 0.7, 0.85, 1.2, 1.5)
REFERENCE_Z = (1.0, 2.0)
"""How far a rate CUSUM's reference rate sits from the counted one, in standard errors, towards the
change it watches for: between these, as `reference_z` says."""
MARGIN_Z = 3.0
"""How many standard errors off a reference must be before any statistic of its bank drifts up."""
LOCATION_Z = 1.0
"""The location CUSUM's slack, in standard errors of the reference's mean score."""
Watch = Literal["rate", "spread", "location", "scale", "categories"]
Direction = Literal["up", "down", "both"]


class RateCusumParams(DetectorParams):
    type: Literal["rate_cusum"] = "rate_cusum"
    watch: Watch = "rate"
    odds_ratios: list[float] = Field(default_factory=lambda: list(ODDS_RATIOS), min_length=1, description="rate, "
                                     "spread, categories: the rises (odds ratios) the bank's CUSUMs are tuned to")
    shifts: list[float] = Field(default_factory=lambda: list(SHIFTS), min_length=1, description="location: the "
                                "shifts (in normal scores, about standard deviations) the bank's CUSUMs are tuned to")
    scales: list[float] = Field(default_factory=lambda: list(SCALES), min_length=1, description="scale: the "
                                "factors on the normal scores' spread (below 1: narrowing) the bank is tuned to")
    direction: Direction | None = Field(default=None, description="'up' (rises only), 'down' (falls only) or "
                                        "'both'; unset: both for location, up for the others")
    falls: Literal["drift", "improvement"] = Field(default="drift", description="rate: what a fall found by "
                                                    "direction 'both' or 'down' is; 'improvement' reports it as a "
                                                    "warning marked improvement (an error rate falling), never drift")
    odds_ratio: float | None = Field(default=None, gt=1.0, le=100.0, description="a bank of this one rise "
                                     "(snapshots from before the bank)")
    shift: float | None = Field(default=None, gt=0.0, le=5.0, description="a bank of this one shift (snapshots "
                                "from before the bank)")
    threshold: float = Field(default=13.8, gt=0.0, description="ln of the mean run between false alarms; "
                             "calibration sets it from the false-alarm budget")
    slack: float = Field(default=0.0, ge=0.0, description="taken off every increment, besides what the counts' "
                         "own uncertainty takes")
    edges: list[float] = Field(default_factory=list, description="spread, location: the reference's quantile "
                               "cuts (set by calibration)")
    rates: list[float] = Field(default_factory=list, description="rate, spread: each watched set's reference "
                               "rate; location: each cell's reference share; categories: each cell's share (set "
                               "by calibration; taken as exact when no counts are given)")
    counts: list[float] = Field(default_factory=list, description="the reference's values per cell (set by "
                                "calibration, grown as the reference matures); rates follow from them")
    dependence: float = Field(default=1.0, ge=1.0, description="the reference's variance inflation from "
                              "autocorrelation; every increment is divided by it")

    @model_validator(mode="after")
    def _consistent(self) -> "RateCusumParams":
        if self.edges != sorted(self.edges):
            raise ValueError("edges must be sorted")
        if any(r <= 1.0 for r in self.odds_ratios) or any(s <= 0.0 for s in self.shifts):
            raise ValueError("odds ratios must be above 1 (a fall is watched as the inverse), shifts positive")
        if any(f <= 0.0 or f == 1.0 for f in self.scales):
            raise ValueError("scales must be positive and not 1")
        if self.watch == "categories":
            if self.edges:
                raise ValueError("categories are fed as codes and take no edges")
        elif self.watch in ("location", "scale"):
            if self.rates and len(self.rates) != len(self.edges) + 1:
                raise ValueError(f"{self.watch} needs one share per cell (one more than its edges)")
            if self.rates and (any(r <= 0.0 for r in self.rates) or abs(sum(self.rates) - 1.0) > 1e-6):
                raise ValueError(f"{self.watch} shares must be positive and sum to 1")
        elif self.rates and len(self.rates) != len(WATCHED_SETS[self.watch]):
            raise ValueError(f"rates needs one rate per watched set ({len(WATCHED_SETS[self.watch])} for "
                             f"{self.watch!r})")
        if any(not 0.0 <= r <= 1.0 for r in self.rates):
            raise ValueError("rates must be in [0, 1]")
        if self.watch == "spread" and self.edges and len(self.edges) != len(SPREAD_QUANTILES):
            raise ValueError(f"spread needs {len(SPREAD_QUANTILES)} edges")
        if self.watch == "rate" and self.edges:
            raise ValueError("rate watches a 0/1 value and takes no edges")
        if self.counts and len(self.counts) != self.cell_count():
            raise ValueError("counts needs one count per cell")
        return self

    def alternatives(self) -> list[float]:
        """The bank: the odds ratios (location: shifts) its CUSUMs are tuned to; a fall is the inverse ratio."""
        if self.watch == "location":
            return [self.shift] if self.shift is not None else list(self.shifts)
        if self.watch == "scale":
            return list(self.scales)
        rises = [self.odds_ratio] if self.odds_ratio is not None else list(self.odds_ratios)
        falls = [1.0 / r for r in rises]
        return {"down": falls, "both": rises + falls}.get(self.direction or "up", rises)

    def watched_sets(self) -> list[list[int]]:
        if self.watch == "categories":
            return [[cell] for cell in range(self.cell_count())]
        if self.watch == "location":  # towards higher cells, towards lower ones
            return {"up": [[1]], "down": [[-1]]}.get(self.direction or "both", [[1], [-1]])
        if self.watch == "scale":  # one family, its alternatives both narrower and wider
            return [[0]]
        return WATCHED_SETS[self.watch]

    def statistics_count(self) -> int:
        return len(self.watched_sets()) * len(self.alternatives())

    def cell_count(self) -> int:
        if self.watch == "categories":
            return max(len(self.rates), len(self.counts), 2)
        if self.watch == "rate":
            return 2
        return len(self.edges) + 1 if self.edges else len(SPREAD_QUANTILES) + 1

    @property
    def calibrated(self) -> bool:
        return bool(self.rates) and (self.watch in ("rate", "categories") or bool(self.edges))

    @property
    def reference_size(self) -> int:
        """How many values the reference's counts hold (0: rates given, taken as exact)."""
        return int(sum(self.counts))

    def row_labels(self) -> list[tuple[int, float]]:
        """Each statistic's watched set (location: +1 or -1, the direction) and alternative."""
        sets = self.watched_sets()
        return [(cells[0] if self.watch == "location" else k, alternative)
                for k, cells in enumerate(sets) for alternative in self.alternatives()]

    def increment_rows(self) -> list[list[float]]:
        """Each statistic's increment per cell: its log-likelihood ratio, less the slack, over the
        dependence. The reference's uncertainty (Wilson bounds, location slack) is that of its effective
        size, its count over the dependence."""
        n_cells = self.cell_count()
        if not self.calibrated:  # never fed: the monitor waits for the reference
            return [[-1.0] * n_cells for _ in range(self.statistics_count())]
        size = self.reference_size / self.dependence  # an autocorrelated reference knows less than its count
        rows: list[list[float]] = []
        if self.watch == "scale":
            squares = [s * s for s in normal_scores(self.rates)]
            spread = math.sqrt(sum(p * (q - 1.0) ** 2 for p, q in zip(self.rates, squares, strict=True)))
            for factor in self.alternatives():
                theta = (1.0 - 1.0 / (factor * factor)) / 2.0
                own = abs(theta) * LOCATION_Z * spread / math.sqrt(size) if size else 0.0
                rows.append([x - own for x in tilted(self.rates, squares, theta)])
        elif self.watch == "location":
            scores = normal_scores(self.rates)
            for direction in (float(cells[0]) for cells in self.watched_sets()):
                for shift in self.alternatives():
                    own = shift * LOCATION_Z / math.sqrt(size) if size else 0.0
                    row = tilted(self.rates, [direction * s for s in scores], shift)
                    rows.append([x - own for x in row])
        else:
            alternatives = self.alternatives()
            for cells, rate in zip(self.watched_sets(), self.rates, strict=True):
                for ratio in alternatives:
                    rises = ratio > 1.0
                    reference = rate
                    if size:
                        smallest = min(r for r in alternatives if r > 1.0) if rises else \
                            max(r for r in alternatives if r < 1.0)
                        z = reference_z(rate, size, smallest)
                        reference = (wilson_upper if rises else wilson_lower)(rate * size, size, z)
                    rows.append(rate_increments(reference, ratio, cells, n_cells))
        return [[(x - self.slack) / self.dependence for x in row] for row in rows]

    def absorb(self, chunk: list[float]) -> "RateCusumParams":
        """These parameters with `chunk` (values per cell) added to the reference's counts."""
        counts = [a + b for a, b in zip(self.counts, chunk, strict=True)]
        return self.model_copy(update={"counts": counts, "rates": rates_of(self.watch, counts)})

    def fits_reference(self, chunk: list[float], alpha: float = 1e-3) -> bool:
        """Whether a stretch of values (per cell) is like the reference: a G-test of the two samples'
        cell counts at level `alpha`, its statistic divided by the dependence. A stretch that fails stays
        out of the reference, so a slow drift is not learnt as normal."""
        size, taken = self.reference_size, sum(chunk)
        if not size or not taken:
            return False
        together = [a + b for a, b in zip(self.counts, chunk, strict=True)]
        total = size + taken
        g = 0.0
        for sample, n in ((self.counts, size), (chunk, taken)):
            for observed, both in zip(sample, together, strict=True):
                if observed > 0.0:
                    g += 2.0 * observed * math.log(observed * total / (n * both))
        used = sum(1 for both in together if both > 0.0)
        return used < 2 or g / self.dependence <= chi2_quantile(1.0 - alpha, used - 1)


def calibrate(params: RateCusumParams, values: Floats, false_alarm_rate: float) -> RateCusumParams:
    """Edges, counts, rates, dependence and threshold from a reference of values (category codes for
    `categories`, 0/1 bits for `rate`), for at most `false_alarm_rate` false alarms per value."""
    if params.watch in ("location", "scale"):
        edges = reference_cells(values, LOCATION_QUANTILES)
    elif params.watch == "spread":
        edges = between_values(np.quantile(values, SPREAD_QUANTILES), values)
    else:
        edges = np.empty(0)
    if params.watch == "categories":
        cells, n_cells = values.astype(np.int64), int(values.max()) + 2  # and one for categories never seen
    elif params.watch == "rate":
        cells, n_cells = (values != 0.0).astype(np.int64), 2
    else:
        cells, n_cells = np.searchsorted(edges, values, side="right"), edges.size + 1
    counts = np.bincount(cells, minlength=n_cells).astype(np.float64).tolist()
    fitted = RateCusumParams.model_validate({
        **params.model_dump(), "edges": edges.tolist(), "counts": counts,
        "rates": rates_of(params.watch, counts), "dependence": 1.0,
    })
    rows = np.asarray(fitted.increment_rows())
    dependence = max(variance_inflation(row[cells]) for row in rows)
    return fitted.model_copy(update={
        "dependence": dependence,
        "threshold": math.log(fitted.statistics_count() / false_alarm_rate),
    })


def reference_z(rate: float, size: float, smallest: float) -> float:
    """The Wilson z of a rate counted over `size` values, for a bank whose smallest move is the odds
    ratio `smallest`. That CUSUM's statistic drifts up only if the true rate is beyond its break-even
    rate (between the reference and the alternative); a reference off by less than that is harmless.
    So the bound charges only what the break-even leaves of MARGIN_Z standard errors: the full 2 on a
    young reference, where the break-even is within a standard error, 1 on a mature one, where it is
    several away (a 5% rate counted 20,000 times: 3.4). A matured reference then sees a 1.5x rise
    about a sixth sooner, at the same margin."""
    low, high = REFERENCE_Z
    if not 0.0 < rate < 1.0:
        return high
    se = math.sqrt(rate * (1.0 - rate) / size)
    p1 = smallest * rate / (1.0 - rate + smallest * rate)
    inside, outside = math.log(p1 / rate), math.log((1.0 - p1) / (1.0 - rate))
    break_even = -outside / (inside - outside)  # the true rate at which its statistic neither rises nor falls
    return min(high, max(low, MARGIN_Z - abs(break_even - rate) / se))


def rates_of(watch: Watch, counts: list[float]) -> list[float]:
    """The rates a CUSUM compares with, from the reference's values per cell: each watched set's share
    (location: each cell's share, a cell left empty given half a value, so a value beyond anything the
    reference saw scores as the rarity it is)."""
    total = sum(counts)
    if watch in ("location", "scale"):
        smoothed = [c + 0.5 for c in counts]
        return [c / sum(smoothed) for c in smoothed]
    if watch == "categories":
        return [c / total for c in counts]
    return [sum(counts[cell] for cell in cells) / total for cells in WATCHED_SETS[watch]]


def reference_cells(values: Floats, quantiles: tuple[float, ...] | Floats) -> Floats:
    """Cuts at the reference's quantiles (fewer where ties merge them), plus its minimum and just above
    its maximum: a cell below and one above anything the reference saw; each cut off the values
    (`between_values`)."""
    top = values.max() + _margin(values.max())
    edges = np.unique(np.concatenate([[values.min()], np.quantile(values, quantiles), [top]]))
    return np.unique(between_values(edges, values))


def between_values(edges: Floats, values: Floats) -> Floats:
    """Each cut that falls on a value the reference holds, moved halfway down to the next lower one (or
    just below the smallest). Why: the reference is kept as float32 (detectors/windows.py) and live
    values come as float64, so a tied value such as 1/9 sits a rounding above a cut made from the
    reference and a rounding below it live: the whole tie changed cells, and a stationary stream of a
    few distinct values looked like drift."""
    distinct = np.unique(values)
    j = np.searchsorted(distinct, edges, side="left")
    on = (j < distinct.size) & (distinct[np.minimum(j, distinct.size - 1)] == edges)
    lower = np.where(j > 0, distinct[np.maximum(j - 1, 0)], edges - 2.0 * _margin(edges))
    moved: Floats = np.maximum.accumulate(np.where(on, (lower + edges) / 2.0, edges))  # a cut moved below an
    return moved  # interpolated one just before it meets it instead


def _margin(x: Floats | float) -> Floats | float:
    """Well beyond float32 rounding of x, well within any real gap between values."""
    return np.abs(x) * 1e-6 + 1e-12


def rate_increments(rate: float, odds_ratio: float, cells: list[int], n_cells: int) -> list[float]:
    """One set's increment per cell: the log-likelihood ratio of the rate moved by `odds_ratio` against
    `rate`. A set the reference already fills (rate 1) cannot rise, and one it never holds (rate 0)
    cannot fall: those statistics only ever fall."""
    if (odds_ratio > 1.0 and rate >= 1.0 - 1e-12) or (odds_ratio < 1.0 and rate <= 1e-12):
        return [-1.0] * n_cells
    p1 = odds_ratio * rate / (1.0 - rate + odds_ratio * rate)
    inside, outside = math.log(p1 / rate), math.log((1.0 - p1) / (1.0 - rate))
    return [inside if cell in cells else outside for cell in range(n_cells)]


def normal_scores(shares: list[float]) -> list[float]:
    """Each cell's normal score (the standard normal quantile of its mid-rank), standardised to mean 0
    and variance 1 under the shares: ties and atoms shrink the scores, never the test's bound."""
    scores, below = [], 0.0
    for share in shares:
        scores.append(statistics.NormalDist().inv_cdf(min(max(below + share / 2.0, 1e-9), 1.0 - 1e-9)))
        below += share
    mean = sum(p * s for p, s in zip(shares, scores, strict=True))
    spread = math.sqrt(sum(p * (s - mean) ** 2 for p, s in zip(shares, scores, strict=True)))
    return [(s - mean) / spread if spread > 0.0 else 0.0 for s in scores]


def tilted(shares: list[float], scores: list[float], shift: float) -> list[float]:
    """The log-likelihood ratio per cell of the shares tilted towards higher scores by `shift` against
    the shares: for Gaussian scores, a mean shift of `shift` standard deviations."""
    exponents = [shift * s for s in scores]
    top = max(exponents)  # log-sum-exp: a nearly constant signal's outer cells have scores in the hundreds
    log_normaliser = top + math.log(sum(p * math.exp(x - top) for p, x in zip(shares, exponents, strict=True)))
    return [x - log_normaliser for x in exponents]


def chi2_quantile(p: float, df: int) -> float:
    """The chi-square distribution's p-quantile, by Wilson and Hilferty's cube-root normal approximation."""
    z = statistics.NormalDist().inv_cdf(p)
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + z * math.sqrt(a)) ** 3


class RateCusum(RateCusumKernel):
    """Compiled (detectors/kernels/rate_cusum.py)."""
