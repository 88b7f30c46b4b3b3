"""Every Redis key the worker writes, in one place. All live under the configurable key prefix.

| key | type | holds | expiry |
|---|---|---|---|
| `<p>models` | set | ids of models ever seen | none |
| `<p>monitor:<model>` | hash | `snapshot`: signed monitor snapshot; `offsets`: JSON `{"topic:partition": offset}` it covers | none |
| `<p>pending:<model>:<event_id>` | string | prediction waiting for its label (JSON) | label TTL |
| `<p>early:<model>:<event_id>` | string | label that arrived before its prediction (JSON) | label TTL |
| `<p>windows:<model>:<signal>` | list | last 100 closed tumbling windows (JSON), newest first | 7 days |
| `<p>outbox:<model>` | hash | id -> alert / retrain request persisted but not yet confirmed on Kafka | none |
| `<p>stats` | hash | counters: `events:<topic>`, `dead_letters:<reason>`, `alerts`, `retrain_requests`, `stale_events`, `stale_labels` | none |
"""

from dataclasses import dataclass

WINDOW_HISTORY = 100
WINDOW_TTL_SECONDS = 7 * 86_400


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    @property
    def models(self) -> str:
        return f"{self.prefix}models"

    def monitor(self, model_id: str) -> str:
        return f"{self.prefix}monitor:{model_id}"

    def pending(self, model_id: str, event_id: str) -> str:
        return f"{self.prefix}pending:{model_id}:{event_id}"

    def early_label(self, model_id: str, event_id: str) -> str:
        return f"{self.prefix}early:{model_id}:{event_id}"

    def windows(self, model_id: str, signal: str) -> str:
        return f"{self.prefix}windows:{model_id}:{signal}"

    @property
    def outbox(self) -> str:
        return f"{self.prefix}outbox"

    @property
    def stats(self) -> str:
        return f"{self.prefix}stats"
