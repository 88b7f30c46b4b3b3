"""Run the reference trainer: consume retrain requests, retrain a river HoeffdingTree on the labelled
examples seen since the drift began (kept in Redis), save it under --models-dir and announce the new
version on the deployments topic, which resets that model's detectors.

    DRIFTLINE_BROKER=kafka://127.0.0.1:9092 python examples/reference_trainer.py --models-dir models

To write your own trainer, pass any function RetrainRequest -> TrainedModel to
driftline.sdk.Trainer; see train_on_recent_data in driftline/reference_trainer.py.
"""

import sys

from driftline.reference_trainer import main

if __name__ == "__main__":
    sys.exit(main())
