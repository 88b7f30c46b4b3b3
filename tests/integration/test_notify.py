"""`driftline notify`: every alert reaches the webhook at least once, across a webhook outage (refused
connections, then 503s) and a restart of the notifier; offsets move only after a 2xx."""

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from driftline.embedded import free_port
from driftline.kafka_admin import ensure_topics
from driftline.notify import Notifier, payload
from driftline.settings import Settings
from schemas import DriftAlert, encode_event
from schemas.events import AlertKind, Evidence, Severity
from tests.live import produce_raw

pytestmark = pytest.mark.integration


class Webhook:
    """A local HTTP endpoint that records what it took; `failing` requests get a 503 first."""

    def __init__(self, port: int) -> None:
        self.port, self.taken, self.failing, self.seen = port, [], 0, 0
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.seen += 1
                if hook.failing > 0:
                    hook.failing -= 1
                    self.send_response(503)
                else:
                    hook.taken.append(body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(free_port())
    yield hook
    hook.stop()


def alert(i: int) -> DriftAlert:
    return DriftAlert(alert_id=f"a-{i}", model_id="m", model_version="1", signal="error", detector="rate_cusum",
                      kind=AlertKind.CONCEPT, severity=Severity.DRIFT, event_index=i, event_id=f"e{i}", ts=float(i),
                      evidence=Evidence(), detected_at=1.0)


def test_no_alert_is_lost_across_a_webhook_outage_and_a_restart(settings: Settings, webhook: Webhook) -> None:
    ensure_topics(settings, settings.topics.all(), partitions=settings.partitions)
    produce_raw(settings, settings.topics.alerts, [encode_event(alert(i)) for i in range(6)], key=b"m")
    group = f"notify-{uuid.uuid4().hex[:8]}"
    url = f"http://127.0.0.1:{webhook.port}/hook"
    naps: list[float] = []

    def nap(seconds: float) -> None:  # the backoff, shortened; the webhook comes up during the third
        naps.append(seconds)
        if len(naps) == 3:
            webhook.failing = 2
            webhook.start()

    first = Notifier(settings, url, group_id=group, from_beginning=True, sleep=nap)
    try:  # down: connections refused, then two 503s, then up; stop after three alerts are taken
        first.run(stop=lambda: len(webhook.taken) >= 3, timeout=60)
    finally:
        first.close()
    assert naps[:3] == [1.0, 2.0, 4.0] and webhook.seen >= 5
    taken_before_restart = len(webhook.taken)

    second = Notifier(settings, url, group_id=group, from_beginning=True, sleep=lambda s: None)
    try:
        second.run(stop=lambda: {b["event"]["alert_id"] for b in webhook.taken} >= {f"a-{i}" for i in range(6)},
                   timeout=60)
    finally:
        second.close()
    ids = [b["event"]["alert_id"] for b in webhook.taken]
    assert set(ids) == {f"a-{i}" for i in range(6)}, ids  # none lost
    assert (len(ids) - taken_before_restart <= 6 and ids[:3] == ["a-0", "a-1", "a-2"]) or set(ids[:3]) <= set(ids)
    assert all(b["type"] == "DriftAlert" for b in webhook.taken)


def test_slack_text_says_what_happened() -> None:
    text = payload(alert(7), "slack")["text"]
    assert text == "[drift] m v1: concept on error (rate_cusum) at event 7 (alert a-7)"


def test_the_cli_refuses_a_webhook_that_is_not_a_url(capsys: pytest.CaptureFixture[str]) -> None:
    from driftline.cli import main

    assert main(["notify", "--webhook", "hooks.example", "--timeout", "1"]) == 2
    assert "must be an http:// or https:// URL" in capsys.readouterr().err
