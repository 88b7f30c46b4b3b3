"""The reference trainer: retrains a river model on the request's labelled data from Kafka, through
the validation gate (driftline/sdk/training.py), and keeps its versions in a registry: a directory
(FileRegistry) or, with `--mlflow-uri` and the `driftline[mlflow]` extra, MLflow's Model Registry.
`examples/reference_trainer.py` runs it; `driftline demo` uses it in-process.
"""

import argparse
import logging
from collections.abc import Callable, Sequence
from typing import Any

from driftline.logs import configure_logging
from driftline.sdk.registry import FileRegistry, ModelRegistry
from driftline.sdk.trainer import Trainer
from driftline.sdk.training import ValidatedTraining
from driftline.sdk.validation import GateConfig
from driftline.settings import Settings
from driftline.training_data import Example
from schemas.types import Target

log = logging.getLogger(__name__)


def default_model() -> Any:
    from river import tree

    return tree.HoeffdingTreeClassifier(grace_period=50)


class RiverLearner:
    """A river classifier or regressor, learnt one example at a time in event order."""

    def __init__(self, make_model: Callable[[], Any] = default_model) -> None:
        self.make_model = make_model

    def fit(self, examples: Sequence[Example]) -> Any:
        model = self.make_model()
        for example in examples:
            model.learn_one(dict(example.features), example.label)
        return model

    def predict(self, model: Any, example: Example) -> Target:
        guess = model.predict_one(dict(example.features))
        if guess is None:  # a model that has learnt nothing yet
            return example.prediction
        return float(guess) if isinstance(guess, bool | int | float) else str(guess)

    def score(self, model: Any, example: Example) -> float | None:
        if not hasattr(model, "predict_proba_one"):
            return None
        probabilities = model.predict_proba_one(dict(example.features))
        return float(probabilities.get(1, probabilities.get(1.0, probabilities.get(True, 0.0))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="driftline reference trainer (river HoeffdingTree, validated)")
    parser.add_argument("--models-dir", default="models", help="where trained models are kept (without --mlflow-uri)")
    parser.add_argument("--mlflow-uri", default=None, help="an MLflow tracking server: its Model Registry keeps them")
    parser.add_argument("--training-examples", type=int, default=1_000, help="examples of the new regime to train on")
    parser.add_argument("--validation-examples", type=int, default=500, help="the most recent ones, held out")
    parser.add_argument("--metric", default="accuracy", choices=["accuracy", "f1", "roc_auc", "mae", "rmse"])
    parser.add_argument("--margin", type=float, default=0.0, help="how much worse than the serving version passes")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings)
    registry: ModelRegistry
    if args.mlflow_uri:
        from driftline.sdk.mlflow_registry import MlflowRegistry

        registry = MlflowRegistry(args.mlflow_uri)
    else:
        registry = FileRegistry(args.models_dir)
    training = ValidatedTraining(RiverLearner(), registry,
                                 GateConfig(metric=args.metric, margin=args.margin,
                                            validation_examples=args.validation_examples),
                                 settings=settings, training_examples=args.training_examples)
    trainer = Trainer(training.train, settings, rollback=training.rollback)
    try:
        trainer.run()
    except KeyboardInterrupt:
        pass
    finally:
        trainer.close()
    return 0
