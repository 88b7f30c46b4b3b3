"""A model's performance over tumbling windows of labelled predictions, against its reference window.

Why, beside the error signal: the error bit's rate CUSUM finds a rise in the error rate fast, but it
says nothing of which classes suffer (a minority class whose recall collapses barely moves the error
rate), and a regression model without `error_threshold` has no meaningful error bit at all. Here
each window of `windows.size` labelled predictions, in the order their labels were joined (the error
signal's order), closes with accuracy, precision, recall and F1 (of `positive_class`, or macro over
classes) or MAE and RMSE. The first `windows.reference_size` pairs after a reset are the reference.

The band. A window whose performance is worse than the reference's by more than chance raises one
`concept` alert on signal `performance`, and none again until a window is back inside the band. Each
window's false-alarm probability is at most `rate * size`, where `rate` is the signal's share of the
model's false-alarm budget (detectors/calibration.py); windows do not overlap, so false alarms per
event stay below `rate`. Both tests are exact whatever the data's shape, because they rest only on
the reference and the window being exchangeable when nothing changed:
- Classification tests each class's recall (of the labels of that class, how many were predicted
  right) and precision (of its predictions, how many were right) against the reference's, with a
  one-sided Fisher exact test (a hypergeometric tail), Bonferroni over the tests of the window: every
  class the reference saw, or only `positive_class`. F1 itself has no usable distribution: on a class
  with a few dozen labels a window's F1 is skewed, and a normal band on it raised ten false alarms
  per 100,000 labels; a flawless reference gave it no spread at all.
- Regression tests the median absolute error: the limit is the reference's k-th smallest absolute
  error, k the smallest for which more than half a window's absolute errors exceed it with at most
  that probability (a negative hypergeometric count). A mean of heavy-tailed errors has heavy tails
  itself: a normal band on MAE raised about ten false alarms per 100,000 labels on lognormal errors.
Everything is computed from the stored pairs alone, so the live worker and the backtest close the
same windows with the same figures.

Memory is bounded: a classification pair is one int16 (class codes of the first MAX_CLASSES classes
seen; later classes share one code), a regression pair one float32 error, reference and current
window together `reference_size + size` of them.

>>> from detectors.performance import PerformanceMonitor, PerformanceConfig
>>> from detectors.windows import WindowConfig
>>> import numpy as np
>>> monitor = PerformanceMonitor("m", PerformanceConfig(), WindowConfig(reference_size=100, size=100),
...                              regression=False, false_alarm_rate=1e-5)
>>> labels = ["a", "b"] * 150
>>> predictions = labels[:200] + ["a"] * 100  # class b is never predicted in the third hundred
>>> closed = monitor.update(predictions, labels, np.arange(300), np.zeros(300), ["v1"] * 300)
>>> [(c.window.reference, round(c.window.f1 or 0, 3), c.alert) for c in closed]
[(True, 1.0, False), (False, 1.0, False), (False, 0.333, True)]
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.scoring import classification_scores, mean_absolute_error, root_mean_squared_error
from detectors.stats import fisher_lower, log_choose
from detectors.windows import FixedBuffer, WindowConfig
from schemas.types import Target

AUTO_REGRESSION_VALUES = 32
"""More distinct whole numbers than this among a reference's predictions and labels, and `auto` takes
the model for a regression after all."""
MAX_CLASSES = 100
"""Classes a model's performance tells apart, in order of first sight; later ones share one code."""
OTHER = MAX_CLASSES
MISMATCH = MAX_CLASSES + 1
"""The label code of a pair whose prediction and label are both unnamed classes, but different ones."""
CELLS = MAX_CLASSES + 2
Task = Literal["classification", "regression"]
ClassCounts = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]
"""Per class code: right predictions, predictions of the class, labels of the class."""
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "mae", "rmse", "median_ae")


class PerformanceConfig(BaseModel):
    """Performance metrics over windows of labelled predictions, and the concept alert on a drop."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    task: Literal["auto", "classification", "regression"] = Field(
        default="auto", description="auto: regression when error_threshold is set or the first labelled "
        "prediction and label are numbers, either of them not whole; classification otherwise")
    positive_class: float | str | None = Field(
        default=None, description="precision, recall and F1 of this class; macro averages when unset")
    alert: bool = Field(default=True, description="raise a concept alert on signal `performance` when a window's "
                        "F1 (or MAE) is worse than the reference's by more than the calibrated band")

    @field_validator("positive_class", mode="before")
    @classmethod
    def _integer_as_float(cls, value: object) -> object:
        """`positive_class = 1` in TOML names the class a JSON 1 or 1.0 label has (schemas read both as 1.0)."""
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class PerformanceWindow(BaseModel):
    """One closed window of labelled predictions (or the reference), with its metrics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str
    model_version: str = Field(description="the version of the window's last labelled prediction")
    task: Task
    reference: bool = Field(description="this is the reference window the others are compared with")
    first_index: int = Field(description="event_index of the window's first labelled prediction")
    last_index: int = Field(description="event_index of its last (windows follow label order)")
    from_ts: float
    to_ts: float
    count: int
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    positive_class: float | str | None = Field(default=None, description="None: precision, recall, F1 are macro")
    mae: float | None = None
    rmse: float | None = None
    median_ae: float | None = Field(default=None, description="median absolute error")
    metric: Literal["f1", "median_ae"] = Field(description="the headline metric: F1, or the median absolute error")
    value: float = Field(description="the window's value of `metric`")
    limit: float | None = Field(default=None, description="regression: a median absolute error above this "
                                "(more than half the window's errors above it) is a drop")
    p_value: float | None = Field(default=None, description="classification: the smallest one-sided Fisher "
                                  "p-value of the window's recall and precision tests, times their number")
    weakest: str | None = Field(default=None, description="classification: the test behind p_value, for "
                                "example \"recall of 'fraud' 0.300 (reference 0.812)\"")
    false_alarm: float | None = Field(default=None, description="a window is a drop with at most this "
                                      "probability when nothing changed (p_value at or below it is a drop)")
    drop: bool = Field(default=False, description="worse than the reference beyond chance")

    def metrics_text(self) -> str:
        """`accuracy=0.91 precision=...`: the metrics this window has, for people."""
        return " ".join(f"{name}={value:.4g}" for name in METRIC_NAMES if (value := getattr(self, name)) is not None)


def task_of(prediction: Target, label: Target) -> Task:
    """`auto`'s first guess from a labelled prediction: numbers with a fraction are a regression's; class
    names, and whole numbers (0 and 1, class ids), a classifier's until the reference shows more than
    AUTO_REGRESSION_VALUES distinct numbers (`PerformanceMonitor`): prices sent as integers are a
    regression's. A classifier of more classes, sent as numbers, says so in its config."""
    numbers = isinstance(prediction, float) and isinstance(label, float)
    if numbers and not (float(prediction).is_integer() and float(label).is_integer()):
        return "regression"
    return "classification"


@dataclass(frozen=True)
class ClosedWindow:
    position: int
    """The position, in the column given to `update`, of the pair that closed the window."""
    window: PerformanceWindow
    alert: bool
    """A drop that starts an episode: the monitor raises a concept alert for it."""


class PerformanceMonitor:
    """The reference and the current window of one model's labelled predictions."""

    def __init__(self, model_id: str, config: PerformanceConfig, windows: WindowConfig, *, regression: bool,
                 false_alarm_rate: float, auto: bool = False) -> None:
        self.model_id = model_id
        self.config = config
        self.windows = windows
        self.task: Task = "regression" if regression else "classification"
        dtype = np.float32 if regression else np.int16
        self.reference = FixedBuffer(windows.reference_size, dtype)
        self.current = FixedBuffer(windows.size, dtype)
        self.false_alarm_rate = false_alarm_rate
        self.classes: list[float | str] = []
        self._codes: dict[float | str, int] = {}
        self.reference_window: PerformanceWindow | None = None
        self._reference_cache: ClassCounts | None = None
        self.in_drop = False
        self.drops = 0
        self.skipped = 0
        """Regression pairs with a class name on either side: no error to measure."""
        self.first_index = -1
        self.from_ts = 0.0
        self.auto = auto
        """The task is `auto`'s guess: a classifier of whole numbers may still turn out a regression."""

    @property
    def may_become_regression(self) -> bool:
        return (self.auto and self.task == "classification" and not self.reference.full
                and all(isinstance(name, float) for name in self.classes))

    @property
    def limit(self) -> float | None:
        """Regression: a median absolute error beyond this is a drop (the reference window's, once full)."""
        return None if self.reference_window is None else self.reference_window.limit

    def update(self, predictions: Sequence[Target], labels: Sequence[Target], indices: npt.NDArray[np.int64],
               ts: npt.NDArray[np.float64], versions: Sequence[str]) -> list[ClosedWindow]:
        """Add labelled predictions, in label order; return the windows they closed (the reference first,
        when these pairs completed it)."""
        if self.may_become_regression:
            at = self._regression_from(predictions, labels)
            if at is not None:  # the pairs before it as a classifier's, then the model is a regression's
                before = self.update(predictions[:at], labels[:at], indices[:at], ts[:at], versions[:at])
                self._become_regression()
                later = self.update(predictions[at:], labels[at:], indices[at:], ts[at:], versions[at:])
                return before + [ClosedWindow(c.position + at, c.window, c.alert) for c in later]
        kept, encoded = self._encode(predictions, labels)
        closed: list[ClosedWindow] = []
        i, n = 0, len(kept)
        reference = self.reference
        if not reference.full:
            i = min(n, reference.data.size - reference.length)
            if i:
                if reference.length == 0:
                    self.first_index, self.from_ts = int(indices[kept[0]]), float(ts[kept[0]])
                reference.data[reference.length: reference.length + i] = encoded[:i]
                reference.length += i
                if reference.full:
                    last = kept[i - 1]
                    self._freeze_reference(int(indices[last]), float(ts[last]), versions[last])
                    assert self.reference_window is not None
                    closed.append(ClosedWindow(last, self.reference_window, alert=False))
        current = self.current
        while i < n:
            if current.length == 0:
                self.first_index, self.from_ts = int(indices[kept[i]]), float(ts[kept[i]])
            take = min(n - i, current.data.size - current.length)
            current.data[current.length: current.length + take] = encoded[i: i + take]
            current.length += take
            i += take
            if current.full:
                last = kept[i - 1]
                closed.append(self._close(last, int(indices[last]), float(ts[last]), versions[last]))
                current.length = 0
        return closed

    def _regression_from(self, predictions: Sequence[Target], labels: Sequence[Target]) -> int | None:
        """The position of the pair that brings the reference's distinct numbers past AUTO_REGRESSION_VALUES,
        if one of the pairs still bound for the reference does; a class name on either side settles it
        as a classifier. Pair by pair, so any cut of the stream switches at the same pair."""
        seen = set(self.classes)
        for k in range(min(len(predictions), self.reference.data.size - self.reference.length)):
            prediction, label = predictions[k], labels[k]
            if not isinstance(prediction, float) or not isinstance(label, float):
                self.auto = False
                return None
            seen.add(prediction)
            seen.add(label)
            if len(seen) > AUTO_REGRESSION_VALUES:
                return k
        return None

    def _become_regression(self) -> None:
        """Turn the reference's class pairs into errors (every class is a number, and fewer than
        MAX_CLASSES, so each code names its value) and watch errors from now on."""
        codes = self.reference.held().astype(np.int64)
        values = np.array(self.classes, dtype=np.float64)
        errors = values[codes // CELLS] - values[codes % CELLS]
        self.task, self.auto = "regression", False
        self.reference = FixedBuffer(self.reference.data.size, np.float32)
        self.reference.data[: errors.size] = errors
        self.reference.length = errors.size
        self.current = FixedBuffer(self.current.data.size, np.float32)
        self.classes, self._codes = [], {}

    def restore(self, classes: list[float | str], reference: bytes, current: bytes, first_index: int, from_ts: float,
                reference_window: PerformanceWindow | None, in_drop: bool) -> None:
        """Put back what a snapshot saved (buffers as `raw()` gives them)."""
        self.classes = list(classes)
        self._codes = {name: code for code, name in enumerate(self.classes)}
        self.reference.load(reference)
        self.current.load(current)
        self.first_index, self.from_ts = first_index, from_ts
        self.reference_window, self.in_drop = reference_window, in_drop

    def _encode(self, predictions: Sequence[Target], labels: Sequence[Target]
                ) -> tuple[list[int], npt.NDArray[np.int16] | npt.NDArray[np.float32]]:
        """The positions of the pairs kept, and each kept pair's code (classification) or error (regression)."""
        if self.task == "regression":
            kept = [k for k, (p, y) in enumerate(zip(predictions, labels, strict=True))
                    if isinstance(p, float) and isinstance(y, float)]
            self.skipped += len(predictions) - len(kept)
            errors = np.array([float(predictions[k]) - float(labels[k]) for k in kept], dtype=np.float64)
            return kept, errors.astype(np.float32)
        get = self._codes.get
        guessed, truth = list(map(get, predictions)), list(map(get, labels))  # C speed: classes already known
        if None in guessed or None in truth:
            guessed, truth = [], []
            for prediction, label in zip(predictions, labels, strict=True):  # pair by pair: cut-invariant codes
                guessed.append(self._code(prediction))
                truth.append(self._code(label))
        p, y = np.array(guessed, dtype=np.int64), np.array(truth, dtype=np.int64)
        for k in np.flatnonzero((p == OTHER) & (y == OTHER)).tolist():
            if predictions[k] != labels[k]:
                y[k] = MISMATCH
        codes = (p * CELLS + y).astype(np.int16)
        return list(range(len(predictions))), codes

    def _code(self, name: float | str) -> int:
        code = self._codes.get(name)
        if code is None:
            if len(self.classes) >= MAX_CLASSES:
                return OTHER
            code = self._codes[name] = len(self.classes)
            self.classes.append(name)
        return code

    def _freeze_reference(self, last_index: int, to_ts: float, version: str) -> None:
        pairs = self.reference.held()
        window = self._window(pairs, last_index, to_ts, version, reference=True)
        limit = None if self.task == "classification" else _median_limit(
            np.abs(pairs.astype(np.float64)), self.current.data.size, self._window_false_alarm())
        self.reference_window = window.model_copy(update={"limit": limit})

    def _close(self, position: int, last_index: int, to_ts: float, version: str) -> ClosedWindow:
        window = self._window(self.current.held(), last_index, to_ts, version, reference=False)
        alert = window.drop and not self.in_drop and self.config.alert
        self.in_drop = window.drop
        if alert:
            self.drops += 1
        return ClosedWindow(position, window, alert)

    def _window_false_alarm(self) -> float:
        return min(0.5, self.false_alarm_rate * self.current.data.size)

    def _weakest(self, window: ClassCounts) -> tuple[float, str | None]:
        """The window's smallest one-sided Fisher p-value for a drop in a class's recall or precision,
        times the number of tests (Bonferroni, capped at 1), and which test it was."""
        reference = self._reference_counts()
        positive = None if self.config.positive_class is None else self._codes.get(self.config.positive_class, OTHER)
        tests = []
        for measure, trials in (("recall", 2), ("precision", 1)):
            testable = (reference[trials][:OTHER] > 0) & (window[trials][:OTHER] > 0)  # the named classes
            if positive is None:  # the classes present, not all MAX_CLASSES codes one numpy read at a time
                classes = np.flatnonzero(testable).tolist()
            else:
                classes = [positive] if positive != OTHER and testable[positive] else []
            for c in classes:
                tests.append((fisher_lower(int(window[0][c]), int(window[trials][c]), int(reference[0][c]),
                              int(reference[trials][c])), measure, c))
        if not tests:
            return 1.0, None
        p_value, measure, c = min(tests)
        trials = 2 if measure == "recall" else 1
        return min(1.0, p_value * len(tests)), (
            f"{measure} of {self.classes[c]!r} {window[0][c] / window[trials][c]:.3f} "
            f"(reference {reference[0][c] / reference[trials][c]:.3f})")

    def _reference_counts(self) -> ClassCounts:
        if self._reference_cache is None:
            self._reference_cache = _class_counts(self.reference.held())
        return self._reference_cache

    def _window(self, pairs: npt.NDArray[Any], last_index: int, to_ts: float, version: str, *,
                reference: bool) -> PerformanceWindow:
        """The window's metrics and, after the reference, whether it dropped: each count made once."""
        common: dict[str, Any] = {
            "model_id": self.model_id, "model_version": version, "task": self.task, "reference": reference,
            "first_index": self.first_index, "last_index": last_index, "from_ts": self.from_ts, "to_ts": to_ts,
            "count": int(pairs.size), "false_alarm": self._window_false_alarm()}
        if self.task == "regression":
            absolute = np.abs(pairs.astype(np.float64))
            median = float(np.median(absolute)) if absolute.size else 0.0
            limit = self.limit  # more than half the window's errors beyond it: the median is beyond it
            if not reference:
                common |= {"limit": limit, "drop": limit is not None
                           and int(np.count_nonzero(absolute > limit)) > absolute.size // 2}
            return PerformanceWindow(  # validated: pydantic-core's validation costs less than model_construct's Python
                **common, mae=mean_absolute_error(absolute), rmse=root_mean_squared_error(absolute),
                median_ae=median, metric="median_ae", value=median)
        counts = _class_counts(pairs)
        tp, predicted, labelled = counts
        present = (predicted + labelled) > 0
        if self.config.positive_class is not None:  # that class alone; all zeros while it was never seen
            code = self._codes.get(self.config.positive_class)
            present[:] = False
            if code is not None:
                present[code] = True
        if not reference:
            p_value, weakest = self._weakest(counts)
            common |= {"p_value": p_value, "weakest": weakest, "drop": p_value <= self._window_false_alarm()}
        scores = classification_scores(tp[None, :], predicted[None, :], labelled[None, :], present[None, :])
        f1 = float(scores.f1[0])
        return PerformanceWindow(  # validated: pydantic-core's validation costs less than model_construct's Python
            **common, accuracy=float(tp.sum()) / max(pairs.size, 1), precision=float(scores.precision[0]),
            recall=float(scores.recall[0]), f1=f1, positive_class=self.config.positive_class, metric="f1", value=f1)


def _class_counts(pairs: npt.NDArray[Any]) -> ClassCounts:
    """Per class code: right predictions, predictions and labels of the class. A label of an unnamed class
    that differs from an unnamed prediction counts as a label of the shared code, not a right one."""
    matrix = np.bincount(pairs.astype(np.int64), minlength=CELLS * CELLS).reshape(CELLS, CELLS)
    labelled = matrix.sum(axis=0)[:MISMATCH].copy()
    labelled[OTHER] += matrix[:, MISMATCH].sum()
    return np.diagonal(matrix)[:MISMATCH].copy(), matrix.sum(axis=1)[:MISMATCH], labelled


def _median_limit(reference: npt.NDArray[np.float64], size: int, false_alarm: float) -> float | None:
    """The smallest reference order statistic that more than half of a window of `size` values from the
    reference's distribution exceeds with probability at most `false_alarm`; None when even the largest
    is not enough (a reference too short for so small a probability)."""
    ordered = np.sort(reference)
    n = ordered.size
    most_below = size - (size // 2 + 1)  # more than half above: at most this many below
    low, high = 1, n + 1
    while low < high:  # the chance falls as k grows: bisect for the smallest k that keeps it
        k = (low + high) // 2
        if _at_most_below(most_below, k, n, size) <= false_alarm:
            high = k
        else:
            low = k + 1
    return float(ordered[low - 1]) if low <= n else None


def _at_most_below(most: int, k: int, n: int, size: int) -> float:
    """P(at most `most` of `size` window values fall below the k-th smallest of `n` reference values),
    all `n + size` values exchangeable: a sum of negative hypergeometric probabilities."""
    b = np.arange(most + 1)
    log_p = log_choose(b + k - 1, b) + log_choose(size - b + n - k, size - b) - log_choose(n + size, n)
    return float(np.exp(log_p).sum())
