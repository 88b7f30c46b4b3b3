"""The HTML report and the live dashboard, opened in a real headless browser (Debian's chromium) against
real runs: a backtest, and a live model on the session's broker, Redis and worker. Each page loads
with no console error, shows the models and alerts it should, and leaves a screenshot."""

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from driftline.cli import main as cli
from driftline.dashboard import DashboardServer
from driftline.embedded import free_port
from driftline.worker_process import WorkerProcess
from schemas import DriftAlert, PredictionEvent
from tests.browser import console_errors, screenshot
from tests.live import cli_env, collect, produce

pytestmark = pytest.mark.integration


def keep_screenshot(path: Path) -> None:
    """`DRIFTLINE_SCREENSHOTS=docs` copies the screenshots there (how the README's images are made)."""
    target = os.environ.get("DRIFTLINE_SCREENSHOTS")
    if target:
        shutil.copy(path, Path(target) / path.name)


def drifting(model_id: str, n: int = 3_000, width: int = 3, seed: int = 4) -> list[PredictionEvent]:
    """`x0` moves by two sigma half-way and the error rate goes from 5% to 30%."""
    rng = np.random.default_rng(seed)
    t0 = time.time() - n
    events = []
    for i in range(n):
        late = i >= n // 2
        x = rng.normal(size=width) + np.r_[2.0 if late else 0.0, np.zeros(width - 1)]
        wrong = rng.random() < (0.3 if late else 0.05)
        events.append(PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=t0 + i,
                                      features={f"x{k}": float(x[k]) for k in range(width)}, prediction="a",
                                      label="b" if wrong else "a"))
    return events


def test_the_backtest_report_opens_without_errors_worst_signal_first_quiet_ones_folded(
        browser: object, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in drifting("churn", width=20)))
    report = tmp_path / "report.html"
    assert cli(["backtest", str(path), "--report", str(report), "--out", str(tmp_path / "alerts.jsonl")]) == 0
    text = report.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text  # self-contained
    browser.get(report.as_uri())  # type: ignore[attr-defined]
    assert browser.title == "driftline backtest of events.jsonl"  # type: ignore[attr-defined]
    rows = browser.find_elements("css selector", "table.summary tbody tr")  # type: ignore[attr-defined]
    assert rows and rows[0].find_elements("css selector", "td")[1].text == "feature:x0"
    folded = browser.find_element("css selector", "details.quiet")  # type: ignore[attr-defined]
    assert folded.get_attribute("open") is None and "signals without alerts" in folded.text
    assert browser.find_elements("css selector", "details.signal[open] svg line.drift")  # type: ignore[attr-defined]
    assert console_errors(browser) == []
    keep_screenshot(screenshot(browser, tmp_path / "report.png"))


def test_the_live_report_and_dashboard_show_the_model_its_drift_and_its_alerts(
        live_worker: WorkerProcess, model_id: str, browser: object, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = live_worker.settings
    produce(settings, settings.topics.predictions, drifting(model_id), batch=200)
    collect(settings, settings.topics.alerts, DriftAlert,
            lambda a: a.model_id == model_id and a.signal == "feature:x0" and a.severity == "drift",
            until=lambda found: len(found) >= 1, timeout=90, settle=3.0)

    cli_env(live_worker, monkeypatch)
    report = tmp_path / "live-report.html"
    assert cli(["report", model_id, "--out", str(report)]) == 0
    browser.get(report.as_uri())  # type: ignore[attr-defined]
    summary = browser.find_element("css selector", "table.summary").text  # type: ignore[attr-defined]
    assert "feature:x0" in summary and model_id in summary
    assert console_errors(browser) == []

    server = DashboardServer(settings, port=free_port()).start()
    try:
        deadline = time.monotonic() + 60
        while True:  # the alert tail reads the topic from its start in the background
            browser.get(server.url)  # type: ignore[attr-defined]
            if browser.find_elements("css selector", "table.alerts tr.drift"):  # type: ignore[attr-defined]
                break
            assert time.monotonic() < deadline, "no alert on the live page"
            time.sleep(1)
        section = browser.find_element("xpath", f"//section[.//a[text()='{model_id}']]")  # type: ignore[attr-defined]
        assert "drift" in section.get_attribute("class") and "feature:x0" in section.text
        assert section.find_elements("css selector", "li.drift svg.spark polyline")
        assert console_errors(browser) == []
        keep_screenshot(screenshot(browser, tmp_path / "dashboard.png"))
        section.find_element("link text", model_id).click()
        assert browser.title == f"driftline: {model_id}"  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60
        while not any("feature:x0" in table.text for table in  # the model's alerts, once the tail has read them
                      browser.find_elements("css selector", "table.summary")):  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, browser.find_element("tag name", "body").text  # type: ignore[attr-defined]
            time.sleep(1)
            browser.refresh()  # type: ignore[attr-defined]
        assert console_errors(browser) == []
    finally:
        server.stop()
