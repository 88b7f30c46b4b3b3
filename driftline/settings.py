"""The one settings object. Precedence: explicit arguments (CLI flags) > environment > defaults.

No other module reads the environment: they take a Settings.
"""

import json
import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.limits import MAX_MESSAGE_BYTES
from schemas.topics import TopicCatalog

INSECURE_DEV_STATE_KEY = "driftline-insecure-dev-state-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_", extra="forbid", frozen=True)

    broker: str = Field(default="kafka://127.0.0.1:9092", description="Kafka bootstrap URL(s), comma separated")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="redis:// or rediss:// (TLS)")
    config: Path | None = Field(default=None, description="TOML or YAML monitoring config")
    topic_prefix: str = "driftline."
    key_prefix: str = Field(default="driftline:", description="prefix of every Redis key")
    state_key: SecretStr = Field(
        default=SecretStr(INSECURE_DEV_STATE_KEY),
        description="HMAC key that signs detector snapshots in Redis; set your own in production",
    )
    max_message_bytes: int = Field(default=MAX_MESSAGE_BYTES, ge=1_024)
    label_ttl_seconds: float = Field(default=86_400.0, gt=0, description="how long a prediction waits for its label")

    partitions: int = Field(default=4, ge=1, le=1_000, description="partitions of topics driftline creates")
    kafka_session_timeout_seconds: float = Field(
        default=10.0, ge=1.0, le=300.0,
        description="consumer group session timeout; Tansu admits a member after about half of it")
    worker_batch_messages: int = Field(default=8_000, ge=1, description="most Kafka messages in one batch")
    worker_batch_bytes: int = Field(default=32 * 1024 * 1024, ge=1_024,
                                    description="most message bytes in one batch (memory bound)")
    worker_batch_seconds: float = Field(
        default=0.02, gt=0, description="wait to fill a batch while the worker keeps up (agents/batching.py)")
    worker_batch_max_seconds: float = Field(
        default=1.0, gt=0, description="longest wait to fill a batch while the worker is busy all the time (behind)")
    worker_fetch_max_wait_seconds: float = Field(
        default=0.02, gt=0, le=5, description="longest a fetch waits at the broker for data (Faust fixes 1.5 s)")
    state_rebuild_hours: float | None = Field(
        default=None, gt=0, description="where Redis lost a partition's state entirely, rebuild it from this many "
        "hours back instead of from the earliest offset the topics retain")
    web_host: str = Field(default="127.0.0.1", description="bind address of the worker's HTTP endpoint")
    web_port: int = Field(default=6066, ge=0, le=65_535,
                          description="worker HTTP port (/metrics, /health, /ready; 0 disables)")
    log_format: Literal["json", "text"] | None = Field(
        default=None, description="json (one object per line) or text; default json for services, text for commands")
    worker_data_dir: Path | None = Field(default=None, description="Faust's local data dir (default: temp dir)")

    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None

    redis_username: str | None = None
    redis_password: SecretStr | None = None
    redis_ssl_cafile: Path | None = Field(default=None, description="CA bundle for rediss:// URLs")
    redis_ssl_certfile: Path | None = Field(default=None, description="client certificate for mutual TLS")
    redis_ssl_keyfile: Path | None = None

    @field_validator("broker")
    @classmethod
    def _broker_has_hosts(cls, value: str) -> str:
        if not bootstrap_servers_of(value):
            raise ValueError(f"broker {value!r} names no host:port (expected e.g. kafka://127.0.0.1:9092)")
        return value

    @property
    def topics(self) -> TopicCatalog:
        return TopicCatalog(prefix=self.topic_prefix)

    @property
    def bootstrap_servers(self) -> str:
        """`host:port,host:port` as librdkafka wants it."""
        return bootstrap_servers_of(self.broker)

    @property
    def uses_insecure_state_key(self) -> bool:
        return self.state_key.get_secret_value() == INSECURE_DEV_STATE_KEY

    @property
    def kafka_heartbeat_interval_seconds(self) -> float:
        """Frequent heartbeats, so a member is known alive well inside the session timeout."""
        return min(1.0, self.kafka_session_timeout_seconds / 5)

    def kafka_group_config(self, group_id: str, *, from_beginning: bool = True,
                           auto_commit: bool = False) -> dict[str, Any]:
        """A confluent-kafka group consumer with the connection options and the group timing."""
        return {
            **self.kafka_client_config(),
            "group.id": group_id,
            "enable.auto.commit": auto_commit,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "session.timeout.ms": int(self.kafka_session_timeout_seconds * 1000),
            "heartbeat.interval.ms": int(self.kafka_heartbeat_interval_seconds * 1000),
        }

    def kafka_client_config(self) -> dict[str, Any]:
        """librdkafka (confluent-kafka) connection and security options shared by every client.

        librdkafka's own log lines go through Python logging, so they are formatted and masked too."""
        from driftline.kafka_errors import on_error

        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.kafka_security_protocol,
            "logger": logging.getLogger("driftline.librdkafka"),
            "error_cb": on_error,
        }
        if self.kafka_sasl_mechanism:
            conf["sasl.mechanism"] = self.kafka_sasl_mechanism
        if self.kafka_sasl_username is not None:
            conf["sasl.username"] = self.kafka_sasl_username
        if self.kafka_sasl_password is not None:
            conf["sasl.password"] = self.kafka_sasl_password.get_secret_value()
        if self.kafka_ssl_cafile:
            conf["ssl.ca.location"] = str(self.kafka_ssl_cafile)
        if self.kafka_ssl_certfile:
            conf["ssl.certificate.location"] = str(self.kafka_ssl_certfile)
        if self.kafka_ssl_keyfile:
            conf["ssl.key.location"] = str(self.kafka_ssl_keyfile)
        return conf

    def kafka_producer_config(self) -> dict[str, Any]:
        """A librdkafka producer that partitions like every other Kafka client.

        Messages are keyed by model_id, and one model must land on one partition (its events form
        one ordered stream, owned by one worker). librdkafka's default partitioner hashes keys with
        CRC32; Java, kafkajs, aiokafka (so Faust) and Sarama's Java-compatible mode use murmur2."""
        return {**self.kafka_client_config(), "partitioner": "murmur2_random"}

    def redis_client_options(self) -> dict[str, Any]:
        """Keyword options for redis.Redis.from_url beyond the URL itself."""
        opts: dict[str, Any] = {}
        if self.redis_username is not None:
            opts["username"] = self.redis_username
        if self.redis_password is not None:
            opts["password"] = self.redis_password.get_secret_value()
        if self.redis_ssl_cafile:
            opts["ssl_ca_certs"] = str(self.redis_ssl_cafile)
        if self.redis_ssl_certfile:
            opts["ssl_certfile"] = str(self.redis_ssl_certfile)
        if self.redis_ssl_keyfile:
            opts["ssl_keyfile"] = str(self.redis_ssl_keyfile)
        return opts

    def describe(self) -> str:
        """The settings as JSON for a log line: secrets as asterisks, a password in a URL masked."""
        from driftline.logs import mask_url

        shown = self.model_dump(mode="json")
        shown["redis_url"] = mask_url(self.redis_url)
        shown["broker"] = ",".join(mask_url(part) for part in self.broker.split(","))
        return json.dumps(shown, sort_keys=True)

    def with_overrides(self, **overrides: Any) -> "Settings":
        """A copy with the given non-None values replaced (how CLI flags win over the environment)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.model_copy(update=given) if given else self


def bootstrap_servers_of(url: str) -> str:
    hosts = []
    for part in url.split(","):
        host = part.strip()
        for scheme in ("kafka://", "tcp://", "ssl://", "sasl_ssl://", "sasl_plaintext://", "plaintext://"):
            if host.lower().startswith(scheme):
                host = host[len(scheme):]
        host = host.rstrip("/")
        if host:
            hosts.append(host)
    return ",".join(hosts)
