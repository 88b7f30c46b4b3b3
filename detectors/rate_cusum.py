"""Rate CUSUM: a rise in how often values fall in a watched set, against the reference's rate.

Why it is the zero-config detector for bits and shapes: a value's indicator (an error, a missing
value, a value beyond the reference's 10% tails) is a 0/1 variable whatever the signal's scale,
tails or ties, and a one-sided log-likelihood-ratio CUSUM on a 0/1 variable has a false-alarm rate
that depends only on its threshold: with threshold h, the mean run between false alarms is at least
e**h (Lorden, 1971). The reference rate comes from the signal's own reference window (its upper
confidence bound, so a reference that happened to be quiet does not make every later window look
busy), and the threshold from the false-alarm budget (detectors/calibration.py).

`watch` says which sets: `rate` watches the value 1 of a 0/1 signal (the error bit, a feature's
missing bit); `spread` cuts a numeric signal at its reference's 10%, 25%, 75% and 90% quantiles and
watches the tails (below 10% or above 90%: the spread grows) and the middle half (it shrinks), so a
variance change is found with the mean unchanged. `location` cuts it at the reference's deciles and
watches, in both directions, the shares tilting towards higher (or lower) cells: a CUSUM on the
values' normal scores whose likelihood ratio is exact for the reference's own cell shares, so
heavy tails, ties and 0/1 values keep the bound. `categories` takes category codes (each category
of the reference its own cell, the last cell for categories the reference never had) and watches
every cell's share rising: a mix shift, or new categories arriving.

>>> import numpy as np
>>> from detectors.rate_cusum import RateCusum, RateCusumParams
>>> rng = np.random.default_rng(3)
>>> values = np.concatenate([rng.normal(size=3000), rng.normal(size=2000) * 2 ** 0.5])
>>> params = RateCusumParams(watch="spread", edges=[-1.28, -0.67, 0.67, 1.28], rates=[0.2, 0.5], threshold=14.0)
>>> RateCusum(params).update_many(values).drifts.tolist()[:1]
[3135]
"""

import math
import statistics
from typing import Literal

from pydantic import Field, model_validator

from detectors.base import DetectorParams
from detectors.kernels.rate_cusum import RateCusumKernel

SPREAD_QUANTILES = (0.10, 0.25, 0.75, 0.90)
LOCATION_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
WATCHED_SETS = {"rate": [[1]], "spread": [[0, 4], [2]]}
Watch = Literal["rate", "spread", "location", "categories"]


class RateCusumParams(DetectorParams):
    type: Literal["rate_cusum"] = "rate_cusum"
    watch: Watch = "rate"
    odds_ratio: float = Field(default=2.0, gt=1.0, le=100.0, description="rate, spread: the rise each CUSUM is "
                              "tuned to find")
    shift: float = Field(default=0.5, gt=0.0, le=5.0, description="location: the shift (in normal scores, about "
                         "standard deviations) each CUSUM is tuned to find")
    threshold: float = Field(default=13.8, gt=0.0, description="ln of the mean run between false alarms; "
                             "calibration sets it from the false-alarm budget")
    slack: float = Field(default=0.0, ge=0.0, description="taken off every increment: the reference's own "
                         "uncertainty (set by calibration)")
    edges: list[float] = Field(default_factory=list, description="spread, location: the reference's quantile "
                               "cuts (set by calibration)")
    rates: list[float] = Field(default_factory=list, description="rate, spread: each watched set's reference "
                               "rate; location: each cell's reference share (set by calibration)")

    @model_validator(mode="after")
    def _consistent(self) -> "RateCusumParams":
        if self.edges != sorted(self.edges):
            raise ValueError("edges must be sorted")
        if self.watch == "categories":
            if self.edges:
                raise ValueError("categories are fed as codes and take no edges")
        elif self.watch == "location":
            if self.rates and len(self.rates) != len(self.edges) + 1:
                raise ValueError("location needs one share per cell (one more than its edges)")
            if self.rates and (any(r <= 0.0 for r in self.rates) or abs(sum(self.rates) - 1.0) > 1e-6):
                raise ValueError("location shares must be positive and sum to 1")
        elif self.rates and len(self.rates) != len(WATCHED_SETS[self.watch]):
            raise ValueError(f"rates needs one rate per watched set ({len(WATCHED_SETS[self.watch])} for "
                             f"{self.watch!r})")
        if any(not 0.0 < r <= 1.0 for r in self.rates):
            raise ValueError("rates must be in (0, 1]")
        if self.watch == "spread" and self.edges and len(self.edges) != len(SPREAD_QUANTILES):
            raise ValueError(f"spread needs {len(SPREAD_QUANTILES)} edges")
        if self.watch == "rate" and self.edges:
            raise ValueError("rate watches a 0/1 value and takes no edges")
        return self

    def statistics_count(self) -> int:
        if self.watch == "categories":
            return max(len(self.rates), 1)
        return 2 if self.watch == "location" else len(WATCHED_SETS[self.watch])

    def cell_count(self) -> int:
        if self.watch == "categories":
            return max(len(self.rates), 2)
        if self.watch == "rate":
            return 2
        return len(self.edges) + 1 if self.edges else len(SPREAD_QUANTILES) + 1

    @property
    def calibrated(self) -> bool:
        return bool(self.rates) and (self.watch in ("rate", "categories") or bool(self.edges))

    def increment_rows(self) -> list[list[float]]:
        """Each statistic's increment per cell: its log-likelihood ratio, less the slack."""
        if not self.calibrated:  # never fed: the monitor waits for the reference
            return [[-1.0] * self.cell_count() for _ in range(self.statistics_count())]
        if self.watch == "categories":
            n_cells = self.cell_count()
            rows = [rate_increments(rate, self.odds_ratio, [cell], n_cells) for cell, rate in enumerate(self.rates)]
        elif self.watch == "location":
            scores = normal_scores(self.rates)
            rows = [tilted(self.rates, scores, self.shift), tilted(self.rates, [-s for s in scores], self.shift)]
        else:
            rows = [rate_increments(rate, self.odds_ratio, cells, self.cell_count())
                    for cells, rate in zip(WATCHED_SETS[self.watch], self.rates, strict=True)]
        return [[x - self.slack for x in row] for row in rows]


def rate_increments(rate: float, odds_ratio: float, cells: list[int], n_cells: int) -> list[float]:
    """One set's increment per cell: the log-likelihood ratio of the rate risen by `odds_ratio` against
    `rate`. A set the reference already fills (rate 1) cannot rise: it only ever falls."""
    if rate >= 1.0:
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
    log_normaliser = math.log(sum(p * math.exp(shift * s) for p, s in zip(shares, scores, strict=True)))
    return [shift * s - log_normaliser for s in scores]


class RateCusum(RateCusumKernel):
    """Compiled (detectors/kernels/rate_cusum.py)."""
