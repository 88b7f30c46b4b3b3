"""Several workers, faults during a replay: a kill -9, a worker added, a worker stopped.

Three workers share one consumer group while `driftline replay` sends several models' streams.
One is killed with SIGKILL, one is added, one is stopped with SIGTERM, each while events flow. Every
model must end with each event counted once and exactly the backtest's alerts, none published
twice. Partitions move between workers at every step: a worker may lose one mid-batch (fencing
refuses its write) and a killed one may leave alerts owed (the next owner's outbox check).
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from detectors.config import MonitoringConfig
from driftline.backtest import run_backtest
from driftline.embedded import EmbeddedBroker, EmbeddedRedis
from driftline.worker_process import WorkerProcess, child_environment
from schemas import DriftAlert, PredictionEvent, encode_event
from tests.faults import owns_partitions, private_settings
from tests.live import collect, wait_for_events, wait_until
from tests.streams import error_bits, labelled_predictions, two_regimes

pytestmark = pytest.mark.integration

MODELS = 5
RATE = 400  # events/s of the replay: 12,000 events take about 30 s, long enough for three faults and rebalances


def streams() -> list[PredictionEvent]:
    values = [PredictionEvent(model_id=f"mw-values-{m}", model_version="1", event_id=f"e{i}", ts=float(i),
                              features={"x": v}, prediction=v)
              for m in range(MODELS) for i, v in enumerate(two_regimes(seed=100 + m))]
    errors = labelled_predictions(error_bits(), model_id="mw-errors")
    return sorted(values + errors, key=lambda e: e.ts)  # interleaved, as a day of logs would be


def test_kill_add_and_stop_workers_during_a_replay_gives_the_backtests_alerts_once(
        broker: EmbeddedBroker, redis_service: EmbeddedRedis, tmp_path: Path) -> None:
    settings = private_settings(broker.url, redis_service.url, worker_batch_messages=20)
    events = streams()
    expected = run_backtest(events, MonitoringConfig()).alerts
    counts = {e.model_id: 0 for e in events}
    for e in events:
        counts[e.model_id] += 1
    log_file = tmp_path / "events.jsonl"
    log_file.write_bytes(b"\n".join(encode_event(e) for e in events) + b"\n")

    first, second = (WorkerProcess(settings, tmp_path / f"worker{i}.log").start(wait_ready=False) for i in range(2))
    wait_until(lambda: owns_partitions(first) and owns_partitions(second), timeout=90, what="two workers sharing")
    replay = subprocess.Popen([sys.executable, "-m", "driftline.cli", "replay", str(log_file), "--rate", str(RATE)],
                              env=child_environment(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    third = None
    try:
        time.sleep(3)
        first.stop(signal.SIGKILL)
        third = WorkerProcess(settings, tmp_path / "worker2.log").start(wait_ready=False)
        wait_until(lambda: owns_partitions(third), timeout=60, what="the added worker taking partitions")
        assert replay.poll() is None, "the faults happen during the replay"
        second.stop(signal.SIGTERM)
        output, _ = replay.communicate(timeout=120)
        assert replay.returncode == 0, output.decode(errors="replace")
        for model_id, count in counts.items():
            assert wait_for_events(settings, model_id, count, timeout=180).event_count == count, model_id
        live = collect(settings, settings.topics.alerts, DriftAlert, lambda a: a.kind != "system",  # type: ignore[attr-defined]
                       until=lambda found: len(found) >= len(expected), timeout=90, settle=5.0)
    finally:
        replay.kill()
        for worker in (first, second, third):
            if worker is not None:
                worker.stop()
    ids = [a.alert_id for a in live]  # type: ignore[attr-defined]
    assert len(ids) == len(set(ids)), "no alert was published twice"
    assert sorted(ids) == sorted(a.alert_id for a in expected)
    for model_id, count in counts.items():
        assert wait_for_events(settings, model_id, 0).event_count == count, f"{model_id}: no event counted twice"
