"""The post-deployment watch's false alarms and power, measured on simulated deployments.

Each trial is one deployment through the real monitor (detectors/monitor.py, the code the worker and
the backtest run): version 1 serves its reference at a baseline error rate, then version 2 is
deployed and serves at its own rate. A control (the same rate) that raises the `deployment` alert
is a false alarm; a worse version is scored for detected yes/no and the labels it took. Figures are
printed and written to loadtests/results/deployment_watch.json.

    .venv/bin/python -m loadtests.deployment_watch [--trials N]
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from detectors.config import MonitoringConfig
from detectors.monitor import ModelMonitor
from schemas import ModelDeployed, PredictionEvent

RESULTS = Path(__file__).resolve().parent / "results" / "deployment_watch.json"
BASELINE_LABELS = 5_000
WATCHED_LABELS = 2_000


def trial(baseline: float, after: float, seed: int) -> int | None:
    """Labels version 2 served before the watch fired, or None."""
    rng = np.random.default_rng(seed)
    monitor = ModelMonitor("m", MonitoringConfig().defaults, clock=lambda: 0.0)
    monitor.reset(ModelDeployed(model_id="m", model_version="1", ts=0.0))
    monitor.observe_many(_events("1", rng.random(BASELINE_LABELS) < baseline, 0))
    monitor.reset(ModelDeployed(model_id="m", model_version="2", ts=float(BASELINE_LABELS)))
    out = monitor.observe_many(_events("2", rng.random(WATCHED_LABELS) < after, BASELINE_LABELS))
    fired = [a.event_index for a in out.alerts if a.kind == "deployment"]
    return fired[0] + 1 if fired else None


def _events(version: str, wrong: np.ndarray, start: int) -> list[PredictionEvent]:
    return [PredictionEvent(model_id="m", model_version=version, event_id=f"{version}-{start + i}",
                            ts=float(start + i), prediction="a", label="b" if bad else "a")
            for i, bad in enumerate(wrong.tolist())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=400, help="deployments per row")
    args = parser.parse_args(argv)
    started = time.monotonic()
    rows = []
    for baseline, after in [(0.05, 0.05), (0.20, 0.20), (0.05, 0.075), (0.05, 0.10), (0.05, 0.15), (0.20, 0.30)]:
        delays = [trial(baseline, after, seed) for seed in range(args.trials)]
        found = [d for d in delays if d is not None]
        rows.append({"baseline_error": baseline, "new_error": after, "trials": args.trials,
                     "flagged": len(found), "flagged_share": len(found) / args.trials,
                     "median_labels": statistics.median(found) if found else None})
        row = rows[-1]
        kind = "control" if baseline == after else "worse"
        print(f"{kind:<8} error {baseline:.3f} -> {after:.3f}: flagged {row['flagged']:>4} of {args.trials}"
              + (f", median {row['median_labels']:.0f} labels" if found else ""), flush=True)
    result = {"rows": rows, "baseline_labels": BASELINE_LABELS, "watched_labels": WATCHED_LABELS,
              "false_alarm_rate_configured": MonitoringConfig().defaults.post_deployment.false_alarm_rate,
              "seconds": round(time.monotonic() - started, 1), "python": platform.python_version(),
              "when": time.strftime("%Y-%m-%d")}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
