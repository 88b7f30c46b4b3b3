"""The demo's drift timeline: the service's rolling error rate, the true drift, the redeploy, and
every alert on the service's own event axis, one row per monitored signal."""

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here or in CI

import matplotlib.pyplot as plt
import numpy as np

from schemas import DriftAlert


def rolling_mean(values: Sequence[int], window: int) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return data
    sums = np.cumsum(np.insert(data, 0, 0.0))
    counts = np.minimum(np.arange(1, data.size + 1), window)
    starts = np.arange(1, data.size + 1) - counts
    rates: np.ndarray = (sums[1:] - sums[starts]) / counts
    return rates


def plot_timeline(errors: Sequence[int], alerts: Sequence[DriftAlert], position: Callable[[DriftAlert], int | None],
                  *, drift_at: int, swapped_at: int | None, title: str, path: Path, window: int = 200) -> None:
    """`position` maps an alert to the service's event index (an alert's own event_index restarts at
    each reset, so it cannot be the x axis across a redeploy)."""
    placed = [(alert, x) for alert in alerts if (x := position(alert)) is not None]
    signals = sorted({alert.signal for alert, _ in placed}, key=lambda s: (s != "error", s))
    figure, (rate_axis, alert_axis) = plt.subplots(
        2, 1, sharex=True, figsize=(11, 5.5), gridspec_kw={"height_ratios": [3, max(1, len(signals)) * 0.35 + 0.6]})
    rate = rolling_mean(errors, window)
    rate_axis.plot(np.arange(rate.size), rate, color="tab:blue", linewidth=1.2,
                   label=f"error rate, rolling {window} (the `error` signal)")
    rate_axis.set_ylim(0, max(float(rate.max()) if rate.size else 0.0, 0.1) * 1.1)
    rate_axis.set_ylabel("error rate")
    rate_axis.set_title(title)
    for axis in (rate_axis, alert_axis):
        axis.axvline(drift_at, color="grey", linestyle="--", linewidth=1,
                     label="true concept change" if axis is rate_axis else None)
        if swapped_at is not None:
            axis.axvline(swapped_at, color="tab:green", linewidth=2,
                         label="retrained version serving" if axis is rate_axis else None)
    rate_axis.legend(loc="upper left", fontsize=8)
    for severity, color, marker in (("warning", "tab:orange", "v"), ("drift", "tab:red", "X")):
        points = [(x, signals.index(alert.signal)) for alert, x in placed if alert.severity == severity]
        if points:
            xs, ys = zip(*points, strict=True)
            alert_axis.scatter(xs, ys, color=color, marker=marker, s=60, zorder=3, label=f"{severity} alert")
    alert_axis.set_yticks(range(len(signals)), signals, fontsize=8)
    alert_axis.set_ylim(-0.7, max(len(signals), 1) - 0.3)
    alert_axis.set_xlabel("event (as the service sent them)")
    if placed:
        alert_axis.legend(loc="center right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
