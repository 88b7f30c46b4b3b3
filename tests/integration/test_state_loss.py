"""Redis losing state under a running system: emptied, or restored from an older snapshot.

Three models' streams are replayed while the fault strikes. Before, an emptied Redis cost about a
third of the events and every alert (the worker dropped its correct cached state as "fenced" and
reloaded the empty one), and a snapshot restored beside a restarted worker silently lost everything
between the snapshot and the crash. Now every event is counted once, the alerts are the backtest's,
none is published twice, and a `state` alert names each model whose state was lost. Each test has a
private Redis and worker on the session broker.
"""

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from detectors.config import MonitoringConfig
from driftline.backtest import run_backtest
from driftline.embedded import EmbeddedBroker
from driftline.settings import Settings
from driftline.worker_process import child_environment
from schemas import DriftAlert, PredictionEvent, encode_event
from tests.faults import metric, private_settings
from tests.live import WorkerProcess, collect, wait_for_events
from tests.outages import DurableRedis, SnapshotRedis
from tests.streams import two_regimes

pytestmark = pytest.mark.integration

MODELS = [f"lossy-{i}" for i in range(3)]
RATE = 300  # events/s: 6,000 events take 20 s, so each fault strikes mid-replay


def streams() -> list[PredictionEvent]:
    events = [PredictionEvent(model_id=model, model_version="1", event_id=f"e{i}", ts=float(i),
                              features={"x": v}, prediction=v)
              for m, model in enumerate(MODELS) for i, v in enumerate(two_regimes(seed=200 + m))]
    return sorted(events, key=lambda e: e.ts)


def start_replay(settings: Settings, events: list[PredictionEvent], tmp_path: Path) -> subprocess.Popen[bytes]:
    log_file = tmp_path / "events.jsonl"
    log_file.write_bytes(b"\n".join(encode_event(e) for e in events) + b"\n")
    return subprocess.Popen([sys.executable, "-m", "driftline.cli", "replay", str(log_file), "--rate", str(RATE)],
                            env=child_environment(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def assert_nothing_lost(settings: Settings, events: list[PredictionEvent], replay: subprocess.Popen[bytes]) -> None:
    """Every event counted once, exactly the backtest's alerts, once each, and a `state` alert per model."""
    output, _ = replay.communicate(timeout=120)
    assert replay.returncode == 0, output.decode(errors="replace")[-2000:]
    expected = run_backtest(events, MonitoringConfig()).alerts
    assert len(expected) >= len(MODELS), "every stream drifts"
    for model in MODELS:
        assert wait_for_events(settings, model, 2_000, timeout=120).event_count == 2_000, model
    live = collect(settings, settings.topics.alerts, DriftAlert, lambda a: a.kind != "system",  # type: ignore[attr-defined]
                   until=lambda found: len(found) >= len(expected), timeout=90, settle=3.0)
    assert sorted(a.alert_id for a in live) == sorted(a.alert_id for a in expected)  # type: ignore[attr-defined]
    told = collect(settings, settings.topics.alerts, DriftAlert,
                   lambda a: a.kind == "system" and a.signal == "state",  # type: ignore[attr-defined]
                   until=lambda found: {a.model_id for a in found} >= set(MODELS),  # type: ignore[attr-defined]
                   timeout=60, settle=2.0)
    assert {a.model_id for a in told} == set(MODELS), told  # type: ignore[attr-defined]
    assert all(a.detector in ("rewrite", "rebuild") for a in told), "lost state, not a second owner"  # type: ignore[attr-defined]
    assert len({a.alert_id for a in told}) == len(told)  # type: ignore[attr-defined]


@dataclass
class Replaying:
    settings: Settings
    events: list[PredictionEvent]
    worker: WorkerProcess
    replay: subprocess.Popen[bytes]


@contextmanager
def replaying(broker: EmbeddedBroker, store: DurableRedis, tmp_path: Path) -> Iterator[Replaying]:
    """A private worker on `store`, the three streams being replayed into it; both stopped at the end."""
    settings = private_settings(broker.url, store.url, worker_batch_messages=50)
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    events = streams()
    site = None
    try:
        site = Replaying(settings, events, worker, start_replay(settings, events, tmp_path))
        yield site
    finally:
        (site.worker if site else worker).stop()
        store.stop()


def snapshot_mid_replay(store: SnapshotRedis) -> None:
    time.sleep(6)
    store.snapshot()
    time.sleep(3)  # what the worker saves and commits now is lost when Redis goes back to the snapshot


def test_redis_emptied_mid_replay_with_the_worker_up_loses_no_event_and_says_so(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    store = DurableRedis(tmp_path / "redis").start()
    with replaying(broker, store, tmp_path) as site:
        time.sleep(8)
        client = redis.Redis.from_url(store.url)
        client.flushall()
        client.close()
        assert_nothing_lost(site.settings, site.events, site.replay)
        assert metric(site.worker, "driftline_state_lost_total") >= len(MODELS)
        assert metric(site.worker, "driftline_fenced_writes_total") == 0


def test_redis_restored_from_an_older_snapshot_with_the_worker_up_loses_no_event(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    store = SnapshotRedis(tmp_path / "redis").start()
    with replaying(broker, store, tmp_path) as site:
        snapshot_mid_replay(store)
        store.crash()
        time.sleep(1)
        store.start()
        assert_nothing_lost(site.settings, site.events, site.replay)
        assert metric(site.worker, "driftline_fenced_writes_total") == 0


def test_redis_restored_from_an_older_snapshot_while_the_worker_restarts_rereads_what_it_lost(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    store = SnapshotRedis(tmp_path / "redis").start()
    with replaying(broker, store, tmp_path) as site:
        snapshot_mid_replay(store)
        site.worker.stop(signal.SIGKILL)  # both go down together
        store.crash()
        store.start()
        site.worker = WorkerProcess(site.settings, tmp_path / "restarted.log").start()
        assert_nothing_lost(site.settings, site.events, site.replay)
        assert metric(site.worker, "driftline_state_rewinds_total") >= 1
