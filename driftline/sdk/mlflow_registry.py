"""Keep model versions in MLflow (the `driftline[mlflow]` extra): one run per retrain request, with the
training window, the validation's metrics and the lineage ids; every candidate registered in the
Model Registry; the `champion` alias moved on promotion only (and on a rollback).

A driftline model version is the registered model's version number, so `models:/<name>/<version>`
and `models:/<name>@champion` name what the worker monitors and what the service should load.
"""

import pickle
import tempfile
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftline.sdk.registry import RegisteredVersion
from schemas.events import RetrainRequest
from schemas.lineage import Lineage

MODEL_FILE = "model.pkl"


class MlflowRegistry:
    """`experiment` groups the training runs; `alias` marks the serving version; registered models are
    named `<name_prefix><model_id>`. Models are pickled: load them only from a registry you control."""

    def __init__(self, tracking_uri: str, *, experiment: str = "driftline-retraining", alias: str = "champion",
                 name_prefix: str = "") -> None:
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.alias = alias
        self.name_prefix = name_prefix
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found is not None else self.client.create_experiment(experiment)
        self._runs: dict[tuple[str, str], str] = {}

    def name(self, model_id: str) -> str:
        return f"{self.name_prefix}{model_id}"

    def add(self, model_id: str, model: Any, *, promote: bool = True) -> RegisteredVersion:
        """Register a model trained outside driftline (the first version a service serves)."""
        run = self.client.create_run(self.experiment_id, run_name=f"{model_id} initial",
                                     tags={"driftline.model_id": model_id})
        registered = self._register(model_id, model, run.info.run_id, run.info.artifact_uri)
        self.client.set_terminated(run.info.run_id)
        if promote:
            self.promote(model_id, registered.version)
        return registered

    def register(self, model_id: str, model: Any, request: RetrainRequest) -> RegisteredVersion:
        run = self.client.create_run(self.experiment_id, run_name=f"{model_id} {request.request_id}", tags={
            "driftline.model_id": model_id, "driftline.request_id": request.request_id,
            "driftline.parent_version": request.model_version, "driftline.alert_ids": ",".join(request.reasons)[:5000]})
        self.client.log_param(run.info.run_id, "window_from_ts", request.window.from_ts)
        self.client.log_param(run.info.run_id, "window_to_ts", request.window.to_ts)
        registered = self._register(model_id, model, run.info.run_id, run.info.artifact_uri)
        self._runs[(model_id, registered.version)] = run.info.run_id
        return registered

    def _register(self, model_id: str, model: Any, run_id: str, artifact_uri: str) -> RegisteredVersion:
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / MODEL_FILE
            path.write_bytes(pickle.dumps(model))
            self.client.log_artifact(run_id, str(path), artifact_path="model")
        name = self.name(model_id)
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = self.client.create_model_version(name, source=f"{artifact_uri}/model", run_id=run_id)
        return RegisteredVersion(version=str(version.version), uri=f"models:/{name}/{version.version}")

    def conclude(self, model_id: str, registered: RegisteredVersion, lineage: Lineage, promoted: bool) -> None:
        run_id = self._runs.pop((model_id, registered.version), None) or self._run_of(model_id, registered.version)
        validation, training = lineage.validation, lineage.training
        if validation is not None:
            self.client.log_metric(run_id, f"candidate_{validation.metric}", validation.candidate_score)
            if validation.serving_score is not None:
                self.client.log_metric(run_id, f"serving_{validation.metric}", validation.serving_score)
            self.client.log_param(run_id, "validation_examples", validation.slice_size)
            self.client.log_param(run_id, "margin", validation.margin)
        if training is not None:
            self.client.log_param(run_id, "training_examples", training.examples - training.validation_examples)
            self.client.log_param(run_id, "training_fingerprint", training.fingerprint)
            self.client.log_param(run_id, "data_from_ts", training.from_ts)
            self.client.log_param(run_id, "data_to_ts", training.to_ts)
        self.client.set_tag(run_id, "driftline.promoted", str(promoted).lower())
        self.client.log_text(run_id, lineage.model_dump_json(indent=2), "lineage.json")
        self.client.set_model_version_tag(self.name(model_id), registered.version, "driftline.validation",
                                          "passed" if promoted else "rejected")
        self.client.set_terminated(run_id)
        if promoted:
            self.promote(model_id, registered.version)

    def promote(self, model_id: str, version: str) -> str | None:
        self.client.set_registered_model_alias(self.name(model_id), self.alias, version)
        return f"models:/{self.name(model_id)}/{version}"

    def champion(self, model_id: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(self.name(model_id), self.alias).version)
        except MlflowException:
            return None

    def load(self, model_id: str, version: str) -> Any:
        run_id = self._run_of(model_id, version)
        with tempfile.TemporaryDirectory() as scratch:
            local = self.client.download_artifacts(run_id, f"model/{MODEL_FILE}", scratch)
            return pickle.loads(Path(local).read_bytes())

    def _run_of(self, model_id: str, version: str) -> str:
        run_id = self.client.get_model_version(self.name(model_id), version).run_id
        if not run_id:
            raise LookupError(f"version {version} of {self.name(model_id)} has no MLflow run")
        return str(run_id)
