"""Every Redis key the worker writes, in one place. All live under the configurable key prefix.

Every key of one model carries the hash tag `{<model>}`, so on a Redis Cluster all of them sit in
one slot and one model's batch is written by one atomic script (agents/store.py). Keys shared by
models (`models`, `progress`, `stats`, `layout`) are written outside those scripts.

| key | type | holds | expiry |
|---|---|---|---|
| `<p>models` | set | ids of models ever seen | none |
| `<p>monitor:{<model>}` | hash | `snapshot`: signed monitor snapshot; `offsets`: JSON `{"topic:partition": offset}` it covers; `generation`: owner token (fencing: rises with the server's clock); `seq`: id of the last write | none |
| `<p>pending:{<model>}:<event_id>` | string | prediction waiting for its label (JSON) | label TTL |
| `<p>early:{<model>}:<event_id>` | string | label that arrived before its prediction (JSON) | label TTL |
| `<p>windows:{<model>}:<signal>` | list | last 100 closed tumbling windows (JSON), newest first | 7 days |
| `<p>performance:{<model>}` | list | last 100 closed performance windows (JSON, detectors/performance.py), the reference window among them, newest first | 7 days |
| `<p>lineage:{<model>}` | list | lineage log (schemas/lineage_log.py, JSON, newest first, last 1,000): retrain requests with their alerts and deployments applied (the worker), rejected candidates (trainers) | none |
| `<p>outbox:{<model>}` | hash | id -> alert / retrain request persisted but not yet confirmed on Kafka | none |
| `<p>progress` | hash | `topic:partition` -> last offset of the last batch saved (agents/recovery.py re-reads from there when Redis lost state) | none |
| `<p>stats` | hash | counters: `events:<topic>`, `dead_letters:<reason>`, `alerts`, `system_alerts`, `retrain_requests`, `stale_events`, `stale_labels` | none |
| `<p>layout` | string | `2` once keys of the first layout (no hash tags) were renamed | none |
"""

from dataclasses import dataclass

WINDOW_HISTORY = 100
WINDOW_TTL_SECONDS = 7 * 86_400
LAYOUT_VERSION = "2"


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    @property
    def models(self) -> str:
        return f"{self.prefix}models"

    @property
    def stats(self) -> str:
        return f"{self.prefix}stats"

    @property
    def progress(self) -> str:
        return f"{self.prefix}progress"

    @property
    def layout(self) -> str:
        return f"{self.prefix}layout"

    def monitor(self, model_id: str) -> str:
        return f"{self.prefix}monitor:{{{model_id}}}"

    def outbox(self, model_id: str) -> str:
        return f"{self.prefix}outbox:{{{model_id}}}"

    def pending(self, model_id: str, event_id: str) -> str:
        return f"{self.prefix}pending:{{{model_id}}}:{event_id}"

    def early_label(self, model_id: str, event_id: str) -> str:
        return f"{self.prefix}early:{{{model_id}}}:{event_id}"

    def windows(self, model_id: str, signal: str) -> str:
        return f"{self.prefix}windows:{{{model_id}}}:{signal}"

    def performance(self, model_id: str) -> str:
        return f"{self.prefix}performance:{{{model_id}}}"

    def lineage(self, model_id: str) -> str:
        return f"{self.prefix}lineage:{{{model_id}}}"


@dataclass(frozen=True)
class LegacyKeys:
    """The first layout (before Redis Cluster support), renamed on a worker's start: see StateStore.migrate."""

    prefix: str

    def singles(self, model_id: str) -> list[str]:
        """Keys named by the model alone (monitor hash, outbox hash)."""
        return [f"{self.prefix}monitor:{model_id}", f"{self.prefix}outbox:{model_id}"]

    def patterns(self, model_id: str) -> list[str]:
        """SCAN patterns of the keys that add an event id or a signal after the model."""
        escaped = glob_escape(model_id)
        return [f"{glob_escape(self.prefix)}{kind}:{escaped}:*" for kind in ("pending", "early", "windows")]

    def renamed(self, key: str, model_id: str, keys: RedisKeys) -> str:
        """The hash-tagged name of a legacy key of `model_id`."""
        kind, _, rest = key[len(self.prefix):].partition(":")
        suffix = rest[len(model_id):]  # "" for monitor/outbox, ":<event_id|signal>" otherwise
        return f"{keys.prefix}{kind}:{{{model_id}}}{suffix}"


def glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
