"""`driftline status` and `driftline tail` against the real services and the session's worker."""

import time
from pathlib import Path

import pytest

from detectors.config import MonitoringConfig
from driftline.backtest import run_backtest
from driftline.cli import main
from schemas import DriftAlert
from tests.live import WorkerProcess, cli_env, collect, monitor_state, produce, wait_for_events
from tests.streams import two_regimes

pytestmark = pytest.mark.integration


def test_status_shows_each_signal_of_a_model(live_worker: WorkerProcess, model_id: str,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from schemas import FeatureEvent

    events = [FeatureEvent(model_id=model_id, model_version="7", event_id=f"e{i}", ts=float(i),
                           features={"x": v}) for i, v in enumerate(two_regimes()[:1100])]
    produce(live_worker.settings, live_worker.settings.topics.features, events, batch=100)
    wait_for_events(live_worker.settings, model_id, len(events))
    cli_env(live_worker, monkeypatch)
    assert main(["status", model_id]) == 0
    printed = capsys.readouterr().out
    assert f"{model_id}  version 7  events 1100" in printed
    assert "feature:x" in printed and "adwin" in printed and "drifts 1" in printed
    assert "reference 1000 " in printed  # 500 values, then 500 more of the same regime; the drift stops it


def test_status_of_an_unknown_model_says_so(live_worker: WorkerProcess, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    cli_env(live_worker, monkeypatch)
    assert main(["status", "no-such-model"]) == 1
    assert "no state in Redis" in capsys.readouterr().out


def test_tail_prints_alerts_as_json_lines(live_worker: WorkerProcess, model_id: str,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from schemas import FeatureEvent

    events = [FeatureEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                           features={"x": v}) for i, v in enumerate(two_regimes())]
    produce(live_worker.settings, live_worker.settings.topics.features, events, batch=200)
    wait_for_events(live_worker.settings, model_id, len(events))
    cli_env(live_worker, monkeypatch)
    assert main(["tail", "alerts", "--from-beginning", "--timeout", "10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    alerts = [DriftAlert.model_validate_json(line) for line in lines]
    expected = run_backtest(events, MonitoringConfig()).alerts
    assert [a.signal for a in expected] and {a.signal for a in expected} == {"feature:x"}
    assert [(a.signal, a.event_index) for a in alerts if a.model_id == model_id] == [
        (a.signal, a.event_index) for a in expected]


def test_reference_set_calibrates_a_model_at_once_from_a_file(live_worker: WorkerProcess, model_id: str,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A period known to be normal, given as the model's reference: the worker's detectors are ready at
    once and as mature as the file (20,000 values), so a shift in the first 400 events after it is
    found, where a learnt reference would still be taking its first 500."""
    import numpy as np

    from schemas import PredictionEvent

    rng = np.random.default_rng(11)
    normal = [PredictionEvent(model_id=model_id, model_version="3", event_id=f"r{i}", ts=float(i),
                              features={"x": float(v), "plan": str(rng.choice(["a", "b"]))}, prediction=0.0)
              for i, v in enumerate(rng.lognormal(size=20_000))]
    path = tmp_path / "normal.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in normal), encoding="utf-8")
    cli_env(live_worker, monkeypatch)
    assert main(["reference", "set", model_id, str(path)]) == 0
    printed = capsys.readouterr().err
    assert "version 3: 20000 events" in printed and "feature:x" in printed and "2 categories" in printed

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the deployment and the events travel on different topics
        state = monitor_state(live_worker.settings, model_id)
        if state is not None and "feature:x" in state.references:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the worker did not take the reference")
    shifted = [PredictionEvent(model_id=model_id, model_version="3", event_id=f"s{i}", ts=20_000.0 + i,
                               features={"x": float(v) + 1.0, "plan": "a"}, prediction=0.0)
               for i, v in enumerate(rng.lognormal(size=400))]
    produce(live_worker.settings, live_worker.settings.topics.predictions, shifted, batch=50)
    wait_for_events(live_worker.settings, model_id, 400)
    found = collect(live_worker.settings, live_worker.settings.topics.alerts, DriftAlert,
                    lambda a: a.model_id == model_id and a.signal == "feature:x",  # type: ignore[attr-defined]
                    until=lambda found: len(found) >= 1, timeout=30)
    assert found and found[0].event_index < 400  # type: ignore[attr-defined]
    assert main(["status", model_id]) == 0
    assert "reference 20000 " in capsys.readouterr().out


def test_reference_set_reads_a_time_range_of_the_models_own_history_in_kafka(
        live_worker: WorkerProcess, model_id: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    from schemas import PredictionEvent

    rng = np.random.default_rng(12)
    history = [PredictionEvent(model_id=model_id, model_version="5", event_id=f"h{i}", ts=1_000.0 + i,
                               features={"x": float(v)}, prediction=0.0) for i, v in enumerate(rng.normal(size=5_000))]
    produce(live_worker.settings, live_worker.settings.topics.predictions, history, batch=100)
    wait_for_events(live_worker.settings, model_id, len(history))
    cli_env(live_worker, monkeypatch)
    assert main(["reference", "set", model_id, "--from-ts", "2000", "--to-ts", "4999"]) == 0
    assert "version 5: 3000 events" in capsys.readouterr().err  # events stamped 2,000 to 4,999 only
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = monitor_state(live_worker.settings, model_id)
        if state is not None and "feature:x" in state.references:
            assert state.references["feature:x"].count == 3_000 and state.generation >= 1
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the worker did not take the reference")
    assert main(["reference", "set", model_id, "--from-ts", "9000", "--to-ts", "9999"]) == 2
    assert "no prediction or feature event" in capsys.readouterr().err
