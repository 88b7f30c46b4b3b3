"""The Prometheus rules, Alertmanager route and Grafana dashboard docker-compose mounts: present,
valid, and checked by Prometheus's own promtool where it is installed."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "driftline.json"


def test_every_file_compose_mounts_exists() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool is not installed (Debian's prometheus package; ./dev.sh test installs it as root)")
def test_the_alerting_rules_pass_promtool() -> None:
    checked = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout


def test_the_rules_cover_worker_down_outage_lag_and_drift_rate() -> None:
    rules = {r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    assert {"DriftlineWorkerDown", "DriftlineOutage", "DriftlineLagGrowing", "DriftlineDriftAlertRate"} <= set(rules)
    assert all(r["annotations"]["summary"] and r["labels"]["severity"] in ("page", "ticket") for r in rules.values())


def test_the_dashboard_shows_what_operators_ask_for() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in ("driftline_events_in_total", "driftline_consumer_lag_messages", "driftline_alerts_total",
                   "driftline_outage", "driftline_batch_seconds_bucket"):
        assert metric in exprs, metric
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] == "driftline"
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {datasource["datasources"][0]["uid"]}
