"""The reference trainer: retrains a river model on recent labelled data kept in Redis.

Three parts, each usable alone:
- ExampleStore keeps the last `capacity` labelled examples per model in a Redis list
  (`<prefix>examples:<model>`), fed by ExampleTap, which reads predictions with inline labels from
  the predictions topic;
- train_on_recent_data() is a Trainer function: it waits until enough examples newer than the
  request's window start exist (the new regime), trains a fresh model on them and saves it;
- ModelStore keeps trained models as files. They are pickles written by this trainer itself, so
  load them only from a directory you control.
`examples/reference_trainer.py` runs all three; `driftline demo` uses them in-process.
"""

import logging
import pickle
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from confluent_kafka import Consumer
from pydantic import BaseModel

from detectors.reference import numeric_reference
from driftline.logs import configure_logging
from driftline.redis_connect import sync_client
from driftline.sdk.trainer import TrainedModel, Trainer
from driftline.settings import Settings
from schemas import DecodeError, PredictionEvent, decode_events
from schemas.events import ReferenceStats, RetrainRequest

log = logging.getLogger(__name__)


class Example(BaseModel):
    ts: float
    features: dict[str, float | str | None]
    label: float | str


class ExampleStore:
    def __init__(self, settings: Settings, capacity: int = 20_000) -> None:
        self.prefix = settings.key_prefix
        self.capacity = capacity
        self.client = sync_client(settings)

    def key(self, model_id: str) -> str:
        return f"{self.prefix}examples:{model_id}"

    def add(self, model_id: str, examples: list[Example]) -> None:
        if examples:
            pipe = self.client.pipeline(transaction=False)
            pipe.lpush(self.key(model_id), *[e.model_dump_json() for e in examples])
            pipe.ltrim(self.key(model_id), 0, self.capacity - 1)
            pipe.execute()

    def since(self, model_id: str, from_ts: float) -> list[Example]:
        """Examples at or after `from_ts`, oldest first."""
        raw = self.client.lrange(self.key(model_id), 0, -1)
        examples = [Example.model_validate_json(item) for item in raw]  # type: ignore[union-attr]
        return sorted((e for e in examples if e.ts >= from_ts), key=lambda e: e.ts)


class ExampleTap:
    """Copies predictions that carry their label from the predictions topic into an ExampleStore."""

    def __init__(self, settings: Settings, store: ExampleStore, group_id: str = "driftline-reference-tap") -> None:
        self.store = store
        self.consumer = Consumer(settings.kafka_group_config(group_id, auto_commit=True))
        self.consumer.subscribe([settings.topics.predictions])
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="example-tap", daemon=True)

    def start(self) -> "ExampleTap":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)
        self.consumer.close()

    def _run(self) -> None:
        while not self.stopped.is_set():
            messages = self.consumer.consume(500, 0.2)
            by_model: dict[str, list[Example]] = {}
            for message in messages:
                value = message.value()
                if message.error() or value is None:
                    continue
                try:
                    events = decode_events(value, PredictionEvent)
                except DecodeError:
                    continue
                for event in events:
                    if event.label is not None:
                        by_model.setdefault(event.model_id, []).append(
                            Example(ts=event.ts, features=event.features, label=event.label))
            for model_id, examples in by_model.items():
                self.store.add(model_id, examples)


class ModelStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, model_id: str, version: str) -> Path:
        return self.directory / model_id / f"{version}.pkl"

    def save(self, model_id: str, version: str, model: Any) -> None:
        path = self.path(model_id, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(model))

    def load(self, model_id: str, version: str) -> Any:
        return pickle.loads(self.path(model_id, version).read_bytes())


def default_model() -> Any:
    from river import tree

    return tree.HoeffdingTreeClassifier(grace_period=50)


def next_version(version: str) -> str:
    return str(int(version) + 1) if version.isdigit() else f"{version}.1"


def reference_of(examples: list[Example]) -> dict[str, ReferenceStats]:
    """Each numeric feature's reference in the training examples, as a quantile sketch the monitor
    calibrates from at once (detectors/reference.py)."""
    names = {name for e in examples for name, v in e.features.items() if isinstance(v, float)}
    reference = {}
    for name in sorted(names):
        values = np.array([e.features[name] for e in examples if isinstance(e.features.get(name), float)])
        if values.size >= 2:
            reference[f"feature:{name}"] = numeric_reference(values)
    return reference


def train_on_recent_data(examples: ExampleStore, models: ModelStore, *, min_examples: int = 1_000,
                         max_wait_seconds: float = 120.0, make_model: Callable[[], Any] = default_model
                         ) -> Callable[[RetrainRequest], TrainedModel]:
    """A Trainer function: fit a fresh model on the examples since the drift began."""

    def train(request: RetrainRequest) -> TrainedModel:
        deadline = time.monotonic() + max_wait_seconds
        recent = examples.since(request.model_id, request.window.from_ts)
        while len(recent) < min_examples and time.monotonic() < deadline:
            time.sleep(0.25)
            recent = examples.since(request.model_id, request.window.from_ts)
        if not recent:
            raise RuntimeError(f"no labelled examples of {request.model_id} since {request.window.from_ts}")
        model = make_model()
        for example in recent[:min_examples]:
            model.learn_one(example.features, example.label)
        version = next_version(request.model_version)
        models.save(request.model_id, version, model)
        log.info("trained %s version %s on %d examples", request.model_id, version, min(len(recent), min_examples))
        return TrainedModel(model_version=version, reference=reference_of(recent[:min_examples]))

    return train


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="driftline reference trainer (river HoeffdingTree)")
    parser.add_argument("--models-dir", default="models", help="where trained models are saved")
    parser.add_argument("--min-examples", type=int, default=1_000, help="examples of the new regime to train on")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings)
    store = ExampleStore(settings)
    tap = ExampleTap(settings, store).start()
    trainer = Trainer(train_on_recent_data(store, ModelStore(Path(args.models_dir)), min_examples=args.min_examples),
                      settings)
    try:
        trainer.run()
    except KeyboardInterrupt:
        pass
    finally:
        tap.stop()
        trainer.close()
    return 0
