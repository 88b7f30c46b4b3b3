"""The retraining loop with its safeguards, on the real broker, Redis, worker and MLflow server:
drift -> request -> a worse candidate rejected (ModelRejected, no reset, alias unchanged) -> the
worker asks again after the cooldown -> a better candidate promoted (ModelDeployed with lineage,
alias moved, detectors reset) -> `driftline lineage` shows the chain and `driftline export`
rebuilds the exact training set -> a bad deployment raises the post-deployment alert and a
rollback, which the trainer carries out."""

import json
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftline.cli import main as cli
from driftline.sdk import (
    DriftAlert,
    EventProducer,
    Example,
    GateConfig,
    ModelDeployed,
    ModelRejected,
    RetrainRequest,
    Trainer,
    ValidatedTraining,
    fingerprint,
)
from driftline.sdk.mlflow_registry import MlflowRegistry
from driftline.worker_process import WorkerProcess
from tests.live import cli_env, collect, monitor_state, wait_until

pytestmark = pytest.mark.integration


class ThresholdLearner:
    """`pos` above a threshold of feature x: fit picks the threshold with the fewest training errors.
    Its first fit is botched on purpose (it always says `pos`), a candidate the gate must reject."""

    def __init__(self) -> None:
        self.fits = 0

    def fit(self, examples: Sequence[Example]) -> float:
        self.fits += 1
        if self.fits == 1:
            return -np.inf
        xs = np.array([e.features["x"] for e in examples], dtype=np.float64)
        pos = np.array([e.label == "pos" for e in examples])
        candidates = np.quantile(xs, np.linspace(0.01, 0.99, 99))
        errors = [np.count_nonzero((xs > t) != pos) for t in candidates]
        return float(candidates[int(np.argmin(errors))])

    def predict(self, model: Any, example: Example) -> str:
        return "pos" if float(example.features["x"]) > model else "neg"  # type: ignore[arg-type]

    def score(self, model: Any, example: Example) -> float | None:
        return None


def send(producer: EventProducer, model_id: str, version: str, serving_threshold: float, truth_threshold: float,
         start: int, n: int, t0: float, rng: np.random.Generator) -> None:
    """`n` labelled predictions: the version predicts `pos` above `serving_threshold`, the truth is `pos`
    above `truth_threshold` (5% of labels flipped)."""
    for i in range(start, start + n):
        x = float(rng.normal())
        truth = (x > truth_threshold) != (rng.random() < 0.05)
        producer.log_prediction(model_id, version, {"x": x}, prediction="pos" if x > serving_threshold else "neg",
                                label="pos" if truth else "neg", event_id=f"e{i}", ts=t0 + i * 0.01)


def test_a_worse_candidate_is_rejected_a_better_one_promoted_traced_rebuilt_and_a_bad_deployment_rolled_back(
        live_worker: WorkerProcess, model_id: str, mlflow_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    settings = live_worker.settings
    rng = np.random.default_rng(26)
    registry = MlflowRegistry(mlflow_url, experiment=f"test-{model_id}")
    assert registry.add(model_id, 0.0).version == "1" and registry.champion(model_id) == "1"
    learner = ThresholdLearner()
    training = ValidatedTraining(learner, registry, GateConfig(validation_examples=200, min_training_examples=100),
                                 settings=settings, training_examples=400, max_wait_seconds=60)
    trainer = Trainer(training.train, settings, group_id=f"trainer-{uuid.uuid4().hex}", model_ids={model_id},
                      rollback=training.rollback, trainer_id="test-trainer", code_version="test 1.0")
    stop = threading.Event()
    serving = threading.Thread(target=trainer.run, kwargs={"stop": stop.is_set}, daemon=True)
    serving.start()
    t0 = time.time() - 600  # event time: ten minutes ago, 100 events a second
    try:
        with EventProducer(settings) as producer:  # version 1 is right until the truth moves to x > 1
            send(producer, model_id, "1", 0.0, 0.0, 0, 1_500, t0, rng)
            send(producer, model_id, "1", 0.0, 1.0, 1_500, 1_000, t0, rng)

        # 1. the botched candidate: rejected, nothing reset, the alias stays on version 1
        rejected = collect(settings, settings.topics.rejections, ModelRejected, lambda e: e.model_id == model_id,
                           until=lambda found: len(found) >= 1, timeout=120)
        assert len(rejected) == 1
        rejection = rejected[0]
        assert isinstance(rejection, ModelRejected)
        assert (rejection.candidate_version, rejection.serving_version) == ("2", "1")
        assert not rejection.validation.passed and rejection.validation.slice_size == 200
        assert rejection.validation.candidate_score < rejection.validation.serving_score  # type: ignore[operator]
        assert registry.champion(model_id) == "1"
        state = monitor_state(settings, model_id)
        assert state is not None and state.generation == 0 and state.model_version == "1"

        # 2. an hour of event time later the drift still stands: the worker asks again, the trainer promotes
        with EventProducer(settings) as producer:
            send(producer, model_id, "1", 0.0, 1.0, 2_500 + 360_000, 100, t0, rng)
        deployed = collect(settings, settings.topics.deployments, ModelDeployed,
                           lambda e: e.model_id == model_id and e.model_version == "3",
                           until=lambda found: len(found) >= 1, timeout=120)
        deployment = deployed[0]
        assert isinstance(deployment, ModelDeployed) and deployment.lineage is not None
        lineage = deployment.lineage
        assert lineage.parent_version == "1" and lineage.request_id == deployment.request_id
        assert lineage.request_id != rejection.request_id and lineage.alert_ids
        assert (lineage.trainer_id, lineage.code_version) == ("test-trainer", "test 1.0")
        assert lineage.validation is not None and lineage.validation.passed
        assert lineage.validation.candidate_score > 0.9 > lineage.validation.serving_score  # type: ignore[operator]
        assert lineage.training is not None and lineage.training.examples == 600
        assert deployment.model_uri == f"models:/{model_id}/3" and registry.champion(model_id) == "3"
        assert deployment.reference is not None and "error" in deployment.reference  # the slice, as version 3 did
        wait_until(lambda: (s := monitor_state(settings, model_id)) is not None and s.generation == 1,
                   timeout=30, what="the worker applying the deployment")

        # 3. the chain, and the exact training set rebuilt from Kafka
        cli_env(live_worker, monkeypatch)
        capsys.readouterr()
        assert cli(["lineage", model_id]) == 0
        text = capsys.readouterr().out
        for part in ("request", "rejected candidate 2", "deployed version 3", "validation: accuracy",
                     "training data: 400 examples (+200 held out)", f"models:/{model_id}/3", "now: version 3"):
            assert part in text, text
        assert cli(["lineage", model_id, "--json"]) == 0
        chain = json.loads(capsys.readouterr().out)
        assert [e["kind"] for e in chain["entries"]] == ["request", "rejected", "request", "deployed"]
        assert [a["alert_id"] for a in chain["entries"][0]["alerts"]] == chain["entries"][0]["request"]["reasons"]
        out = tmp_path / "training.jsonl"
        assert cli(["export", "--model", model_id, "--version", "3", "--out", str(out)]) == 0
        assert lineage.training.fingerprint in capsys.readouterr().err
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        rebuilt = [Example(event_id=r["event_id"], model_version=r["model_version"], ts=r["ts"],
                           features=r["features"], prediction=r["prediction"], label=r["label"]) for r in rows]
        assert len(rebuilt) == 600 and fingerprint(rebuilt) == lineage.training.fingerprint

        # 4. version 3 serves well; then a bad version 4 is deployed by hand: the watch asks for 3 back
        with EventProducer(settings) as producer:
            send(producer, model_id, "3", 1.0, 1.0, 400_000, 600, t0, rng)
            producer.log_deployment(model_id, "4")
        wait_until(lambda: (s := monitor_state(settings, model_id)) is not None and s.generation == 2,
                   timeout=30, what="the worker applying version 4")
        with EventProducer(settings) as producer:
            send(producer, model_id, "4", 0.0, 1.0, 401_000, 600, t0, rng)
        alerts = collect(settings, settings.topics.alerts, DriftAlert,
                         lambda e: e.model_id == model_id and e.kind == "deployment",
                         until=lambda found: len(found) >= 1, timeout=60)
        assert len(alerts) == 1 and alerts[0].model_version == "4"  # type: ignore[attr-defined]
        rollbacks = collect(settings, settings.topics.retrain, RetrainRequest,
                            lambda e: e.model_id == model_id and e.rollback_to is not None,
                            until=lambda found: len(found) >= 1, timeout=60)
        assert [r.rollback_to for r in rollbacks] == ["3"]  # type: ignore[attr-defined]
        back = collect(settings, settings.topics.deployments, ModelDeployed,
                       lambda e: e.model_id == model_id and e.lineage is not None and e.lineage.rollback,
                       until=lambda found: len(found) >= 1, timeout=60)
        assert [(d.model_version, d.lineage.parent_version) for d in back] == [("3", "4")]  # type: ignore[attr-defined]
        assert registry.champion(model_id) == "3"
    finally:
        stop.set()
        serving.join(10)
        trainer.close()
