"""How large the HTML report grows with a model's width: a stream of `events` predictions with
`features` numeric features (three move half-way, the error rate rises), backtested with the
zero-config monitor and written as a report. Prints each size and writes
loadtests/results/report_size.json.

    .venv/bin/python -m loadtests.report_size [--events 20000] [--features 10 100 500]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from detectors.config import MonitoringConfig
from driftline.backtest import histories, run_backtest
from driftline.report import render
from schemas import PredictionEvent

RESULTS = Path(__file__).resolve().parent / "results" / "report_size.json"


def stream(events: int, features: int, seed: int = 3) -> list[PredictionEvent]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(events):
        x = rng.normal(size=features)
        late = i >= events // 2
        if late:
            x[:3] += 1.0
        wrong = rng.random() < (0.2 if late else 0.05)
        out.append(PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=1.7e9 + i,
                                   features={f"f{k}": float(x[k]) for k in range(features)}, prediction="a",
                                   label="b" if wrong else "a"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--features", type=int, nargs="+", default=[10, 100, 500])
    args = parser.parse_args(argv)
    rows = []
    for width in args.features:
        started = time.monotonic()
        result = run_backtest(stream(args.events, width), MonitoringConfig(), keep_windows=True)
        page = render(histories(result), title=f"{width} features")
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "report.html"
            path.write_text(page, encoding="utf-8")
            size = path.stat().st_size
        rows.append({"features": width, "events": args.events, "alerts": len(result.alerts), "bytes": size,
                     "seconds": round(time.monotonic() - started, 1)})
        print(f"{width:>4} features, {args.events:,} events: {len(result.alerts)} alerts, report {size:,} bytes",
              flush=True)
    RESULTS.write_text(json.dumps({"rows": rows, "when": time.strftime("%Y-%m-%d")}, indent=2) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
