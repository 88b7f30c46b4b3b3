"""Calibrated thresholds from a signal's reference window.

River's Page-Hinkley defaults are tuned for nothing in particular: on 200,000 stationary N(0, 1)
values they raise about 126 alarms. Two things cause it. Its fading factor alpha < 1 makes the
cumulative sum a stationary process whose distance from its running minimum routinely exceeds a
fixed threshold, and its delta and threshold are absolute, not in units of the signal's spread.
Calibration uses the classic test (alpha = 1) with delta and threshold in units of the reference
standard deviation. The multipliers were chosen on Gaussian streams (0 alarms on 800,000
N(0, 1) values at the default target, a 1-sigma shift found in about 50 events; see the test).
The threshold grows with ln(1 / target rate), as a CUSUM's average run length is exponential in
it.

ADWIN's cut already adapts to the window's variance; its false alarm bound holds per check and it
checks once every `clock` values, so delta = target_rate * clock keeps the per-event rate below
the target.
"""

import math

from detectors.adwin import AdwinParams
from detectors.base import DetectorParams
from detectors.page_hinkley import PageHinkleyParams

PH_DELTA_SIGMAS = 0.25
PH_THRESHOLD_SIGMAS_AT_1E5 = 30.0
PH_MIN_INSTANCES = 100


def calibrated(params: DetectorParams, reference_std: float, reference_mean: float,
               target_false_alarm_rate: float) -> DetectorParams:
    """Parameters tuned to the reference window; detectors other than ADWIN and Page-Hinkley unchanged."""
    if isinstance(params, PageHinkleyParams):
        sigma = max(reference_std, 1e-9 * max(1.0, abs(reference_mean)))
        scale = math.log(1.0 / target_false_alarm_rate) / math.log(1e5)
        return params.model_copy(update={
            "alpha": 1.0,
            "delta": PH_DELTA_SIGMAS * sigma,
            "threshold": PH_THRESHOLD_SIGMAS_AT_1E5 * scale * sigma,
            "min_instances": max(params.min_instances, PH_MIN_INSTANCES),
        })
    if isinstance(params, AdwinParams):
        return params.model_copy(update={"delta": min(params.delta, target_false_alarm_rate * params.clock)})
    return params
