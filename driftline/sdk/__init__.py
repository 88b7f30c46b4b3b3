"""Client SDK: log events from live services, subscribe to alerts, run trainers."""

from driftline.sdk.producer import DeliveryFailure, EventProducer, ProducerConfig, ProducerStats
from driftline.sdk.subscriber import Subscriber
from driftline.sdk.trainer import TrainedModel, Trainer

__all__ = [
    "DeliveryFailure",
    "EventProducer",
    "ProducerConfig",
    "ProducerStats",
    "Subscriber",
    "TrainedModel",
    "Trainer",
]
