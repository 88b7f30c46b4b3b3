"""docker-compose.yml cannot be run here (no Docker engine); these tests hold it to its promises."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def test_has_kafka_redis_worker_mlflow_trainer_and_monitoring(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"kafka", "redis", "worker", "mlflow", "trainer", "prometheus", "alertmanager",
                                        "grafana"}


def test_kafka_runs_the_official_image_in_kraft_mode(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "9092:9092" in kafka["ports"]


def test_redis_persists_every_second_and_never_evicts_state(compose: dict[str, Any]) -> None:
    command = compose["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options == {"--appendonly": "yes", "--appendfsync": "everysec", "--maxmemory-policy": "noeviction"}


def test_every_service_has_a_healthcheck_or_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert "healthcheck" in service or all(
            dep["condition"] == "service_healthy" for dep in service["depends_on"].values()
        ), name
    for name in ("kafka", "redis", "worker"):
        assert compose["services"][name]["healthcheck"]["test"], name


def test_worker_and_trainer_reach_kafka_and_redis_inside_the_network(compose: dict[str, Any]) -> None:
    for name in ("worker", "trainer"):
        env = compose["services"][name]["environment"]
        assert env["DRIFTLINE_BROKER"] == "kafka://kafka:29092"
        assert env["DRIFTLINE_REDIS_URL"] == "redis://redis:6379/0"
        assert {"kafka", "redis"} <= set(compose["services"][name]["depends_on"])


def test_files_the_image_needs_exist(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")
def test_docker_compose_config_accepts_the_file() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("docker client has no compose plugin")
    result = subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_trainer_keeps_its_versions_in_the_mlflow_service(compose: dict[str, Any]) -> None:
    trainer, mlflow = compose["services"]["trainer"], compose["services"]["mlflow"]
    assert trainer["depends_on"]["mlflow"]["condition"] == "service_healthy"
    assert trainer["entrypoint"][-2:] == ["--mlflow-uri", "http://mlflow:5000"]
    assert "sqlite:////mlflow/mlflow.db" in mlflow["command"] and mlflow["healthcheck"]["test"]
    assert "mlflow" in (ROOT / "Dockerfile").read_text()
