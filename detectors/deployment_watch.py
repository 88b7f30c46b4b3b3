"""The post-deployment watch: is a freshly deployed version clearly worse than it should be?

At a deployment the monitor takes a baseline error count: the one the deployment's reference gives
(a validated version's errors on its validation slice: what it promised), else the replaced
version's on its reference (the stretch right after that version's own deployment, before anything
drifted, as far as its error signal's reference matured: up to `windows.reference_max` labels).
Against the replaced version alone, a retrain into a regime that is simply harder would look like a
bad deployment and recommend the very version that drifted. The new version's first
`labels` labelled predictions are then compared with it: at every `labels / checks` labels, a
one-sided Fisher exact test (the same hypergeometric tail as the performance windows) asks whether
the new errors are more than the two samples together make likely. Each check spends
`false_alarm_rate / checks`, so a version as good as the last raises this alert with probability at
most `false_alarm_rate` over the whole watch (Bonferroni), however uncertain the baseline is: the
test conditions on both samples, it does not take the baseline's rate as known.

The state is two counts, and checks fall on fixed label counts, so any cut of the label stream gives
the same verdict at the same label.

>>> import numpy as np
>>> watch = DeploymentWatch("1", baseline_errors=50, baseline_count=1_000, config=DeploymentWatchConfig())
>>> watch.update(np.zeros(500)) is None  # no error at all: not worse
True
>>> worse = DeploymentWatch("1", baseline_errors=50, baseline_count=1_000, config=DeploymentWatchConfig())
>>> at = worse.update((np.arange(2_000) % 4 == 0).astype(np.float64))  # a 25% error rate after 5%
>>> at is not None and at < 200, worse.fired
(True, True)
"""

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from detectors.stats import fisher_lower


class DeploymentWatchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    labels: int = Field(default=2_000, ge=10, description="labelled predictions of the new version watched")
    checks: int = Field(default=20, ge=1, description="tests over the watch, evenly spaced")
    false_alarm_rate: float = Field(default=1e-3, gt=0, lt=0.5,
                                    description="chance that a version as good as the last is flagged")
    min_baseline: int = Field(default=100, ge=1, description="labels the replaced version needs on its reference")


class DeploymentWatch:
    """Counts the new version's errors and tests them against the replaced version's baseline."""

    def __init__(self, replaced_version: str, baseline_errors: int, baseline_count: int,
                 config: DeploymentWatchConfig, *, labels: int = 0, errors: int = 0, fired: bool = False) -> None:
        self.replaced_version = replaced_version
        self.baseline_errors = baseline_errors
        self.baseline_count = baseline_count
        self.config = config
        self.labels = labels
        self.errors = errors
        self.fired = fired
        self.p_value = 1.0

    @property
    def done(self) -> bool:
        return self.fired or self.labels >= self.config.labels

    @property
    def step(self) -> int:
        return max(1, self.config.labels // self.config.checks)

    def update(self, bits: npt.NDArray[np.float64]) -> int | None:
        """Count error bits (1 = wrong) in label order; the position of the bit at which the watch
        fired, or None. After firing or after `labels` labels it counts nothing more."""
        if self.done:
            return None
        take = bits[: self.config.labels - self.labels]
        errors = np.cumsum(take > 0.5, dtype=np.int64) + self.errors
        counts = np.arange(self.labels + 1, self.labels + take.size + 1)
        due = np.flatnonzero((counts % self.step == 0) | (counts == self.config.labels))
        level = self.config.false_alarm_rate / self.config.checks
        for position in due.tolist():
            n, k = int(counts[position]), int(errors[position])
            if k * self.baseline_count <= self.baseline_errors * n:
                continue  # no higher error rate than the baseline's: nothing to test
            self.p_value = fisher_lower(n - k, n, self.baseline_count - self.baseline_errors, self.baseline_count)
            if self.p_value <= level:
                self.labels, self.errors, self.fired = n, k, True
                return position
        if take.size:
            self.labels, self.errors = int(counts[-1]), int(errors[-1])
        return None

    def evidence(self) -> tuple[dict[str, float], dict[str, float]]:
        """Before: the replaced version's baseline; after: the new version's count so far and the test."""
        before = {"error_rate": self.baseline_errors / self.baseline_count, "count": float(self.baseline_count)}
        after = {"error_rate": self.errors / max(self.labels, 1), "count": float(self.labels),
                 "p_value": self.p_value, "false_alarm": self.config.false_alarm_rate}
        return before, after
