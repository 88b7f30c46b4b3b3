"""References given rather than learnt: a signal's reference summarised as a bounded sketch, and back.

Why: a model's first 500 values after a deployment are a small reference, and nothing alerts until
they are in. A trainer knows its validation data, and a user may know a period that was normal; given
as `ReferenceStats` (a quantile sketch of 101 values for numbers, counts per category, a rate for a
0/1 signal) with a deployment, every detector is calibrated from it at once, as mature as its count.
The sketch is bounded (at most 101 numbers or 64 categories a signal, about 2 KB as JSON) and
mergeable in the ways that matter here (counts add; a sketch is redrawn from the merged values).

The monitor turns a sketch back into values (`pseudo_values`: the quantile function at evenly spaced
ranks, in a fixed shuffled order) and calibrates on them as on its own reference; its rate CUSUMs then
count `count` values, so a reference of 20,000 given values is as tight as one matured to 20,000.
"""

from collections import Counter
from collections.abc import Sequence

import numpy as np

from detectors.base import Floats
from detectors.signals import (
    ERROR,
    PREDICTION,
    SCORE,
    category_signal,
    error_bit,
    feature_signal,
    missing_signal,
    numeric,
)
from schemas.events import REFERENCE_CATEGORIES, REFERENCE_QUANTILES, FeatureEvent, PredictionEvent, ReferenceStats

ORDER_SEED = 0
"""The pseudo-sample's order: shuffled (a sorted one would read as autocorrelated), the same every time."""


def numeric_reference(values: Floats) -> ReferenceStats:
    values = np.asarray(values, dtype=np.float64)
    return ReferenceStats(count=int(values.size), mean=float(values.mean()),
                          std=float(values.std(ddof=1)) if values.size > 1 else 0.0,
                          quantiles=np.quantile(values, np.linspace(0.0, 1.0, REFERENCE_QUANTILES)).tolist())


def rate_reference(bits: Floats) -> ReferenceStats:
    bits = np.asarray(bits, dtype=np.float64)
    return ReferenceStats(count=int(bits.size), mean=float(bits.mean()), std=float(bits.std()))


def category_reference(names: Sequence[str]) -> ReferenceStats:
    counts = Counter(names).most_common(REFERENCE_CATEGORIES)
    return ReferenceStats(count=len(names), mean=0.0, std=0.0, categories=dict(counts))


def references_of(events: Sequence[PredictionEvent | FeatureEvent], *, error_threshold: float | None = None,
                  minimum: int = 2) -> dict[str, ReferenceStats]:
    """Every signal's reference from a model's events: its numeric features, their categories and
    missing bits, the prediction (numbers or class names), a positive-class score and, where events
    are labelled, the error bit. Signals with fewer than `minimum` values are left to learn their own."""
    found: dict[str, ReferenceStats] = {}
    names = list(dict.fromkeys(name for e in events for name in e.features))
    for name in names:
        raw = [e.features.get(name) for e in events]
        numbers = [x for v in raw if (x := numeric(v)) is not None]
        texts = [v if isinstance(v, str) else ("true" if v else "false") for v in raw if isinstance(v, str | bool)]
        if len(numbers) >= minimum:
            found[feature_signal(name)] = numeric_reference(np.array(numbers))
        if len(texts) >= minimum:
            found[category_signal(name)] = category_reference(texts)
        found[missing_signal(name)] = rate_reference(np.array([float(v is None) for v in raw]))
    predictions = [e for e in events if isinstance(e, PredictionEvent)]
    guesses = [e.prediction for e in predictions]
    numbers = [g for g in guesses if isinstance(g, float)]
    classes = [g for g in guesses if isinstance(g, str)]
    if guesses and isinstance(guesses[0], str) and len(classes) >= minimum:
        found[PREDICTION] = category_reference(classes)
    elif len(numbers) >= minimum:
        found[PREDICTION] = numeric_reference(np.array(numbers))
    scores = [e.score for e in predictions if isinstance(e.score, float)]
    if len(scores) >= minimum:
        found[SCORE] = numeric_reference(np.array(scores))
    labelled = [(e.prediction, e.label) for e in predictions if e.label is not None]
    if len(labelled) >= minimum:
        found[ERROR] = rate_reference(np.array([error_bit(p, y, error_threshold) for p, y in labelled], dtype=float))
    return found


def pseudo_values(reference: ReferenceStats, size: int) -> Floats | None:
    """`size` values with the reference's distribution, from its quantile sketch; None without one."""
    order = np.random.default_rng(ORDER_SEED).permutation(size)
    if reference.quantiles is not None:
        ranks = (np.arange(size) + 0.5) / size
        values: Floats = np.interp(ranks, np.linspace(0.0, 1.0, REFERENCE_QUANTILES), reference.quantiles)
        return values[order]
    return None


def pseudo_bits(reference: ReferenceStats, size: int) -> Floats:
    """`size` bits of a 0/1 signal at the reference's rate (its mean), shuffled."""
    ones = round(min(max(reference.mean, 0.0), 1.0) * size)
    bits = np.zeros(size)
    bits[:ones] = 1.0
    shuffled: Floats = bits[np.random.default_rng(ORDER_SEED).permutation(size)]
    return shuffled


def pseudo_categories(reference: ReferenceStats, size: int) -> tuple[list[str], Floats] | None:
    """The reference's categories, most common first, and `size` codes in their proportions (largest
    remainders), shuffled; None when it holds no categories."""
    if not reference.categories:
        return None
    names = sorted(reference.categories, key=lambda name: -reference.categories[name])  # type: ignore[index]
    counts = np.array([reference.categories[name] for name in names], dtype=np.float64)
    exact = counts / counts.sum() * size
    taken = np.floor(exact).astype(np.int64)
    for k in np.argsort(-(exact - taken))[: size - int(taken.sum())]:
        taken[k] += 1
    codes = np.repeat(np.arange(len(names), dtype=np.float64), taken)
    shuffled: Floats = codes[np.random.default_rng(ORDER_SEED).permutation(size)]
    return names, shuffled
