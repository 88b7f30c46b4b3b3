"""Calibrated thresholds from a signal's reference window, for a stated false-alarm rate.

The budget. A model may raise at most `model_false_alarm_rate` false drift alerts per event across
all its signals (default 1e-5: one per 100,000 events), and one signal at most
`target_false_alarm_rate`. The model's budget is split evenly (Bonferroni) over its signals, counted
from the features of its first event as each feature's value and missing-value signals plus the
joint signal, the prediction, its score, the performance estimated from it, the error and the performance band
(detectors/performance.py), and a
signal's share evenly over its calibrated detectors: a model with 500 features is held to the same
rate as a model with one.

Each detector turns its share into a threshold its own way:
- Rate CUSUM (the zero-config detector for location, scale, categories, missing values and the
  error bit): a one-sided log-likelihood-ratio CUSUM's mean run between false alarms is at least
  e**h (Lorden), so a bank of them gets h = ln(statistics / rate). Its calibration lives beside its
  parameters (`detectors.rate_cusum.calibrate`): Wilson bounds on the counted rates, slack on the
  location shares, and the reference's autocorrelation dividing every increment.
- Page-Hinkley: river's defaults are tuned for nothing in particular (about 126 alarms on 200,000
  N(0, 1) values, about 6,000 at std 10). Calibration uses the classic test (alpha = 1) with delta
  and threshold in units of the reference standard deviation; the threshold grows with
  ln(1 / rate), as a CUSUM's average run length is exponential in it. The multipliers were chosen
  on Gaussian streams (0 alarms on 800,000 N(0, 1) values at 1e-5, a 1-sigma shift found in about
  50 events; see tests/unit/test_calibration.py).
- ADWIN's cut already adapts to the window's variance; its bound holds per check and it checks once
  every `clock` values, so delta = rate * clock keeps the per-event rate below the share. Calibrated,
  it watches each value's normal score against the reference (`ScoreTransform`), which bounds the
  values its bound assumes bounded; an autocorrelated reference raises ln(1 / delta) by its variance
  inflation.
"""

import math
from dataclasses import dataclass

import numpy as np

from detectors.adwin import AdwinParams
from detectors.base import DetectorParams, Floats
from detectors.page_hinkley import PageHinkleyParams
from detectors.rate_cusum import RateCusumParams, normal_scores, rates_of, reference_cells
from detectors.rate_cusum import calibrate as calibrate_rate_cusum
from detectors.stats import variance_inflation

SCORE_QUANTILES = np.linspace(0.01, 0.99, 99)
PH_DELTA_SIGMAS = 0.25
PH_THRESHOLD_SIGMAS_AT_1E5 = 30.0
PH_MIN_INSTANCES = 100
ADWIN_LOG_LOG_TERM = 20.0
"""About 2 ln(n) in ADWIN's cut, ln(2 ln(n) / delta), for windows of thousands of values."""


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
    """One signal's share of the model's budget: each feature's value and missing signals, the joint
    signal, the prediction, its score, the performance estimated from it, the error and the performance
    band share it evenly, and no signal gets more than `target`."""
    return min(target, model_rate / (2 * max(features, 1) + 6))


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
        edges, shares = reference_shares(reference, SCORE_QUANTILES)
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
        return _adwin(params, reference, false_alarm_rate)
    if isinstance(params, RateCusumParams) and reference.values is not None and reference.values.size:
        return calibrate_rate_cusum(params, reference.values, false_alarm_rate)
    return params


def _adwin(params: AdwinParams, reference: Reference, false_alarm_rate: float) -> AdwinParams:
    """delta for the rate per check; for an autocorrelated reference, ln(1 / delta) times its normal
    scores' variance inflation, which widens ADWIN's cut (its variance term goes with sqrt(ln(1 / delta)))
    as much as the dependence widens the means' spread."""
    delta = min(params.delta, false_alarm_rate * params.clock)
    if reference.values is not None and reference.values.size:
        inflation = variance_inflation(ScoreTransform.of(reference.values)(reference.values))
        if inflation > 1.0:
            delta = delta ** inflation / ADWIN_LOG_LOG_TERM ** (inflation - 1.0)
    return params.model_copy(update={"delta": max(delta, 1e-300)})


def reference_shares(values: Floats, quantiles: Floats | tuple[float, ...]) -> tuple[Floats, Floats]:
    """The reference's cells (`rate_cusum.reference_cells`) and each cell's share of it, an empty cell
    given half a value."""
    edges = reference_cells(values, quantiles)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)
    return edges, np.asarray(rates_of("location", counts.astype(np.float64).tolist()))
