"""`driftline replay` into the real broker: the session's worker raises what a backtest of the file raises."""

import csv
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detectors.config import MonitoringConfig
from driftline.backtest import backtest_file
from driftline.cli import main
from schemas import DriftAlert
from tests.live import WorkerProcess, cli_env, collect, wait_for_events
from tests.streams import error_bits, two_regimes

pytestmark = pytest.mark.integration


def alert_signature(worker: WorkerProcess, model_id: str, expected: int) -> list[tuple[str, str, int, str]]:
    settings = worker.settings
    found = collect(settings, settings.topics.alerts, DriftAlert, lambda a: a.model_id == model_id,  # type: ignore[attr-defined]
                    until=lambda found: len(found) >= expected, timeout=60)
    return sorted((a.signal, a.detector, a.event_index, a.alert_id) for a in found)  # type: ignore[attr-defined]


def backtest_signature(path: Path) -> list[tuple[str, str, int, str]]:
    result = backtest_file(path, MonitoringConfig())
    return sorted((a.signal, a.detector, a.event_index, a.alert_id) for a in result.alerts)


def test_a_replayed_jsonl_file_raises_the_backtests_alerts_and_reports_its_bad_line(
        live_worker: WorkerProcess, model_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from schemas import PredictionEvent

    path = tmp_path / "stream.jsonl"
    lines = [PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                             features={"x": v}, prediction=v).model_dump_json() for i, v in enumerate(two_regimes())]
    lines.insert(500, '{"model_id": "broken", "prediction": "not closed"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = backtest_signature(path)
    assert {s for s, _, _, _ in expected} == {"feature:x", "prediction"} and all(i >= 1_000 for _, _, i, _ in expected)

    cli_env(live_worker, monkeypatch)
    assert main(["replay", str(path), "--rate", "20000"]) == 1  # one record could not be sent
    report = capsys.readouterr().err
    assert f"invalid record {path}:501" in report
    assert "sent 2000 events, failed 0, invalid records 1" in report
    wait_for_events(live_worker.settings, model_id, 2000)
    assert alert_signature(live_worker, model_id, len(expected)) == expected


def test_csv_and_parquet_files_replay_completely(live_worker: WorkerProcess, model_id: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"model_id": f"{model_id}-csv", "model_version": "1", "event_id": f"e{i}", "ts": float(i),
             "prediction": "a", "label": "b" if bit else "a"} for i, bit in enumerate(error_bits())]
    csv_path = tmp_path / "errors.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    parquet_path = tmp_path / "errors.parquet"
    pq.write_table(pa.Table.from_pylist([{**row, "model_id": f"{model_id}-pq"} for row in rows]), parquet_path)

    cli_env(live_worker, monkeypatch)
    for path, model in ((csv_path, f"{model_id}-csv"), (parquet_path, f"{model_id}-pq")):
        expected = backtest_signature(path)
        assert [(s, d) for s, d, _, _ in expected] == [("error", "rate_cusum"), ("performance", "f1_band")]
        assert all(index >= 1_000 for _, _, index, _ in expected)
        assert main(["replay", str(path)]) == 0
        assert "sent 2000 events, failed 0, invalid records 0" in capsys.readouterr().err
        wait_for_events(live_worker.settings, model, 2000)
        assert alert_signature(live_worker, model, len(expected)) == expected


def test_issue_25_signals_raise_live_what_the_backtest_raises(live_worker: WorkerProcess, model_id: str,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A class-name prediction whose 'fraud' share rises, a category that vanishes, a half-sigma shift
    after references that matured (500, 1,000, 2,000 values), prices sent as whole numbers whose
    errors grow, a correlation that flips (joint) and scores that grow less sure (estimated
    performance): the worker's batches cut these streams where the backtest does not."""
    import numpy as np

    from schemas import PredictionEvent

    rng = np.random.default_rng(25)
    n, at = 4_000, 3_000
    after = np.arange(n) >= at
    fraud = rng.random(n) < np.where(after, 0.25, 0.05)
    plan = np.where(after, rng.choice(3, size=n, p=[0.6, 0.39, 0.01]), rng.choice(3, size=n, p=[0.5, 0.3, 0.2]))
    x = rng.normal(size=n) + 0.5 * after
    classes = [PredictionEvent(model_id=f"{model_id}-class", model_version="1", event_id=f"c{i}", ts=float(i),
                               features={"x": float(x[i]), "plan": f"p{plan[i]}"},
                               prediction="fraud" if fraud[i] else "ok") for i in range(n)]
    labels = np.round(200_000 + 50_000 * rng.normal(size=n))
    prices = np.round(labels + 5_000 * rng.standard_t(3, size=n) * np.where(after, 3.0, 1.0))
    regression = [PredictionEvent(model_id=f"{model_id}-price", model_version="1", event_id=f"p{i}", ts=float(i),
                                  features={"x": float(rng.normal())}, prediction=float(prices[i]),
                                  label=float(labels[i])) for i in range(n)]
    a, noise = rng.normal(size=n), rng.normal(size=n)
    b = np.where(after, -0.8, 0.8) * a + 0.6 * noise  # the correlation flips, both marginals stay N(0, 1)
    sure = np.where(after, rng.beta(3.0, 2.0, size=n), rng.beta(9.0, 1.0, size=n)) * 0.5 + 0.5  # 0.95 -> 0.80
    guesses = (rng.random(n) < 0.5).astype(float)
    scored = [PredictionEvent(model_id=f"{model_id}-scored", model_version="1", event_id=f"s{i}", ts=float(i),
                              features={"a": float(a[i]), "b": float(b[i])}, prediction=float(guesses[i]),
                              score=float(sure[i] if guesses[i] else 1.0 - sure[i])) for i in range(n)]
    path = tmp_path / "issue25.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for trio in zip(classes, regression, scored, strict=True)
                            for e in trio), encoding="utf-8")
    expected = backtest_signature(path)
    per_model = Counter(a.model_id for a in backtest_file(path, MonitoringConfig()).alerts)
    signals = {(s, d) for s, d, _, _ in expected}
    assert {("prediction", "rate_cusum"), ("category:plan", "rate_cusum"), ("feature:x", "rate_cusum"),
            ("performance", "median_ae_band"), ("joint", "rate_cusum"),
            ("estimated_performance", "rate_cusum")} <= signals, expected

    cli_env(live_worker, monkeypatch)
    assert main(["replay", str(path), "--rate", "20000"]) == 0
    assert f"sent {3 * n} events, failed 0" in capsys.readouterr().err
    for model in (f"{model_id}-class", f"{model_id}-price", f"{model_id}-scored"):
        wait_for_events(live_worker.settings, model, n)
    found = [a for model in per_model for a in alert_signature(live_worker, model, per_model[model])]
    assert sorted(found) == expected


def test_replay_without_a_broker_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from driftline.embedded import free_port

    path = tmp_path / "one.jsonl"
    path.write_text('{"model_id":"m","model_version":"1","event_id":"e","ts":1,"prediction":1}\n', encoding="utf-8")
    monkeypatch.setenv("DRIFTLINE_BROKER", f"kafka://127.0.0.1:{free_port()}")
    assert main(["replay", str(path)]) == 2
    assert "driftline replay:" in capsys.readouterr().err
