"""`driftline dashboard`: a live page of every model: its signals' state (ok, warning, drift) with a
sparkline of their recent windows, and the last alerts. It reloads itself every few seconds; each
model links to its full report (driftline/report.py). State comes from Redis, alerts from a tail of
the alerts topic kept in memory since the page server started (read from the topic's start; the last
few hundred of each model)."""

import contextlib
import html
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from pydantic import ValidationError

from driftline.model_history import history_from_redis, window_means
from driftline.report import render
from driftline.settings import Settings
from driftline.status import ModelStatus, model_statuses
from driftline.times import utc_text
from schemas.events import DriftAlert

REFRESH_SECONDS = 5


class AlertTail:
    """The alerts topic read from its start by a background thread: the last `keep` alerts of each
    model, and the newest `keep` of all by when they were raised."""

    def __init__(self, settings: Settings, keep: int = 200) -> None:
        self.settings = settings
        self.keep = keep
        self.by_model: dict[str, deque[DriftAlert]] = {}
        self.newest: list[DriftAlert] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="alert-tail", daemon=True)

    def start(self) -> "AlertTail":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)

    def recent(self, model_id: str | None = None) -> list[DriftAlert]:
        """A model's last alerts in the order read, or the newest of all, newest first."""
        with self.lock:
            return list(self.by_model.get(model_id, ())) if model_id is not None else list(self.newest)

    def add(self, alert: DriftAlert) -> None:
        with self.lock:
            self.by_model.setdefault(alert.model_id, deque(maxlen=self.keep)).append(alert)
            self.newest.append(alert)
            if len(self.newest) > 2 * self.keep:  # partitions interleave: keep the newest by detection time
                self.newest = sorted(self.newest, key=lambda a: a.detected_at, reverse=True)[:self.keep]

    def _run(self) -> None:
        topic = self.settings.topics.alerts
        consumer = Consumer({**self.settings.kafka_client_config(), "group.id": "driftline-dashboard",
                             "enable.auto.commit": False})
        try:
            while not self.stopped.is_set():
                metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
                if metadata is not None and metadata.error is None and metadata.partitions:
                    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
                    break
                self.stopped.wait(2)
            while not self.stopped.is_set():
                message = consumer.poll(0.5)
                if message is None or message.error() or message.value() is None:
                    continue
                with contextlib.suppress(ValidationError):
                    self.add(DriftAlert.model_validate_json(message.value()))  # type: ignore[arg-type]
        finally:
            consumer.close()


def signal_states(status: ModelStatus) -> dict[str, str]:
    """`drift` where a detector drifted since the last deployment, `warning` where one is in warning now."""
    states: dict[str, str] = {}
    for detector in status.detectors:
        state = "drift" if detector.drifts else "warning" if detector.in_warning else "ok"
        previous = states.get(detector.signal, "ok")
        states[detector.signal] = max(previous, state, key=["ok", "warning", "drift"].index)
    return states


def overview(settings: Settings, tail: AlertTail) -> str:
    statuses = [s for s in model_statuses(settings) if s.error is None]
    rows = []
    for status in statuses:
        states = signal_states(status)
        flagged = sorted((s for s, state in states.items() if state != "ok"),
                         key=lambda s: (states[s] != "drift", s))[:30]
        means = window_means(settings, status.model_id, flagged)
        items = "".join(f"<li class={states[s]}><span class=badge>{states[s]}</span> {html.escape(s)} "
                        f"{_sparkline(means.get(s, []))}</li>" for s in flagged)
        quiet = sum(1 for state in states.values() if state == "ok")
        worst = "drift" if "drift" in states.values() else "warning" if "warning" in states.values() else "ok"
        link = quote(status.model_id, safe="")
        rows.append(f"<section class='model {worst}'><h2><a href='/model/{link}'>"
                    f"{html.escape(status.model_id)}</a> <span class=badge>{worst}</span></h2>"
                    f"<p class=meta>version {html.escape(status.model_version or '?')}, "
                    f"{status.events_since_reset or 0:,} events since its deployment, {status.resets or 0} "
                    f"deployment(s), {status.retrain_requests or 0} retrain request(s); {quiet} signals ok</p>"
                    f"<ul class=signals>{items}</ul></section>")
    alerts = sorted(tail.recent(), key=lambda a: a.detected_at, reverse=True)[:20]  # partitions interleave
    alert_rows = "".join(
        f"<tr class={a.severity.value}><td>{utc_text(a.detected_at)}</td><td>{html.escape(a.model_id)}</td>"
        f"<td>{html.escape(a.signal)}</td><td>{html.escape(a.detector)}</td><td>{a.severity.value}</td>"
        f"<td>{a.kind.value}</td></tr>" for a in alerts)
    body = "".join(rows) or "<p>No model has state in Redis yet.</p>"
    return (_PAGE.format(refresh=REFRESH_SECONDS, title="driftline")
            + f"<h1>driftline <span class=meta>{len(statuses)} models, refreshed {utc_text(time.time())} UTC"
              f"</span></h1>"
            + body + "<h2>Last alerts</h2>"
            + (f"<table class=alerts><tr><th>detected</th><th>model</th><th>signal</th><th>detector</th>"
               f"<th>severity</th><th>kind</th></tr>{alert_rows}</table>" if alerts else "<p>No alert yet.</p>")
            + "</body></html>")


def model_page(settings: Settings, tail: AlertTail, model_id: str) -> str:
    history = history_from_redis(settings, model_id)
    history.alerts = tail.recent(model_id)
    return render([history], title=f"driftline: {model_id}")


def _sparkline(values: list[float], width: int = 160, height: int = 24) -> str:
    means = values[-60:]
    if len(means) < 2:
        return ""
    low, high = min(means), max(means)
    span = (high - low) or 1.0
    points = " ".join(f"{i * (width - 2) / (len(means) - 1) + 1:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
                      for i, v in enumerate(means))
    return (f"<svg class=spark viewBox='0 0 {width} {height}' width={width} height={height}>"
            f"<polyline points='{points}'/></svg>")



class DashboardServer:
    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 8050) -> None:
        self.settings = settings
        self.tail = AlertTail(settings)
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    if self.path in ("/", "/index.html"):
                        self._send(200, overview(page.settings, page.tail))
                    elif self.path.startswith("/model/"):
                        self._send(200, model_page(page.settings, page.tail, unquote(self.path[len("/model/"):])))
                    elif self.path == "/health":
                        self._send(200, "ok", "text/plain")
                    else:
                        self._send(404, "not found", "text/plain")
                except Exception as exc:  # a page that cannot be built says why, the server stays up
                    self._send(503, f"cannot build the page: {type(exc).__name__}: {str(exc)[:300]}", "text/plain")

            def _send(self, status: int, text: str, kind: str = "text/html; charset=utf-8") -> None:
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve(self) -> None:
        self.tail.start()
        self.server.serve_forever()

    def start(self) -> "DashboardServer":
        threading.Thread(target=self.serve, name="dashboard", daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.tail.stop()


_PAGE = """<!doctype html><html lang=en><head><meta charset=utf-8><meta http-equiv=refresh content={refresh}>
<link rel=icon href="data:,">
<title>{title}</title><style>
body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}}
h1{{font-size:22px}} h2{{font-size:16px;margin:4px 0}} .meta{{color:#666;font-weight:normal;font-size:13px}}
section.model{{border:1px solid #ddd;border-left:6px solid #2a7;padding:8px 12px;margin:10px 0}}
section.warning{{border-left-color:#e93}} section.drift{{border-left-color:#d33}}
.badge{{font-size:11px;padding:1px 6px;border-radius:8px;background:#2a7;color:#fff;vertical-align:middle}}
.warning .badge,li.warning .badge{{background:#e93}} .drift .badge,li.drift .badge{{background:#d33}}
ul.signals{{list-style:none;padding:0;margin:4px 0}} ul.signals li{{margin:2px 0}}
svg.spark{{vertical-align:middle;background:#fafafa}} svg.spark polyline{{fill:none;stroke:#36c;stroke-width:1.2}}
table.alerts{{border-collapse:collapse}} table.alerts td,table.alerts th{{border:1px solid #ddd;padding:2px 8px}}
tr.drift td:first-child{{border-left:4px solid #d33}} tr.warning td:first-child{{border-left:4px solid #e93}}
</style></head><body>"""
