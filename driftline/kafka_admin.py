"""Topic administration with confluent-kafka's AdminClient."""

import time
from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from driftline.settings import Settings


def ensure_topics(settings: Settings, names: Iterable[str], *, partitions: int = 1, timeout: float = 30.0) -> None:
    """Create the topics that do not exist yet; an existing topic is left as it is."""
    admin = AdminClient(settings.kafka_client_config())
    wanted = sorted(set(names))
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [name for name in wanted if name not in existing]
    if not missing:
        return
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in missing],
        operation_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise RuntimeError(f"could not create topic {name!r} on {settings.bootstrap_servers}: {exc}") from exc
    _wait_for_metadata(admin, missing, timeout)


def _wait_for_metadata(admin: AdminClient, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=timeout).topics
        if all(name in topics and topics[name].partitions for name in names):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topics {names} did not appear in broker metadata within {timeout}s")
