"""Calibrated thresholds from a signal's reference window, for a stated false-alarm rate.

The budget. A model may raise at most `model_false_alarm_rate` false drift alerts per event across
all its signals (default 1e-5: one per 100,000 events), and one signal at most
`target_false_alarm_rate`. The model's budget is split evenly (Bonferroni) over its signals, counted
from the features of its first event as each feature's value and missing-value signals plus the
prediction, its score, the error and the performance band (detectors/performance.py), and a
signal's share evenly over its calibrated detectors: a model with 500 features is held to the same
rate as a model with one.

Each detector turns its share into a threshold its own way:
- Rate CUSUM (the zero-config detector for location, spread, categories, missing values and the
  error bit): a one-sided log-likelihood-ratio CUSUM's mean run between false alarms is at least
  e**h (Lorden), so h = ln(statistics / rate). Its reference rates are the upper Wilson bound
  (z = REFERENCE_Z) of the rates counted in the reference window, which keeps the bound when the
  reference window saw the rate a little low by chance; a set never seen there still gets a small
  positive rate. Location takes the cells' shares as counted, with slack instead (LOCATION_Z).
- Page-Hinkley: river's defaults are tuned for nothing in particular (about 126 alarms on 200,000
  N(0, 1) values, about 6,000 at std 10). Calibration uses the classic test (alpha = 1) with delta
  and threshold in units of the reference standard deviation; the threshold grows with
  ln(1 / rate), as a CUSUM's average run length is exponential in it. The multipliers were chosen
  on Gaussian streams (0 alarms on 800,000 N(0, 1) values at 1e-5, a 1-sigma shift found in about
  50 events; see tests/unit/test_calibration.py).
- ADWIN's cut already adapts to the window's variance; its bound holds per check and it checks once
  every `clock` values, so delta = rate * clock keeps the per-event rate below the share. Calibrated,
  it watches each value's normal score against the reference (`ScoreTransform`), which bounds the
  values its bound assumes bounded.
"""

import math
from dataclasses import dataclass

import numpy as np

from detectors.adwin import AdwinParams
from detectors.base import DetectorParams, Floats
from detectors.page_hinkley import PageHinkleyParams
from detectors.rate_cusum import LOCATION_QUANTILES, SPREAD_QUANTILES, WATCHED_SETS, RateCusumParams, normal_scores

SCORE_QUANTILES = np.linspace(0.01, 0.99, 99)
PH_DELTA_SIGMAS = 0.25
PH_THRESHOLD_SIGMAS_AT_1E5 = 30.0
PH_MIN_INSTANCES = 100
REFERENCE_Z = 2.0
"""How far above the counted reference rate a rate CUSUM's reference sits, in standard errors."""
LOCATION_Z = 1.0
"""The location CUSUM's slack, in standard errors of the reference's mean score."""


@dataclass(frozen=True)
class Reference:
    """What a signal's reference holds: its values when the reference window filled, or only the mean
    and standard deviation a deployment announced (enough for Page-Hinkley and ADWIN)."""

    mean: float
    std: float
    values: Floats | None = None

    @classmethod
    def of(cls, values: Floats) -> "Reference":
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        return cls(float(values.mean()) if values.size else 0.0, std, values)


def signal_false_alarm_rate(target: float, model_rate: float, features: int) -> float:
    """One signal's share of the model's budget: each feature's value and missing signals, the
    prediction, its score, the error and the performance band share it evenly, and no signal gets more
    than `target`."""
    return min(target, model_rate / (2 * max(features, 1) + 4))


def needs_values(params: DetectorParams) -> bool:
    """Whether calibrating these parameters needs the reference's values, not just mean and std."""
    return isinstance(params, RateCusumParams | AdwinParams)


@dataclass(frozen=True)
class ScoreTransform:
    """Each value's normal score against the reference: the standard normal quantile of its mid-rank
    among the reference's percentiles, standardised. A calibrated ADWIN watches these scores, not the
    raw values: its bound assumes values that stay in a range, which heavy tails break (raw Student-t(3)
    values gave it two false alarms per 100,000 even at delta 1e-5), and scores keep it scale-free."""

    edges: Floats
    scores: Floats

    @classmethod
    def of(cls, reference: Floats) -> "ScoreTransform":
        edges, shares = reference_cells(reference, SCORE_QUANTILES)
        return cls(edges, np.asarray(normal_scores(shares.tolist())))

    def __call__(self, values: Floats) -> Floats:
        scored: Floats = self.scores[np.searchsorted(self.edges, values, side="right")]
        return scored


def calibrated(params: DetectorParams, reference: Reference, false_alarm_rate: float) -> DetectorParams:
    """Parameters for at most `false_alarm_rate` false drift alerts per event on this reference;
    detectors calibration does not know are returned unchanged."""
    if isinstance(params, PageHinkleyParams):
        sigma = max(reference.std, 1e-9 * max(1.0, abs(reference.mean)))
        scale = math.log(1.0 / false_alarm_rate) / math.log(1e5)
        return params.model_copy(update={
            "alpha": 1.0,
            "delta": PH_DELTA_SIGMAS * sigma,
            "threshold": PH_THRESHOLD_SIGMAS_AT_1E5 * scale * sigma,
            "min_instances": max(params.min_instances, PH_MIN_INSTANCES),
        })
    if isinstance(params, AdwinParams):
        return params.model_copy(update={"delta": min(params.delta, false_alarm_rate * params.clock)})
    if isinstance(params, RateCusumParams) and reference.values is not None and reference.values.size:
        return _rate_cusum(params, reference.values, false_alarm_rate)
    return params


def _rate_cusum(params: RateCusumParams, values: Floats, false_alarm_rate: float) -> RateCusumParams:
    if params.watch == "location":
        return _location(params, values, false_alarm_rate)
    if params.watch == "categories":
        return _categories(params, values, false_alarm_rate)
    sets = WATCHED_SETS[params.watch]
    edges: list[float] = []
    if params.watch == "spread":
        edges = [float(e) for e in np.quantile(values, SPREAD_QUANTILES)]
        cells = np.searchsorted(np.asarray(edges), values, side="right")
    else:
        cells = (values != 0.0).astype(np.int64)
    counts = [int(np.isin(cells, members).sum()) for members in sets]
    return RateCusumParams.model_validate({
        **params.model_dump(),
        "edges": edges,
        "rates": [wilson_upper(count, values.size, REFERENCE_Z) for count in counts],
        "threshold": math.log(len(sets) / false_alarm_rate),
    })


def reference_cells(values: Floats, quantiles: Floats | tuple[float, ...]) -> tuple[Floats, Floats]:
    """Cells cut at the reference's quantiles (fewer where ties merge them), plus one below its minimum
    and one above its maximum, and each cell's share of the reference, a cell it left empty given half
    a value: a value beyond anything the reference saw then scores as the rarity it is."""
    top = np.nextafter(values.max(), np.inf)
    edges = np.unique(np.concatenate([[values.min()], np.quantile(values, quantiles), [top]]))
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1) + 0.5
    shares: Floats = counts / counts.sum()
    return edges, shares


def _categories(params: RateCusumParams, codes: Floats, false_alarm_rate: float) -> RateCusumParams:
    """One cell per category code the reference holds and one after them for categories it never had;
    each cell's share at its upper Wilson bound."""
    cells = int(codes.max()) + 2
    counts = np.bincount(codes.astype(np.int64), minlength=cells)
    return RateCusumParams.model_validate({
        **params.model_dump(),
        "rates": [wilson_upper(int(count), codes.size, REFERENCE_Z) for count in counts.tolist()],
        "threshold": math.log(cells / false_alarm_rate),
    })


def _location(params: RateCusumParams, values: Floats, false_alarm_rate: float) -> RateCusumParams:
    """Decile cells and their shares (`reference_cells`); slack for the reference mean's own
    uncertainty, in the statistic's units: `shift` times LOCATION_Z standard errors."""
    edges, shares = reference_cells(values, LOCATION_QUANTILES)
    return RateCusumParams.model_validate({
        **params.model_dump(),
        "edges": edges.tolist(),
        "rates": shares.tolist(),
        "threshold": math.log(params.statistics_count() / false_alarm_rate),
        "slack": params.shift * LOCATION_Z / math.sqrt(values.size),
    })


def wilson_upper(successes: int, trials: int, z: float) -> float:
    """The upper end of the Wilson score interval for a rate: above zero even when nothing was seen."""
    p = successes / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return min(1.0, (centre + margin) / (1 + z2 / trials))
