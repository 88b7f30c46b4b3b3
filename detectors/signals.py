"""Signal names and what kind of drift each one reveals."""

from schemas.events import AlertKind

PREDICTION = "prediction"
SCORE = "score"
ERROR = "error"
PERFORMANCE = "performance"
"""Not a stream of values: the alert signal of a window whose performance dropped (detectors/performance.py)."""
ESTIMATED_PERFORMANCE = "estimated_performance"
"""Each scored prediction's chance of being right, as its score says (`confidence`): its mean over a window
is the expected accuracy, estimated without labels."""
JOINT = "joint"
"""Each event's squared Mahalanobis distance from the reference over its numeric features
(detectors/joint.py): drift in how features go together, their marginals unchanged."""
FEATURE_PREFIX = "feature:"
MISSING_PREFIX = "missing:"
CATEGORY_PREFIX = "category:"


def feature_signal(name: str) -> str:
    return f"{FEATURE_PREFIX}{name}"


def missing_signal(name: str) -> str:
    """The 0/1 signal of a feature's value being null or absent (1) in an event of its model."""
    return f"{MISSING_PREFIX}{name}"


def is_missing_signal(signal: str) -> bool:
    return signal.startswith(MISSING_PREFIX)


def score_signal(class_index: int | None) -> str:
    """`score` for a positive-class probability, `score:<k>` for class k's of a per-class score."""
    return SCORE if class_index is None else f"{SCORE}:{class_index}"


def category_signal(name: str) -> str:
    """The signal of a feature's categories (its text values): their mix against the reference's."""
    return f"{CATEGORY_PREFIX}{name}"


def is_category_signal(signal: str) -> bool:
    return signal.startswith(CATEGORY_PREFIX)


def kind_of(signal: str) -> AlertKind:
    if signal in (ERROR, PERFORMANCE, ESTIMATED_PERFORMANCE):
        return AlertKind.CONCEPT
    if signal in (PREDICTION, SCORE) or signal.startswith(SCORE + ":"):
        return AlertKind.PREDICTION
    return AlertKind.DATA


def numeric(value: object) -> float | None:
    """The number a detector is fed, or None for categories and missing values."""
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return None


def error_bit(prediction: float | str, label: float | str, threshold: float | None) -> int:
    """1 when the prediction was wrong: |p - y| > threshold for regression, p != y otherwise."""
    if threshold is not None and isinstance(prediction, float) and isinstance(label, float):
        return int(abs(prediction - label) > threshold)
    return int(prediction != label)


def confidence(prediction: float | str, score: float | list[float]) -> float:
    """The chance the prediction is right if its score is calibrated: the predicted class's probability
    (a 0/1 prediction against a positive-class score, a class index into a per-class score), else the
    largest (a class name, which the score's classes do not name: taken as the most likely one)."""
    if isinstance(score, float):
        if prediction == 1.0:
            return score
        if prediction == 0.0:
            return 1.0 - score
        return max(score, 1.0 - score)
    if isinstance(prediction, float) and prediction.is_integer() and 0 <= prediction < len(score):
        return score[int(prediction)]
    return max(score)
