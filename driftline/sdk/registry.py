"""Where trained models are kept: the ModelRegistry protocol the validated training writes to, and a
registry in a local directory. `driftline.sdk.mlflow_registry.MlflowRegistry` keeps them in MLflow's.
"""

import json
import pickle
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from schemas.events import RetrainRequest
from schemas.lineage import Lineage


class RegisteredVersion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    uri: str | None = None


class ModelRegistry(Protocol):
    def register(self, model_id: str, model: Any, request: RetrainRequest) -> RegisteredVersion:
        """Keep a candidate (before validation) under a new version."""
        ...

    def conclude(self, model_id: str, registered: RegisteredVersion, lineage: Lineage, promoted: bool) -> None:
        """Record the candidate's lineage and validation; point the serving alias at it if promoted."""
        ...

    def promote(self, model_id: str, version: str) -> str | None:
        """Point the serving alias at an earlier version (a rollback); its URI."""
        ...

    def load(self, model_id: str, version: str) -> Any:
        ...


def next_version(version: str) -> str:
    return str(int(version) + 1) if version.isdigit() else f"{version}.1"


class FileRegistry:
    """`<directory>/<model>/<version>.pkl`, its lineage beside it as `<version>.lineage.json`, and the
    promoted version's name in `<model>/champion`. The models are pickles written by this process
    itself: load them only from a directory you control."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def path(self, model_id: str, version: str) -> Path:
        return self.directory / model_id / f"{version}.pkl"

    def save(self, model_id: str, version: str, model: Any) -> None:
        path = self.path(model_id, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(model))

    def load(self, model_id: str, version: str) -> Any:
        return pickle.loads(self.path(model_id, version).read_bytes())

    def register(self, model_id: str, model: Any, request: RetrainRequest) -> RegisteredVersion:
        version = next_version(request.model_version)
        while self.path(model_id, version).exists():  # a rejected candidate keeps its number
            version = next_version(version)
        self.save(model_id, version, model)
        return RegisteredVersion(version=version, uri=self.uri(model_id, version))

    def conclude(self, model_id: str, registered: RegisteredVersion, lineage: Lineage, promoted: bool) -> None:
        lineage_path = self.directory / model_id / f"{registered.version}.lineage.json"
        lineage_path.write_text(json.dumps({"promoted": promoted, **lineage.model_dump(mode="json")}, indent=2))
        if promoted:
            self.promote(model_id, registered.version)

    def promote(self, model_id: str, version: str) -> str | None:
        (self.directory / model_id / "champion").write_text(version)
        return self.uri(model_id, version)

    def uri(self, model_id: str, version: str) -> str:
        return self.path(model_id, version).resolve().as_uri()

    def champion(self, model_id: str) -> str | None:
        path = self.directory / model_id / "champion"
        return path.read_text().strip() if path.exists() else None
