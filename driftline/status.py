"""`driftline status [MODEL]`: per-model, per-signal detector state and performance, read from Redis."""

from collections.abc import Iterator

from pydantic import BaseModel

from agents.keys import RedisKeys
from detectors.base import DetectorParams
from detectors.performance import PerformanceWindow
from detectors.rate_cusum import RateCusumParams
from detectors.snapshot import SnapshotError, open_snapshot
from driftline.redis_connect import sync_client
from driftline.settings import Settings


class DetectorStatus(BaseModel):
    signal: str
    detector: str
    updates: int
    drifts: int
    warnings: int
    in_warning: bool
    reference_size: int | None = None
    """A rate CUSUM's reference: the values its counts hold (it grows while the signal is stable)."""
    statistics: dict[str, float]


class ModelStatus(BaseModel):
    model_id: str
    model_version: str | None = None
    events_since_reset: int | None = None
    resets: int | None = None
    retrain_requests: int | None = None
    detectors: list[DetectorStatus] = []
    performance_reference: PerformanceWindow | None = None
    performance_last: PerformanceWindow | None = None
    error: str | None = None


def model_statuses(settings: Settings, model_id: str | None = None) -> Iterator[ModelStatus]:
    keys = RedisKeys(settings.key_prefix)
    client = sync_client(settings)
    try:
        ids = [model_id] if model_id else sorted(_text(m) for m in client.smembers(keys.models))
        state_key = settings.state_key.get_secret_value().encode()
        for mid in ids:
            blob = client.hget(keys.monitor(mid), "snapshot")
            if not isinstance(blob, bytes):
                yield ModelStatus(model_id=mid, error="no state in Redis (no event seen for this model)")
                continue
            try:
                state = open_snapshot(blob, state_key)
            except SnapshotError as exc:
                yield ModelStatus(model_id=mid, error=str(exc))
                continue
            last = client.lindex(keys.performance(mid), 0)
            yield ModelStatus(
                performance_reference=None if state.performance is None else state.performance.reference_window,
                performance_last=PerformanceWindow.model_validate_json(last) if isinstance(last, bytes) else None,
                model_id=mid,
                model_version=state.model_version,
                events_since_reset=state.event_count,
                resets=state.generation,
                retrain_requests=state.retrain.requests,
                detectors=[
                    DetectorStatus(signal=s.signal, detector=slot.params.type, updates=s.updates, drifts=slot.drifts,
                                   warnings=slot.warnings, in_warning=slot.in_warning, statistics=slot.statistics,
                                   reference_size=_reference_size(slot.params))
                    for s in state.signals for slot in s.slots
                ],
            )
    finally:
        client.close()


def _reference_size(params: DetectorParams) -> int | None:
    return params.reference_size if isinstance(params, RateCusumParams) and params.counts else None


def _performance(window: PerformanceWindow) -> str:
    verdict = ""
    if not window.reference:
        verdict = "  DROP" if window.drop else "  within band"
        if window.weakest:
            verdict += f" (weakest: {window.weakest}, p={window.p_value:.3g})"
    return f"{window.count} labelled events {window.first_index}..{window.last_index}  {window.metrics_text()}{verdict}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def render(statuses: list[ModelStatus]) -> str:
    lines = []
    for status in statuses:
        if status.error:
            lines.append(f"{status.model_id}: {status.error}")
            continue
        lines.append(f"{status.model_id}  version {status.model_version}  events {status.events_since_reset}  "
                     f"resets {status.resets}  retrain requests {status.retrain_requests}")
        for d in status.detectors:
            stats = " ".join(f"{k}={v:.4g}" for k, v in d.statistics.items() if k != "reference_n")
            flag = " WARNING" if d.in_warning else ""
            reference = "" if d.reference_size is None else f"reference {d.reference_size:<6} "
            lines.append(f"  {d.signal:<24} {d.detector:<13} updates {d.updates:<8} drifts {d.drifts:<4} "
                         f"warnings {d.warnings:<4}{flag}  {reference}{stats}")
        for name, window in (("reference", status.performance_reference), ("last window", status.performance_last)):
            if window is not None:
                lines.append(f"  performance {name:<12} {_performance(window)}")
    return "\n".join(lines) if lines else "no models yet"
