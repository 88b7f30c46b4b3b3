"""driftline: streaming drift detection and event-driven retraining."""

__version__ = "0.1.0"
