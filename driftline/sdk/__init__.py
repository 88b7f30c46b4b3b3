"""Client SDK, one import for users: log events from live services, subscribe to alerts, run trainers
(validated, with lineage), and the events themselves.

>>> from driftline.sdk import RetrainRequest, ModelRejected, Trainer
"""

from driftline.sdk.producer import DeliveryFailure, EventProducer, ProducerConfig, ProducerStats
from driftline.sdk.registry import FileRegistry, ModelRegistry, RegisteredVersion
from driftline.sdk.subscriber import Subscriber
from driftline.sdk.trainer import RejectedModel, TrainedModel, Trainer, announce_rollback
from driftline.sdk.training import Learner, ValidatedTraining
from driftline.sdk.validation import GateConfig, evaluate
from driftline.training_data import DataGone, Example, TrainingSet, fingerprint, read_examples, reread
from schemas.events import (
    AlertKind,
    DriftAlert,
    FeatureEvent,
    LabelEvent,
    ModelDeployed,
    ModelRejected,
    PredictionEvent,
    ReferenceStats,
    RetrainRequest,
    Severity,
)
from schemas.lineage import Lineage, OffsetRange, TrainingData, Validation

__all__ = [
    "AlertKind",
    "DataGone",
    "DeliveryFailure",
    "DriftAlert",
    "EventProducer",
    "Example",
    "FeatureEvent",
    "FileRegistry",
    "GateConfig",
    "LabelEvent",
    "Learner",
    "Lineage",
    "ModelDeployed",
    "ModelRegistry",
    "ModelRejected",
    "OffsetRange",
    "PredictionEvent",
    "ProducerConfig",
    "ProducerStats",
    "ReferenceStats",
    "RegisteredVersion",
    "RejectedModel",
    "RetrainRequest",
    "Severity",
    "Subscriber",
    "TrainedModel",
    "Trainer",
    "TrainingData",
    "TrainingSet",
    "ValidatedTraining",
    "Validation",
    "announce_rollback",
    "evaluate",
    "fingerprint",
    "read_examples",
    "reread",
]
