"""Wire contracts of driftline: every event, the batch envelope, dead letters and the topic catalog."""

from schemas.codec import DecodeError, DecodeFailure, decode_events, encode_batch, encode_event
from schemas.dead_letter import DeadLetter
from schemas.events import (
    AlertKind,
    BatchEnvelope,
    DriftAlert,
    Event,
    EventWindow,
    FeatureEvent,
    InboundEvent,
    LabelEvent,
    ModelDeployed,
    ModelRejected,
    PredictionEvent,
    ReferenceStats,
    RetrainRequest,
    Severity,
)
from schemas.lineage import Lineage, OffsetRange, TrainingData, Validation
from schemas.topics import TopicCatalog

__all__ = [
    "AlertKind",
    "BatchEnvelope",
    "DeadLetter",
    "DecodeError",
    "DecodeFailure",
    "DriftAlert",
    "Event",
    "EventWindow",
    "FeatureEvent",
    "InboundEvent",
    "LabelEvent",
    "Lineage",
    "ModelDeployed",
    "ModelRejected",
    "OffsetRange",
    "PredictionEvent",
    "ReferenceStats",
    "RetrainRequest",
    "Severity",
    "TopicCatalog",
    "TrainingData",
    "Validation",
    "decode_events",
    "encode_batch",
    "encode_event",
]
