"""The Faust app: one agent over the four inbound topics, kept thin.

One agent (not one per topic) so all of a model's events, whichever topic they came on, are
handled one batch at a time by one coroutine: no two coroutines ever touch the same monitor.
The agent only turns Faust events into InboundMessages and hands them to the BatchProcessor;
Faust acks a batch after the processor returns, by which time its state is in Redis. The processor
returns only then (it retries whatever fails), and a batch cut short by cancellation is never acked.
"""

import logging
import ssl
import tempfile
from pathlib import Path
from typing import Any

import faust
from faust import web

from agents.batching import BatchWindow, DriftlineStream
from agents.keys import RedisKeys
from agents.messages import InboundMessage
from agents.metrics import CONTENT_TYPE_LATEST, WorkerMetrics
from agents.processor import BatchProcessor
from agents.published import KafkaPublishedLog
from agents.recovery import KafkaPartitions
from agents.store import StateStore, redis_client
from detectors.config import MonitoringConfig
from detectors.warmup import warm_up
from driftline.gc_tuning import tune_for_batches
from driftline.settings import Settings

log = logging.getLogger(__name__)


class FaustPublisher:
    """Sends through the Faust app's own producer (started and stopped with the worker)."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    async def send(self, topic: str, key: str, value: bytes) -> Any:
        return await self.app.producer.send(topic, key.encode(), value, partition=None, timestamp=None, headers=None)


def faust_broker_url(settings: Settings) -> str:
    return ";".join(f"kafka://{host}" for host in settings.bootstrap_servers.split(","))


def faust_credentials(settings: Settings) -> Any:
    protocol = settings.kafka_security_protocol
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        context = ssl.create_default_context(cafile=cafile)
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(str(settings.kafka_ssl_certfile),
                                    str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None)
    if protocol.startswith("SASL"):
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
        return faust.SASLCredentials(username=settings.kafka_sasl_username, password=password,
                                     mechanism=settings.kafka_sasl_mechanism or "PLAIN", ssl_context=context)
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def _shorten_fetch_wait(app: faust.App, seconds: float) -> None:
    """Faust creates its aiokafka consumer with fetch_max_wait_ms=1500 and no setting to change it.
    A broker that does not answer a fetch as soon as data arrives (Tansu, here) then holds each
    fetch up to 1.5 s, which was most of the alert latency; the fetcher reads the value per request."""
    try:
        fetcher = app.consumer._thread._ensure_consumer()._fetcher  # type: ignore[attr-defined]
        fetcher._fetch_max_wait_ms = int(seconds * 1000)
    except AttributeError:
        log.warning("could not shorten the consumer's fetch wait: Faust or aiokafka internals changed")


def _withhold_acks(events: Any) -> None:
    """Keep Faust from acking a batch that was not saved.

    take_events acks its whole buffer in a `finally`, even when the agent leaves by an exception or
    cancellation, and Faust then commits those offsets: the events would be lost. A message already
    marked acked is skipped by that ack and never enters Faust's acked offsets, so the committed
    offset stops before it and the partition's next owner reads it again."""
    for event in events:
        event.message.acked = True


def _record_lag(app: faust.App, metrics: WorkerMetrics, events: Any) -> None:
    """Lag after the batch: the partition's end as of the last fetch, minus the next offset to read."""
    last: dict[Any, int] = {}
    for event in events:
        last[event.message.tp] = max(last.get(event.message.tp, -1), event.message.offset)
    for tp, offset in last.items():
        try:
            end = app.consumer.highwater(tp)
        except Exception:  # the end is unknown until the first fetch answers; lag is best effort
            continue
        if end is not None:
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, end - offset - 1))


def app_id_for(settings: Settings) -> str:
    """The consumer group: one per topic prefix, so separate deployments never share offsets."""
    return f"{settings.topic_prefix}worker".replace(".", "-").strip("-") or "driftline-worker"


def create_app(settings: Settings, config: MonitoringConfig) -> faust.App:
    warm_up(config, log.warning)  # compile the kernels before the first batch, not during it
    tune_for_batches()
    app_id = app_id_for(settings)
    data_dir = settings.worker_data_dir or Path(tempfile.gettempdir()) / "driftline" / app_id
    data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=faust_broker_url(settings),
        broker_credentials=faust_credentials(settings),
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=settings.kafka_heartbeat_interval_seconds,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        store="memory://",
        datadir=str(data_dir),
        web_enabled=settings.web_port != 0,
        web_host=settings.web_host,
        web_port=settings.web_port or 6066,
        web_bind=settings.web_host,
        Stream=DriftlineStream,
    )
    store = StateStore(redis_client(settings), RedisKeys(settings.key_prefix), settings.label_ttl_seconds)
    metrics = WorkerMetrics()
    processor = BatchProcessor(settings, config, store, FaustPublisher(app), metrics=metrics,
                               published=KafkaPublishedLog(settings),
                               partitions=KafkaPartitions(settings, app_id, rebuild_hours=settings.state_rebuild_hours))
    inbound = app.topic(*settings.topics.inbound(), key_type=bytes, value_type=bytes)

    @app.agent(inbound, name="monitor")
    async def monitor(stream: Any) -> None:
        async for events in stream.take_batches(BatchWindow.of(settings)):
            try:
                await processor.process([
                    InboundMessage(e.message.topic, e.message.partition, e.message.offset, e.message.key,
                                   e.message.value)
                    for e in events
                ])
            except BaseException:  # cancelled (the worker stops) before the batch was saved
                _withhold_acks(events)
                raise
            _record_lag(app, metrics, events)

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        _shorten_fetch_wait(app, settings.worker_fetch_max_wait_seconds)
        assigned = args[0] if args else kwargs.get("assigned", ())
        processor.partitions_assigned((tp.topic, tp.partition) for tp in assigned)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked = args[0] if args else kwargs.get("revoked", ())
        processor.partitions_revoked((tp.topic, tp.partition) for tp in revoked)

    @app.page("/health")
    async def health(view: web.View, request: web.Request) -> web.Response:
        """Liveness: the worker's event loop answers. An outage does not fail it (restarting would not help)."""
        response: web.Response = view.json({"status": "ok", "app": app_id, "waiting_for": processor.outage})
        return response

    @app.page("/ready")
    async def ready(view: web.View, request: web.Request) -> web.Response:
        """Readiness: 503 while the worker waits for Redis or Kafka, or before it owns any partition."""
        assigned = len(app.consumer.assignment()) if app.consumer is not None else 0
        problem = processor.outage or (None if assigned else "no partitions assigned yet")
        body = {"status": "ready" if problem is None else "not ready", "partitions": assigned, "problem": problem}
        response: web.Response = view.json(body, status=200 if problem is None else 503)
        return response

    @app.page("/metrics")
    async def metrics_page(view: web.View, request: web.Request) -> web.Response:
        response: web.Response = view.bytes(metrics.exposition(),  # aiohttp refuses a charset in content_type=
                                                    headers={"Content-Type": CONTENT_TYPE_LATEST})
        return response

    app.conf.driftline_processor = processor  # type: ignore[attr-defined]
    return app
