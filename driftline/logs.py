"""Logging for every driftline process: one JSON object per line (or plain text), secrets masked.

Masking happens on the finished line, so a secret is hidden wherever it turns up: in a message,
an argument, an exception's text or a traceback, and in the logs of Faust, aiokafka or redis-py.
"""

import json
import logging
import logging.config
import time
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import urlsplit

from driftline.settings import Settings

LogFormat = Literal["json", "text"]
MASK = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold, including a password written into the Redis URL."""
    found = [secret.get_secret_value() for secret in (settings.kafka_sasl_password, settings.redis_password,
                                                      settings.state_key) if secret is not None]
    for url in (settings.redis_url, settings.broker):
        found += [password for part in url.split(",") if (password := _password_in(part.strip()))]
    return [s for s in dict.fromkeys(found) if len(s) >= 3]  # masking "a" would mangle every line


def mask_url(url: str) -> str:
    """The URL with its password (if any) replaced, for printing."""
    password = _password_in(url)
    return url.replace(f":{password}@", f":{MASK}@", 1) if password else url


def _password_in(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:  # not a URL (a bare host:port list, say): it holds no password
        return None


class _Masking(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def mask(self, line: str) -> str:
        for secret in self.secrets:
            if secret in line:
                line = line.replace(secret, MASK)
        return line


class TextFormatter(_Masking):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(secrets, fmt=TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return self.mask(super().format(record))


class JsonFormatter(_Masking):
    """`ts`, `level`, `logger`, `message`, any `extra=` fields, and `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 6),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{record.msecs:03.0f}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return self.mask(json.dumps(entry, default=repr))


def logging_config(settings: Settings, *, level: int | str = logging.INFO,
                   default_format: LogFormat = "json") -> dict[str, Any]:
    """A dictConfig for the root logger: one stderr handler with the configured format and masking.

    `default_format` applies when the settings name none: json for services (worker, trainer), text
    for commands a person runs in a terminal."""
    formatter = JsonFormatter if (settings.log_format or default_format) == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"driftline": {"()": formatter, "secrets": secrets_of(settings)}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "driftline",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
    }


def configure_logging(settings: Settings, *, level: int | str = logging.INFO,
                      default_format: LogFormat = "json") -> None:
    logging.config.dictConfig(logging_config(settings, level=level, default_format=default_format))
