"""Streams shared by tests: river's docstring streams and helpers that wrap values as events."""

import random
from collections.abc import Iterable

from schemas import FeatureEvent, PredictionEvent


def two_regimes(seed: int = 12345) -> list[float]:
    """river's ADWIN / Page-Hinkley / KSWIN docstring stream: drift at 1000."""
    rng = random.Random(seed)
    return [float(x) for x in rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)]


def error_bits(seed: int = 42) -> list[int]:
    """river's DDM / EDDM / HDDM docstring stream: error rate 0.5 then 0.7 from 1000."""
    rng = random.Random(seed)
    return rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])


def feature_events(values: Iterable[float], *, model_id: str = "m", name: str = "x",
                   version: str = "1") -> list[FeatureEvent]:
    return [FeatureEvent(model_id=model_id, model_version=version, event_id=f"e{i}", ts=float(i), features={name: v})
            for i, v in enumerate(values)]


def labelled_predictions(bits: Iterable[int], *, model_id: str = "m") -> list[PredictionEvent]:
    """Predictions whose inline label is wrong exactly where the bit is 1."""
    return [PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                            prediction="a", label="b" if bit else "a") for i, bit in enumerate(bits)]
