"""Log lines: one JSON object each, with extra fields, and never a secret of the settings."""

import json
import logging

from driftline.logs import MASK, JsonFormatter, TextFormatter, mask_url, secrets_of
from driftline.settings import Settings

SETTINGS = Settings(redis_url="redis://svc:url-secret@cache:6379/0", redis_password="redis-secret",
                    kafka_sasl_password="sasl-secret", state_key="state-secret")


def record(message: str, *args: object, exc: BaseException | None = None, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("driftline.test", logging.WARNING, __file__, 1, message, args,
                            (type(exc), exc, exc.__traceback__) if exc else None)
    for name, value in extra.items():
        setattr(rec, name, value)
    return rec


def test_every_secret_of_the_settings_is_known_including_a_password_in_a_url() -> None:
    assert set(secrets_of(SETTINGS)) == {"url-secret", "redis-secret", "sasl-secret", "state-secret"}


def test_json_lines_carry_level_logger_message_and_extra_fields() -> None:
    entry = json.loads(JsonFormatter().format(record("saved %d models", 3, operation="commit", failures=2)))
    assert entry["level"] == "warning" and entry["logger"] == "driftline.test"
    assert entry["message"] == "saved 3 models" and entry["operation"] == "commit" and entry["failures"] == 2


def test_a_secret_in_a_message_an_argument_or_an_exception_is_masked() -> None:
    secrets = secrets_of(SETTINGS)
    try:
        raise ConnectionError("AUTH redis-secret refused")
    except ConnectionError as exc:
        failure = exc
    for formatter in (JsonFormatter(secrets), TextFormatter(secrets)):
        line = formatter.format(record("connecting with sasl-secret to %s", SETTINGS.redis_url, exc=failure,
                                       extra_field="state-secret"))
        for secret in secrets:
            assert secret not in line
        assert MASK in line


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("redis://svc:pw@cache:6379/0") == "redis://svc:***@cache:6379/0"
    assert mask_url("redis://cache:6379/0") == "redis://cache:6379/0"
