"""`driftline backtest`: the same alerts from JSONL, CSV and Parquet; known drifts found in time."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from river.datasets import synth

from detectors.config import MonitoringConfig, river_config
from driftline.backtest import backtest_file, run_backtest
from driftline.cli import main
from driftline.event_files import BadRecord, read_events
from schemas import DriftAlert, PredictionEvent
from tests.streams import two_regimes

RIVER_FILE = Path(__file__).resolve().parents[2] / "examples" / "river.toml"

ROWS = [{"model_id": "m", "model_version": "1", "event_id": f"e{i}", "ts": float(i), "x": v, "prediction": v}
        for i, v in enumerate(two_regimes())]


def write_jsonl(path: Path) -> Path:
    with path.open("w") as out:
        for row in ROWS:
            event = {k: row[k] for k in ("model_id", "model_version", "event_id", "ts", "prediction")}
            out.write(json.dumps({**event, "features": {"x": row["x"]}}) + "\n")
    return path


def write_csv(path: Path) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)
    return path


def write_parquet(path: Path) -> Path:
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    return path


def signature(alerts: list[DriftAlert]) -> list[tuple[str, str, int]]:
    return [(a.signal, a.detector, a.event_index) for a in alerts]


@pytest.mark.parametrize("writer", [write_jsonl, write_csv, write_parquet])
def test_every_file_format_gives_the_river_reference_alerts(writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = writer(tmp_path / f"events.{writer.__name__.removeprefix('write_')}")
    result = backtest_file(path, river_config())
    assert signature(result.alerts) == [("prediction", "page_hinkley", 1006), ("feature:x", "adwin", 1023)]
    assert result.events == 2000 and result.bad_records == []


def test_invalid_lines_are_reported_with_their_location_and_the_rest_is_processed(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "events.jsonl")
    with path.open("a") as out:
        out.write("{not json\n")
        out.write(json.dumps({"model_id": "m", "model_version": "1", "event_id": "z", "ts": 1,
                              "prediction": "NaN", "features": {"x": [1.0]}}) + "\n")
    records = list(read_events(path))
    bad = [r for r in records if isinstance(r, BadRecord)]
    assert [b.location.rsplit(":", 1)[1] for b in bad] == ["2001", "2002"]
    assert "features.x" in bad[1].reason
    assert len(records) - len(bad) == 2000


def test_cli_writes_one_alert_per_line_and_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_csv(tmp_path / "events.csv")
    out = tmp_path / "alerts.jsonl"
    assert main(["backtest", str(source), "--out", str(out), "--config", str(RIVER_FILE)]) == 0
    alerts = [DriftAlert.model_validate_json(line) for line in out.read_text().splitlines()]
    assert signature(alerts) == [("prediction", "page_hinkley", 1006), ("feature:x", "adwin", 1023)]
    printed = capsys.readouterr().out
    assert "2000 events, 2 alerts" in printed and "feature:x" in printed


def test_cli_reports_a_missing_file_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err


POSITION = 5_000
MAX_DELAY = 1_000


def test_concept_drift_in_a_river_synth_stream_is_found_within_the_stated_delay() -> None:
    """SEA's decision threshold moves from 8 to 9.5 at event 5000; a model that learned the old rule
    starts erring. The zero-config error detector (a rate CUSUM against the reference error rate) must
    fire after the drift and within 1000 events, and a retrain request must follow."""
    stream = synth.ConceptDriftStream(stream=synth.SEA(variant=0, noise=0.1, seed=1),
                                      drift_stream=synth.SEA(variant=3, noise=0.1, seed=1),
                                      position=POSITION, width=50, seed=1)
    events = [PredictionEvent(model_id="sea", model_version="1", event_id=f"e{i}", ts=float(i),
                              features={f"x{k}": float(v) for k, v in x.items()},
                              prediction=str(x[0] + x[1] > 8), label=str(bool(y)))
              for i, (x, y) in enumerate(stream.take(10_000))]
    result = run_backtest(events, MonitoringConfig())
    drifts = [a for a in result.alerts if a.severity == "drift"]
    assert [a.signal for a in drifts][:1] == ["error"]
    assert POSITION <= drifts[0].event_index < POSITION + MAX_DELAY
    assert not any(a.signal.startswith("feature:") for a in drifts), "SEA's features never change"
    assert result.retrain_requests and result.retrain_requests[0].reasons == [drifts[0].alert_id]


def test_the_first_run_says_it_is_compiling_and_later_runs_load_the_kernels(tmp_path: Path) -> None:
    """numba compiles a kernel on first use (seconds); a backtest's first run says so, later ones are quiet."""
    events = write_jsonl(tmp_path / "events.jsonl")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    command = [sys.executable, "-m", "driftline.cli", "backtest", str(events), "--out", str(tmp_path / "alerts.jsonl")]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=True)
    assert "compiling 3 kernels, detectors and window statistics (first run only" in first.stderr
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=True)
    assert "compiling" not in second.stderr
    assert second.stdout == first.stdout and "alerts written to" in second.stdout


def test_a_score_column_is_the_predictions_score_not_a_feature(tmp_path: Path) -> None:
    path = tmp_path / "scored.csv"
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=["model_id", "model_version", "event_id", "ts", "prediction", "score",
                                                 "x"])
        writer.writeheader()
        writer.writerow({"model_id": "m", "model_version": "1", "event_id": "e0", "ts": 1.0, "prediction": 1,
                         "score": 0.75, "x": 2.0})
        writer.writerow({"model_id": "m", "model_version": "1", "event_id": "e1", "ts": 2.0, "prediction": 0,
                         "score": 1.5, "x": 2.0})
    records = list(read_events(path))
    first = records[0]
    assert isinstance(first, PredictionEvent) and first.score == 0.75 and first.features == {"x": 2.0}
    assert isinstance(records[1], BadRecord) and "score" in records[1].reason
