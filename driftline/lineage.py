"""`driftline lineage MODEL`: a model's chain, oldest first: the alerts behind each retrain request, the
training data and validation of each candidate, each deployment, and what the monitor saw of each
version (of the one serving now: its live state in Redis)."""

import json

from pydantic import BaseModel, TypeAdapter, ValidationError

from agents.keys import RedisKeys
from driftline.redis_connect import SyncClient, sync_client
from driftline.settings import Settings
from driftline.status import ModelStatus, model_statuses
from driftline.times import utc_text
from schemas.lineage import Lineage
from schemas.lineage_log import DeploymentEntry, LineageEntry, RejectionEntry, RequestEntry

_ENTRY: TypeAdapter[LineageEntry] = TypeAdapter(LineageEntry)


class ModelLineage(BaseModel):
    model_id: str
    entries: list[LineageEntry]
    """Oldest first; an entry written twice (a redelivery) appears once."""
    current: ModelStatus | None = None
    unreadable: int = 0


def read_lineage(settings: Settings, model_id: str) -> ModelLineage:
    client = sync_client(settings)
    try:
        entries, unreadable = lineage_entries(client, RedisKeys(settings.key_prefix), model_id)
    finally:
        client.close()
    statuses = list(model_statuses(settings, model_id))
    current = statuses[0] if statuses and statuses[0].error is None else None
    return ModelLineage(model_id=model_id, entries=entries, current=current, unreadable=unreadable)


def lineage_entries(client: SyncClient, keys: RedisKeys, model_id: str) -> tuple[list[LineageEntry], int]:
    """The model's lineage log, oldest first, an entry written twice (a redelivery) once; and how many
    entries could not be read."""
    entries: list[LineageEntry] = []
    seen: set[str] = set()
    unreadable = 0
    for item in reversed(client.lrange(keys.lineage(model_id), 0, -1)):  # type: ignore[arg-type]
        try:
            entry = _ENTRY.validate_json(item)
        except ValidationError:
            unreadable += 1
            continue
        identity = _identity(entry)
        if identity not in seen:
            seen.add(identity)
            entries.append(entry)
    return entries, unreadable


def version_lineage(lineage: ModelLineage, version: str) -> Lineage | None:
    """The lineage a deployment or rejection recorded for `version` (the latest, if several)."""
    found = None
    for entry in lineage.entries:
        if isinstance(entry, DeploymentEntry) and entry.deployed.model_version == version:
            found = entry.deployed.lineage or found
        elif isinstance(entry, RejectionEntry) and entry.rejected.candidate_version == version:
            found = entry.rejected.lineage or found
    return found


def render(lineage: ModelLineage) -> str:
    if not lineage.entries and lineage.current is None:
        return f"no lineage of {lineage.model_id} in Redis (no request or deployment recorded)"
    lines = [f"lineage of {lineage.model_id}, oldest first"]
    for entry in lineage.entries:
        if isinstance(entry, RequestEntry):
            request = entry.request
            what = f"roll back to {request.rollback_to}" if request.rollback_to else "retrain"
            why = ("because of " + ", ".join(f"{a.alert_id} ({a.signal} at {utc_text(a.ts)})" for a in entry.alerts)
                   if entry.alerts else "again: the last candidate was rejected and the drift stands")
            lines.append(f"request {request.request_id}: {what} version {request.model_version}; {why}")
            lines.append(f"  data since {utc_text(request.window.from_ts)}")
        elif isinstance(entry, RejectionEntry):
            rejected = entry.rejected
            lines.append(f"  rejected candidate {rejected.candidate_version} (request {rejected.request_id}): "
                         f"{rejected.reason}")
            lines += _details(rejected.lineage, rejected.model_uri)
        else:
            deployed = entry.deployed
            if entry.replaced is not None:
                r = entry.replaced
                lines.append(f"  version {r.model_version} until then: {r.events:,} events monitored, "
                             f"{r.drift_alerts} drift alert(s), {r.retrain_requests} retrain request(s)")
            answer = f" (request {deployed.request_id})" if deployed.request_id else ""
            lines.append(f"deployed version {deployed.model_version}{answer} at {utc_text(deployed.ts)}, "
                         f"detectors reset (generation {entry.generation})")
            lines += _details(deployed.lineage, deployed.model_uri)
    current = lineage.current
    if current is not None:
        drifts = sum(d.drifts for d in current.detectors)
        lines.append(f"now: version {current.model_version}, {current.events_since_reset or 0:,} events monitored "
                     f"since its deployment, {drifts} drift alert(s), {current.retrain_requests or 0} retrain "
                     f"request(s)")
    if lineage.unreadable:
        lines.append(f"({lineage.unreadable} unreadable entries skipped)")
    return "\n".join(lines)


def as_json(lineage: ModelLineage) -> str:
    return json.dumps(lineage.model_dump(mode="json"), indent=2)


def _details(lineage: Lineage | None, uri: str | None) -> list[str]:
    lines = []
    if lineage is not None and lineage.validation is not None:
        v = lineage.validation
        serving = "none to compare" if v.serving_score is None else f"{v.serving_score:.4f}"
        lines.append(f"    validation: {v.metric} {v.candidate_score:.4f} against the serving version's {serving} "
                     f"on {v.slice_size} held-out examples (margin {v.margin:g}): {'passed' if v.passed else 'failed'}")
    if lineage is not None and lineage.training is not None:
        t = lineage.training
        ranges = ", ".join(f"{r.topic}[{r.partition}] {r.start}-{r.end}" for r in t.ranges if r.end > r.start)
        lines.append(f"    training data: {t.examples - t.validation_examples} examples (+{t.validation_examples} "
                     f"held out) stamped {utc_text(t.from_ts)} to {utc_text(t.to_ts)}, "
                     f"fingerprint {t.fingerprint[:16]}")
        lines.append(f"    read from {ranges or 'no records'}")
    if lineage is not None and (lineage.trainer_id or lineage.code_version):
        lines.append(f"    trainer {lineage.trainer_id} ({lineage.code_version})"
                     + (", a rollback" if lineage.rollback else ""))
    if uri:
        lines.append(f"    model {uri}")
    return lines


def _identity(entry: LineageEntry) -> str:
    if isinstance(entry, RequestEntry):
        return f"request:{entry.request.request_id}"
    if isinstance(entry, RejectionEntry):
        return f"rejected:{entry.rejected.request_id}:{entry.rejected.candidate_version}"
    return f"deployed:{entry.generation}:{entry.deployed.model_version}"

