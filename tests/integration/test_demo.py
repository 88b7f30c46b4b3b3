"""`driftline demo` against configured services (the session's broker and Redis), as a user with
their own Kafka would run it; CI also runs the README's `./dev.sh demo` on the embedded default."""

import uuid
from pathlib import Path

import pytest
import redis

from driftline.cli import main
from driftline.embedded import EmbeddedBroker, EmbeddedRedis

pytestmark = pytest.mark.integration


def test_the_demo_closes_the_loop_and_draws_the_timeline(broker: EmbeddedBroker, redis_service: EmbeddedRedis,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run = uuid.uuid4().hex[:8]
    for name, value in {"DRIFTLINE_BROKER": broker.url, "DRIFTLINE_REDIS_URL": redis_service.url,
                        "DRIFTLINE_TOPIC_PREFIX": f"demo{run}.", "DRIFTLINE_KEY_PREFIX": f"demo{run}:",
                        "DRIFTLINE_KAFKA_SESSION_TIMEOUT_SECONDS": "6"}.items():
        monkeypatch.setenv(name, value)
    try:
        assert main(["demo", "--out", str(tmp_path), "--rate", "2000"]) == 0
    finally:
        client = redis.Redis.from_url(redis_service.url)
        keys = list(client.scan_iter(match=f"demo{run}:*"))
        if keys:
            client.delete(*keys)
        client.close()
    printed = capsys.readouterr().out
    accuracy = {line.split()[1] + " " + line.split()[2]: float(line.split()[3])
                for line in printed.splitlines() if line.strip().startswith("accuracy")}
    assert accuracy["before drift"] > 0.9 and accuracy["after drift"] < 0.7, printed
    assert accuracy["after retraining"] > accuracy["after drift"] + 0.15, printed
    assert "ALERT     drift   error (rate_cusum)" in printed and "RETRAIN   request" in printed, printed
    assert "REJECTED  candidate 2" in printed and "fewer than the gate's minimum" in printed, printed
    assert "DEPLOYED  version 3" in printed and "detectors reset 1 time(s)" in printed, printed
    assert "candidates rejected 1, deployments 1" in printed, printed
    assert (tmp_path / "drift_timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "models").is_dir() and (tmp_path / "worker.log").stat().st_size > 0
