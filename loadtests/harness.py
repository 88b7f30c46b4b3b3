"""The benchmark harness: one run on the embedded broker and Redis measures, side by side,
(a) a raw consume + JSON decode loop, (b) the detectors/ monitor in a plain loop, (c) a naive Faust
agent, (d) driftline's worker with batch envelopes and (e) with single-event messages; then alert
latency at half of (d)'s peak, worker RSS, Redis memory per model, scaling over 1 and 2 worker
processes, and the size of an ADWIN signal's state after 1M events. Prints a table and writes
loadtests/results/w1.json.

    ./dev.sh bench            # or: .venv/bin/python -m loadtests.harness [--quick]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import redis
from confluent_kafka import Consumer, TopicPartition
from river import drift
from river.drift import binary

from agents.keys import RedisKeys
from detectors.config import ModelPolicy, MonitoringConfig, SignalRule
from detectors.monitor import ModelMonitor
from detectors.snapshot import encode_snapshot
from detectors.windows import WindowConfig
from driftline.backtest import backtest_file
from driftline.embedded import EmbeddedBroker, EmbeddedRedis
from driftline.kafka_admin import ensure_topics
from driftline.settings import Settings
from driftline.worker_process import WorkerProcess
from loadtests.loadgen import build_messages, produce_flat_out, produce_paced, send_messages
from loadtests.workload import W1
from schemas import DriftAlert, FeatureEvent, PredictionEvent, Severity

RESULTS = Path(__file__).parent / "results"
TARGETS = {"d_over_b": 0.5, "d_over_c": 10.0, "alert_p99_ms": 250.0, "adwin_state_bytes": 8 * 1024}
Result = dict[str, Any]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, broker: EmbeddedBroker, store: EmbeddedRedis, work_dir: Path) -> None:
        self.base = Settings(broker=broker.url, redis_url=store.url, kafka_session_timeout_seconds=6.0,
                             state_key="bench-state-key")
        self.redis = redis.Redis.from_url(store.url)
        self.work_dir = work_dir

    def fresh(self, partitions: int = 1) -> Settings:
        run = uuid.uuid4().hex[:8]
        settings = self.base.model_copy(update={"topic_prefix": f"bench{run}.", "key_prefix": f"bench{run}:",
                                                "partitions": partitions})
        ensure_topics(settings, settings.topics.all(), partitions=partitions)
        return settings

    # (a) ------------------------------------------------------------------------------------------
    def raw(self, events: int) -> Result:
        settings = self.fresh()
        topic = settings.topics.predictions
        produce_flat_out(settings, topic, [W1(events)], batch=500)
        consumer = Consumer({**settings.kafka_client_config(), "group.id": f"raw-{uuid.uuid4().hex}",
                             "enable.auto.commit": False, "fetch.max.bytes": 52_428_800})
        consumer.assign([TopicPartition(topic, 0, 0)])
        seen, started = 0, None
        try:
            while seen < events:
                for message in consumer.consume(1000, 1.0):
                    value = message.value()
                    if message.error() or value is None:
                        continue
                    if started is None:
                        started = time.perf_counter()
                    seen += len(json.loads(value)["batch"])
        finally:
            consumer.close()
        seconds = time.perf_counter() - (started or time.perf_counter())
        return {"events": events, "seconds": seconds, "events_per_s": events / seconds}

    # (r) and (b) ----------------------------------------------------------------------------------
    @staticmethod
    def river_loop(validated: list[PredictionEvent]) -> Result:
        """What a user would write: river's default detectors updated in a plain Python loop."""
        features = list(validated[0].features)
        detectors: dict[str, Any] = {f"feature:{name}": drift.ADWIN() for name in features}  # type: ignore[no-untyped-call]
        detectors["prediction"], detectors["error"] = drift.PageHinkley(), binary.DDM()
        drifts: dict[str, list[int]] = {signal: [] for signal in detectors}
        columns = [(f"feature:{name}", detectors[f"feature:{name}"], name) for name in features]
        prediction, error = detectors["prediction"], detectors["error"]
        started = time.perf_counter()
        for i, event in enumerate(validated):
            for signal, detector, name in columns:
                detector.update(event.features[name])
                if detector.drift_detected:
                    drifts[signal].append(i)
            prediction.update(event.prediction)
            if prediction.drift_detected:
                drifts["prediction"].append(i)
            error.update(int(event.prediction != event.label))
            if error.drift_detected:
                drifts["error"].append(i)
        seconds = time.perf_counter() - started
        return {"events": len(validated), "seconds": seconds, "events_per_s": len(validated) / seconds,
                "drifts": drifts}

    @staticmethod
    def compute(validated: list[PredictionEvent], batch: int = 500) -> Result:
        """The monitor in process, fed runs of `batch` events as the worker is (one envelope each)."""
        monitor = ModelMonitor("w1", MonitoringConfig().defaults)
        monitor.observe_many(validated[:1])  # compile or load the kernels outside the timing
        monitor = ModelMonitor("w1", MonitoringConfig().defaults)
        alerts: list[DriftAlert] = []
        started = time.perf_counter()
        for start in range(0, len(validated), batch):
            alerts += monitor.observe_many(validated[start : start + batch]).alerts
        seconds = time.perf_counter() - started
        drifts: dict[str, list[int]] = {}
        for alert in alerts:
            if alert.severity == Severity.DRIFT:
                drifts.setdefault(alert.signal, []).append(alert.event_index)
        return {"events": len(validated), "seconds": seconds, "events_per_s": len(validated) / seconds,
                "alerts": len(alerts), "drifts": drifts}

    @staticmethod
    def backtest(workload: W1, work_dir: Path) -> Result:
        """`driftline backtest` over a JSON-lines file of the workload: reading, validation and the monitor."""
        path = work_dir / "backtest-w1.jsonl"
        with path.open("wb") as out:
            for line in workload.encoded():
                out.write(line + b"\n")
        started = time.perf_counter()
        result = backtest_file(path, MonitoringConfig())
        seconds = time.perf_counter() - started
        small = work_dir / "backtest-10.jsonl"
        small.write_bytes(b"".join(line + b"\n" for line in workload.encoded(0, 10)))
        cli_started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "driftline.cli", "backtest", str(small), "--out",
                        str(work_dir / "backtest-10-alerts.jsonl")], check=True, capture_output=True)
        return {"events": result.events, "seconds": seconds, "events_per_s": result.events / seconds,
                "alerts": len(result.alerts), "cli_10_events_seconds": time.perf_counter() - cli_started}

    # (c) ------------------------------------------------------------------------------------------
    def naive_faust(self, events: int) -> Result:
        settings = self.fresh()
        topic = settings.topics.predictions
        produce_flat_out(settings, topic, [W1(events)], batch=1)
        key = f"{settings.key_prefix}naive-result"
        env = {**os.environ, "NAIVE_BROKER": settings.broker, "NAIVE_TOPIC": topic, "NAIVE_EXPECT": str(events),
               "NAIVE_REDIS_URL": settings.redis_url, "NAIVE_RESULT_KEY": key}
        with (self.work_dir / "naive.log").open("ab") as out:
            process = subprocess.Popen([sys.executable, "-m", "loadtests.naive_faust", "worker", "-l", "warn"],
                                       env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            def finished() -> bytes | None:
                if process.poll() is not None:
                    raise RuntimeError(f"the naive agent exited with {process.returncode}; see its log")
                return self.redis.get(key)  # type: ignore[return-value]

            result = _wait_for(finished, timeout=240, what="the naive agent")
        finally:
            process.terminate()
            process.wait(30)
        found = json.loads(result)
        return {"events": found["events"], "seconds": found["seconds"],
                "events_per_s": found["events"] / found["seconds"]}

    # (d), (e), scaling ---------------------------------------------------------------------------
    def driftline(self, workloads: list[W1], *, batch: int, workers: int = 1, partitions: int = 1) -> Result:
        settings = self.fresh(partitions)
        processes = [WorkerProcess(settings, self.work_dir / f"worker-{settings.topic_prefix}{n}.log")
                     for n in range(workers)]
        for process in processes:
            process.start(wait_ready=False)
        processes[0].wait_ready()
        if workers > 1:
            time.sleep(settings.kafka_session_timeout_seconds * 2)  # let the group settle with every member
        total = sum(w.events for w in workloads)
        stats_key = RedisKeys(settings.key_prefix).stats
        counter = f"events:{settings.topics.predictions}"

        def processed() -> int:
            value = self.redis.hget(stats_key, counter)
            return int(value) if value else 0

        messages = build_messages(workloads, batch)
        producer = threading.Thread(target=send_messages, args=(settings, settings.topics.predictions, messages))
        producer.start()
        first = _wait_for(lambda: (n, time.perf_counter()) if (n := processed()) > 0 else None, timeout=120,
                          what="the first processed batch", poll=0.005)
        last = _wait_for(lambda: time.perf_counter() if processed() >= total else None, timeout=600,
                         what=f"{total} processed events", poll=0.01)
        producer.join()
        seconds = last - first[1]
        rss = [_peak_rss_bytes(p) for p in processes]
        memory = {w.model_id: self._redis_bytes(settings, w.model_id) for w in workloads}
        for process in processes:
            process.stop()
        return {"events": total - first[0], "seconds": seconds, "events_per_s": (total - first[0]) / seconds,
                "batch": batch, "workers": workers, "partitions": partitions, "models": len(workloads),
                "worker_peak_rss_bytes": rss, "redis_bytes_per_model": memory}

    def _redis_bytes(self, settings: Settings, model_id: str) -> int:
        total = 0
        for key in self.redis.scan_iter(match=f"{settings.key_prefix}*{model_id}*", count=1000):
            total += int(self.redis.memory_usage(key) or 0)
        return total

    # latency -------------------------------------------------------------------------------------
    def latency(self, rate: float, seconds: float) -> Result:
        settings = self.fresh()
        worker = WorkerProcess(settings, self.work_dir / "worker-latency.log").start()
        workload = W1(int(rate * seconds), model_id="w1-latency", shift_every=2_000)
        arrivals: list[tuple[str, float]] = []
        done = threading.Event()

        def watch() -> None:
            consumer = Consumer({**settings.kafka_client_config(), "group.id": f"lat-{uuid.uuid4().hex}",
                                 "enable.auto.commit": False, "fetch.wait.max.ms": 5})
            consumer.assign([TopicPartition(settings.topics.alerts, 0, 0)])
            while not done.is_set():
                message = consumer.poll(0.05)
                value = None if message is None or message.error() else message.value()
                if value is not None:
                    arrivals.append((DriftAlert.model_validate_json(value).event_id, time.time()))
            consumer.close()

        watcher = threading.Thread(target=watch)
        watcher.start()
        sent_at = produce_paced(settings, settings.topics.predictions, workload, rate)
        time.sleep(5)
        done.set()
        watcher.join()
        rss = _peak_rss_bytes(worker)
        worker.stop()
        latencies = np.array([arrived - sent_at[int(event_id[1:])] for event_id, arrived in arrivals]) * 1000
        return {"rate": rate, "seconds": seconds, "alerts": len(latencies),
                "p50_ms": float(np.percentile(latencies, 50)) if latencies.size else None,
                "p99_ms": float(np.percentile(latencies, 99)) if latencies.size else None,
                "max_ms": float(latencies.max()) if latencies.size else None, "worker_peak_rss_bytes": rss}

    # state size ----------------------------------------------------------------------------------
    @staticmethod
    def adwin_state(events: int) -> Result:
        sizes = {}
        for label, windows in (("adwin_only", WindowConfig(enabled=False)), ("adwin_with_windows", WindowConfig())):
            policy = ModelPolicy(signals={"feature:*": SignalRule.model_validate({"detectors": [{"type": "adwin"}]})},
                                 windows=windows)
            monitor = ModelMonitor("m", policy)
            values = np.random.default_rng(1).normal(size=events).tolist()
            chunk = 10_000  # any cut gives the same state (tests/unit/test_columns.py); one event a call is slow
            for start in range(0, events, chunk):
                monitor.observe_many([FeatureEvent.model_construct(model_id="m", model_version="1", event_id=f"e{i}",
                                                                   ts=float(i), features={"x": values[i]})
                                      for i in range(start, min(start + chunk, events))])
            sizes[label] = len(encode_snapshot(monitor, b"k"))
        return {"events": events, "snapshot_bytes": sizes}


def oracle(river: dict[str, list[int]], monitor: dict[str, list[int]]) -> Result:
    """Do the monitor's drift alerts fall where river's detectors, run on the same values, detect drift?

    The monitor's defaults hold error alerts for the first 200 labels (warm-up), so river's drifts
    there are left out."""
    warmup = MonitoringConfig().defaults.signals["error"].warmup
    expected = {s: [i for i in found if s != "error" or i >= warmup] for s, found in river.items()}
    expected = {s: found for s, found in expected.items() if found}
    differing = sorted(s for s in expected.keys() | monitor.keys() if expected.get(s, []) != monitor.get(s, []))
    drifts = sum(len(found) for found in expected.values())
    verdict = (f"the monitor's {drifts} drift alerts equal river's on the same values" if not differing
               else f"MISMATCH with river on {', '.join(differing)}")
    return {"equal": not differing, "drifts": drifts, "differing_signals": differing, "verdict": verdict}


def _wait_for(probe: Callable[[], Any], *, timeout: float, what: str, poll: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout}s")
        time.sleep(poll)


def _peak_rss_bytes(process: WorkerProcess) -> int | None:
    if process.process is None:
        return None
    try:
        for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def run(quick: bool) -> Result:
    scale = 0.25 if quick else 1.0
    n_main, n_single, n_naive = int(200_000 * scale), int(40_000 * scale), int(30_000 * scale)
    started = time.perf_counter()
    logs = RESULTS / "logs"  # worker and agent logs of the last run (not committed)
    logs.mkdir(parents=True, exist_ok=True)
    with EmbeddedBroker() as broker, EmbeddedRedis() as store:
        bench = Bench(broker, store, logs)
        out: Result = {}
        log("(a) raw consume + decode ...")
        out["a_raw"] = bench.raw(n_main)
        validated = W1(n_main).validated()
        log("(r) river's detectors in a plain Python loop ...")
        out["r_river_loop"] = bench.river_loop(validated)
        log("(b) monitor compute in-process ...")
        out["b_compute"] = bench.compute(validated)
        out["oracle"] = oracle(out["r_river_loop"]["drifts"], out["b_compute"]["drifts"])
        log(f"oracle: {out['oracle']['verdict']}")
        del validated
        log("backtest of the same events from a JSON-lines file ...")
        out["backtest"] = bench.backtest(W1(n_main), logs)
        log("(c) naive Faust agent ...")
        out["c_naive_faust"] = bench.naive_faust(n_naive)
        log("(d) driftline worker, batch envelopes ...")
        out["d_driftline_batch"] = bench.driftline([W1(n_main)], batch=500)
        log("(e) driftline worker, single-event messages ...")
        out["e_driftline_single"] = bench.driftline([W1(n_single)], batch=1)
        peak = out["d_driftline_batch"]["events_per_s"]
        log(f"latency at half of peak ({peak / 2:,.0f} events/s) ...")
        out["latency"] = bench.latency(peak / 2, 30 * scale)
        log("scaling: 4 models over 4 partitions, 1 then 2 workers ...")
        models = [W1(n_main // 4, model_id=f"w1-{m}", seed=m) for m in range(4)]
        out["scaling"] = {str(w): bench.driftline(models, batch=500, workers=w, partitions=4) for w in (1, 2)}
        log("ADWIN state after 1M events ...")
        out["state"] = bench.adwin_state(int(1_000_000 * scale))
    d, b, c = (out[k]["events_per_s"] for k in ("d_driftline_batch", "b_compute", "c_naive_faust"))
    a, r, backtest = (out[k]["events_per_s"] for k in ("a_raw", "r_river_loop", "backtest"))
    out["ratios"] = {"b_over_r": b / r, "d_over_a": d / a, "d_over_c": d / c, "backtest_over_a": backtest / a,
                     "latency": {"p50_ms": out["latency"]["p50_ms"], "p99_ms": out["latency"]["p99_ms"]}}
    out["figures"] = {"d_over_b": d / b, "d_over_c": d / c, "alert_p50_ms": out["latency"]["p50_ms"],
                      "alert_p99_ms": out["latency"]["p99_ms"],
                      "adwin_state_bytes": out["state"]["snapshot_bytes"]["adwin_only"]}
    f = out["figures"]
    out["targets"] = {
        "d_over_b": {"target": ">= 0.5", "met": f["d_over_b"] >= TARGETS["d_over_b"]},
        "d_over_c": {"target": ">= 10", "met": f["d_over_c"] >= TARGETS["d_over_c"]},
        "alert_p99_ms": {"target": "<= 250", "met": f["alert_p99_ms"] is not None
                         and f["alert_p99_ms"] <= TARGETS["alert_p99_ms"]},
        "adwin_state_bytes": {"target": "< 8192", "met": f["adwin_state_bytes"] < TARGETS["adwin_state_bytes"]},
    }
    out["run"] = {"quick": quick, "seconds": time.perf_counter() - started, "python": platform.python_version(),
                  "cpus": os.cpu_count(), "machine": platform.machine(),
                  "date": time.strftime("%Y-%m-%d", time.gmtime())}
    return out


def table(out: Result) -> str:
    rows = [("(a) raw consume + JSON decode", out["a_raw"]), ("(r) river detectors, plain loop", out["r_river_loop"]),
            ("(b) monitor compute, in-process", out["b_compute"]), ("backtest from a JSON-lines file", out["backtest"]),
            ("(c) naive Faust agent, 1 event/msg", out["c_naive_faust"]),
            ("(d) driftline, batch envelopes", out["d_driftline_batch"]),
            ("(e) driftline, single-event msgs", out["e_driftline_single"])]
    lines = [f"{'W1 throughput':<38}{'events/s':>12}", *(f"{name:<38}{r['events_per_s']:>12,.0f}" for name, r in rows)]
    f, lat, d, ratios = out["figures"], out["latency"], out["d_driftline_batch"], out["ratios"]
    scaling = out["scaling"]
    lines += [
        "",
        f"b/r = {ratios['b_over_r']:.1f} (target >= 5)   d/a = {ratios['d_over_a']:.2f} (target >= 0.5)   "
        f"d/c = {f['d_over_c']:.1f} (target >= 10)   backtest/a = {ratios['backtest_over_a']:.2f} (target >= 0.5)",
        f"oracle: {out['oracle']['verdict']}",
        f"backtest of a 10-event file (CLI, kernels cached): {out['backtest']['cli_10_events_seconds']:.2f} s "
        "(target < 2 s)",
        f"alert latency at {lat['rate']:,.0f} events/s: p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms "
        f"over {lat['alerts']} alerts (target p99 <= 250 ms)",
        f"worker peak RSS (d): {max(d['worker_peak_rss_bytes']) / 2**20:.0f} MiB; Redis per W1 model: "
        f"{max(d['redis_bytes_per_model'].values()) / 1024:.0f} KiB",
        f"scaling, 4 models / 4 partitions: 1 worker {scaling['1']['events_per_s']:,.0f}/s, "
        f"2 workers {scaling['2']['events_per_s']:,.0f}/s",
        f"ADWIN signal snapshot after {out['state']['events']:,} events: "
        f"{out['state']['snapshot_bytes']['adwin_only']:,} B (target < 8192); with PSI/KS windows "
        f"{out['state']['snapshot_bytes']['adwin_with_windows']:,} B",
        "targets: " + ", ".join(f"{k} {'met' if v['met'] else 'MISSED'}" for k, v in out["targets"].items()),
        f"run took {out['run']['seconds']:.0f}s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="driftline W1 benchmarks")
    parser.add_argument("--quick", action="store_true", help="a quarter of the events (a smoke run)")
    parser.add_argument("--out", type=Path, help="results file (default loadtests/results/w1[-quick].json)")
    args = parser.parse_args(argv)
    out = run(args.quick)
    path = args.out or RESULTS / ("w1-quick.json" if args.quick else "w1.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(table(out))
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
