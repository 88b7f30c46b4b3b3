"""Size limits on the wire.

They exist so that one hostile or buggy producer cannot make a worker allocate without bound or
build Redis keys of any length: anything past them is rejected by validation and dead-lettered.
"""

from typing import Final

MAX_MESSAGE_BYTES: Final = 1_048_576
"""Largest Kafka message value accepted, checked before any JSON is parsed."""

MAX_BATCH_EVENTS: Final = 10_000
"""Most events in one batch envelope."""

MAX_FEATURES: Final = 1_000
"""Most features in one event; each numeric feature becomes a detector, so this bounds state too."""

MAX_ID_CHARS: Final = 256
"""Longest model_id, model_version, event_id, feature name or alert id."""

MAX_CLASSES: Final = 100
"""Most classes in a prediction's per-class score; each becomes a signal."""

MAX_STRING_VALUE_CHARS: Final = 1_024
"""Longest string feature value, prediction class or label."""

MIN_EPOCH_SECONDS: Final = 0.0
MAX_EPOCH_SECONDS: Final = 7_258_118_400.0  # 2200-01-01T00:00:00Z
