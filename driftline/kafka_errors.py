"""The last errors librdkafka reported, so a command that fails can say why in its own words.

librdkafka reports a failed TLS handshake or a refused login only through its error callback and
its log; the call that then fails says no more than "Broker transport failure". Every client built
from Settings.kafka_client_config() reports here, and the CLI quotes the latest on failure.
"""

import logging
from collections import deque
from typing import Any

log = logging.getLogger("driftline.librdkafka")
_recent: deque[str] = deque(maxlen=20)


def on_error(error: Any) -> None:
    """librdkafka's error_cb: remember the error and log it (it is no longer logged otherwise)."""
    text = str(error.str() if hasattr(error, "str") else error)
    _recent.append(text)
    log.warning("kafka client error: %s", text)


def last_error() -> str | None:
    """The most telling recent error: a TLS or authentication failure before any other."""
    for text in reversed(_recent):
        lowered = text.lower()
        if "ssl" in lowered or "certificate" in lowered or "authentication" in lowered or "sasl" in lowered:
            return text
    return _recent[-1] if _recent else None
