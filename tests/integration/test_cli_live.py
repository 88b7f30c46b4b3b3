"""`driftline status` and `driftline tail` against the real services and the session's worker."""

import pytest

from detectors.config import MonitoringConfig
from driftline.backtest import run_backtest
from driftline.cli import main
from schemas import DriftAlert
from tests.live import WorkerProcess, cli_env, produce, wait_for_events
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
