"""The worker's Prometheus metrics, served at /metrics on its HTTP port.

One registry per worker (not prometheus_client's global one), so tests and embedded use can run
several processors in one process without their counts mixing.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from detectors.performance import METRIC_NAMES, PerformanceWindow
from schemas.events import DriftAlert

__all__ = ["CONTENT_TYPE_LATEST", "WorkerMetrics"]

# Detector updates of one event take tens of microseconds; a slow one (calibration, a KS test) milliseconds.
UPDATE_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2, 0.25)
BATCH_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_in = Counter("driftline_events_in", "Valid events taken in, by topic and model",
                                 ["topic", "model"], registry=r)
        self.dead_letters = Counter("driftline_dead_letters", "Messages or events sent to the dead-letter topic",
                                    ["reason"], registry=r)
        self.alerts = Counter("driftline_alerts", "Alerts published, by model, signal, detector and severity",
                              ["model", "signal", "detector", "severity"], registry=r)
        self.retrain_requests = Counter("driftline_retrain_requests", "Retrain requests published", ["model"],
                                        registry=r)
        self.skipped_replays = Counter("driftline_skipped_replays", "Redelivered events already in a snapshot",
                                       registry=r)
        self.stale_events = Counter("driftline_stale_events", "Events of a model version a deployment replaced",
                                    ["model"], registry=r)
        self.snapshot_resets = Counter("driftline_snapshot_resets", "Saved detector states refused and reset",
                                       ["model"], registry=r)
        self.detector_update_seconds = Histogram(
            "driftline_detector_update_seconds",
            "Time to run one model's events of a batch through its detectors, as columns (one per model per batch)",
            buckets=UPDATE_BUCKETS, registry=r)
        self.batch_seconds = Histogram("driftline_batch_seconds", "Time to handle one batch, Redis and Kafka included",
                                       buckets=BATCH_BUCKETS, registry=r)
        self.redis_errors = Counter("driftline_redis_errors", "Failed Redis operations (each is retried)",
                                    ["operation"], registry=r)
        self.kafka_errors = Counter("driftline_kafka_errors", "Failed Kafka sends (each is retried)",
                                    ["operation"], registry=r)
        self.consumer_lag = Gauge("driftline_consumer_lag_messages",
                                  "Messages behind the partition's end after the last batch", ["topic", "partition"],
                                  registry=r)
        self.fenced_writes = Counter("driftline_fenced_writes",
                                     "Model writes refused because another worker claimed the model", registry=r)
        self.state_lost = Counter("driftline_state_lost",
                                  "Models whose state Redis lost, by how it was restored: rewrite (from the worker's "
                                  "memory) or rebuild (read again from Kafka)", ["how"], registry=r)
        self.state_rewinds = Counter("driftline_state_rewinds",
                                     "Partition ranges read again from Kafka because Redis's state missed them",
                                     registry=r)
        self.outage = Gauge("driftline_outage",
                            "1 while the worker cannot save a batch (Redis or Kafka away, a Redis error, a bug)",
                            registry=r)
        self.performance = Gauge("driftline_performance",
                                 "The last closed performance window's metrics (accuracy, precision, recall, f1; "
                                 "mae, rmse, median_ae), by model; window=reference for the reference window",
                                 ["model", "metric", "window"], registry=r)
        self.performance_drop = Gauge("driftline_performance_drop",
                                      "1 while the last performance window is worse than the reference beyond "
                                      "chance", ["model"], registry=r)

    def performance_window(self, window: PerformanceWindow) -> None:
        which = "reference" if window.reference else "last"
        for metric in METRIC_NAMES:
            value = getattr(window, metric)
            if value is not None:
                self.performance.labels(window.model_id, metric, which).set(value)
        if not window.reference:
            self.performance_drop.labels(window.model_id).set(int(window.drop))

    def alert(self, alert: DriftAlert) -> None:
        self.alerts.labels(alert.model_id, alert.signal, alert.detector, alert.severity.value).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
