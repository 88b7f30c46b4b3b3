"""Run the reference trainer: consume retrain requests, read the request's labelled data from Kafka,
train a river HoeffdingTree, validate it against the serving version on the most recent held-out
slice, and announce it (ModelDeployed, which resets that model's detectors) or reject it
(ModelRejected). Versions are kept under --models-dir, or in MLflow's Model Registry with
--mlflow-uri (the `driftline[mlflow]` extra).

    DRIFTLINE_BROKER=kafka://127.0.0.1:9092 python examples/reference_trainer.py --models-dir models
    DRIFTLINE_BROKER=kafka://127.0.0.1:9092 python examples/reference_trainer.py --mlflow-uri http://127.0.0.1:5000

To write your own, give driftline.sdk.ValidatedTraining a Learner (fit, predict, score) and a
registry, or pass any function RetrainRequest -> TrainedModel | RejectedModel to driftline.sdk.Trainer.
"""

import sys

from driftline.reference_trainer import main

if __name__ == "__main__":
    sys.exit(main())
