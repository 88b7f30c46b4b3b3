"""Snapshot and restore of a whole ModelMonitor, as bytes that cannot run code when loaded.

Layout: MAGIC (4 bytes) | HMAC-SHA256 of the rest (32 bytes) | zlib(JSON MonitorState), written
with stored (uncompressed) blocks since format 3.
The signature is checked before anything is parsed. Compiled detectors save their state as
float64 arrays (little-endian bytes, base64 in the JSON): nothing in them can run code. Only
KSWIN and the window tests, still Python objects, go through a restricted unpickler
(detectors/safe_pickle.py). The JSON part also carries each detector's statistics, so
`driftline status` can show state without rebuilding detectors.

`format` is 8: as 7, with the count of early labels the join holds for the model (what lets the
worker skip looking them up). Format 7 was as 6, with the post-deployment watch's counts
(detectors/deployment_watch.py). Format 6 was as 5, with the joint signal's reference sums
(detectors/joint.py) and rate CUSUM banks (a statistic per alternative, the reference's counts per
cell in the parameters, the values per cell of the chunk a maturing reference may take in the state,
detectors/maturing.py); a rate CUSUM saved by format 5 or before loads as a bank of its one
alternative, and the default rules (now banks) differ from its saved rule, so that signal starts
afresh once. Format 5 was as 4, with the model's performance windows (detectors/performance.py).
Format 4 was as 3, with the model's width (how many signals share its false-alarm budget), each
category signal's dictionary, and the rate CUSUM detector of the calibrated defaults. Format 3 was
as 2 (the compiled engine), but ADWIN saves only the levels of its histogram in use, which made a W1
model's snapshot five times cheaper to write; formats 2 to 4 are read. A format-1 snapshot (river
objects, pickled) cannot be turned into kernel state, so it is refused with its reason; the worker
then starts the model afresh and raises the `state`/`snapshot` system alert.
A version before format 5 refuses a format-5 snapshot the same way ("written by a newer
driftline").

A signal whose rule in the current config differs from the one in the snapshot starts afresh:
the user changed how it is watched, so the old detector state no longer applies.
"""

import hashlib
import hmac
import zlib
from typing import Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detectors.config import ModelPolicy, SignalRule
from detectors.deployment_watch import DeploymentWatch
from detectors.estimated import EstimatedF1
from detectors.joint import JointReference
from detectors.monitor import Clock, DetectorSlot, DriftRecord, ModelMonitor, RetrainState, SignalMonitor
from detectors.performance import PerformanceConfig, PerformanceMonitor, PerformanceWindow, Task
from detectors.registry import AnyDetectorParams, build_detector
from detectors.signals import JOINT
from detectors.windows import SignalWindows, WindowConfig
from schemas.events import ReferenceStats

MAGIC = b"DLM1"
SIGNATURE_BYTES = 32


class SnapshotError(ValueError):
    """A snapshot cannot be restored: not ours, tampered with, or from an incompatible version."""


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid", ser_json_bytes="base64", val_json_bytes="base64")


class _Format(BaseModel):
    """Only the format number, read first so an old snapshot is refused with a reason."""

    format: int


class SlotState(_State):
    params: AnyDetectorParams
    state: bytes
    statistics: dict[str, float]
    in_warning: bool
    warned_since_drift: bool
    quiet_until: int
    drifts: int
    warnings: int
    awaiting_calibration: bool
    checkpoint: dict[str, float]
    checkpoint_index: int


class WindowsState(_State):
    reference: bytes
    current: bytes
    first_index: int
    from_ts: float


class SignalState(_State):
    signal: str
    rule: SignalRule
    updates: int
    slots: list[SlotState]
    windows: WindowsState | None
    categories: list[str] = Field(default_factory=list)
    categorical: bool = False
    """Fed category codes: a class prediction (format 6)."""


class DriftRecordState(_State):
    signal: str
    alert_id: str
    ts: float


class RetrainStateModel(_State):
    recent: list[DriftRecordState] = Field(default_factory=list)
    last_request_ts: float | None = None
    last_request_id: str | None = None
    requests: int = 0
    drift_began_ts: float | None = None
    last_reasons: list[str] = Field(default_factory=list)
    rejected: bool = False


class PerformanceState(_State):
    """The performance windows' pairs (int16 class-pair codes or float32 errors, as `FixedBuffer.raw()` gives
    them), the classes seen, and what the reference window settled."""

    task: Task
    config: PerformanceConfig
    windows: WindowConfig
    classes: list[float | str]
    reference: bytes
    current: bytes
    first_index: int
    from_ts: float
    reference_window: PerformanceWindow | None
    in_drop: bool
    drops: int
    skipped: int


class JointState(_State):
    """The joint signal's features and its reference's running sums (detectors/joint.py)."""

    names: list[str]
    size: int
    sums: bytes


class DeploymentWatchState(_State):
    """The post-deployment watch's counts (detectors/deployment_watch.py); its config comes from the policy."""

    replaced_version: str
    baseline_errors: int
    baseline_count: int
    labels: int
    errors: int
    fired: bool


FORMAT: Literal[8] = 8
READABLE = (2, 3, 4, 5, 6, 7, 8)
"""Format 8 adds the count of early labels held; format 7 the post-deployment watch; format 6 rate
CUSUM banks and maturing references; format 5 the performance windows; format 4 the model's width
(its false-alarm budget's split) and the rate CUSUM detector; format 3 saves ADWIN's used levels
only; formats 2 to 7 still load."""


class MonitorState(_State):
    format: Literal[2, 3, 4, 5, 6, 7, 8] = FORMAT
    model_id: str
    model_version: str
    generation: int
    event_count: int
    references: dict[str, ReferenceStats]
    signals: list[SignalState]
    retrain: RetrainStateModel
    last_deployment_request: str | None = None
    retired_version: str | None = None
    width: int = 0
    performance: PerformanceState | None = None
    joint: JointState | None = None
    estimated_f1: list[int] | None = None
    """Scored predictions counted, then the reference's and the current window's expected TP, FP, FN."""
    deployment_watch: DeploymentWatchState | None = None
    early_labels_held: int | None = None
    """None in a snapshot before format 8: not known, so the worker keeps looking early labels up."""


def monitor_document(monitor: ModelMonitor) -> bytes:
    """The snapshot's JSON text, in `MonitorState`'s layout (which parses and checks it on every load).

    Built as plain dicts around the models already held (rules, parameters, reference stats) and
    written in one call of pydantic-core's serializer, not by constructing and dumping `MonitorState`:
    a many-model batch snapshots every model it touched, and building a dozen pydantic slot and
    signal models per model, then dumping them, was about 380 us a WM model, the worker's largest
    cost on a many-model stream (now about 250 us)."""
    retrain = monitor.retrain
    document = {
        "format": FORMAT,
        "model_id": monitor.model_id,
        "model_version": monitor.model_version,
        "generation": monitor.generation,
        "event_count": monitor.event_count,
        "references": monitor.references,
        "signals": [_signal_document(s) for s in monitor.signals.values()],
        "retrain": {
            "recent": [{"signal": r.signal, "alert_id": r.alert_id, "ts": r.ts} for r in retrain.recent],
            "last_request_ts": retrain.last_request_ts,
            "last_request_id": retrain.last_request_id,
            "requests": retrain.requests,
            "drift_began_ts": retrain.drift_began_ts,
            "last_reasons": retrain.last_reasons,
            "rejected": retrain.rejected,
        },
        "last_deployment_request": monitor.last_deployment_request,
        "retired_version": monitor.retired_version,
        "width": monitor.width,
        "performance": None if monitor.performance is None else _performance_document(monitor.performance),
        "estimated_f1": None if monitor.estimated_f1 is None else monitor.estimated_f1.state(),
        "joint": None if monitor.joint is None else {"names": monitor.joint.names, "size": monitor.joint.size,
                                                     "sums": monitor.joint.raw()},
        "early_labels_held": monitor.early_labels_held,
        "deployment_watch": None if (watch := monitor.deployment_watch) is None else {
            "replaced_version": watch.replaced_version, "baseline_errors": watch.baseline_errors,
            "baseline_count": watch.baseline_count, "labels": watch.labels, "errors": watch.errors,
            "fired": watch.fired},
    }
    return pydantic_core.to_json(document, bytes_mode="base64", inf_nan_mode="constants")


def _performance_document(performance: PerformanceMonitor) -> dict[str, object]:
    return {
        "task": performance.task, "config": performance.config,
        "windows": performance.windows, "classes": performance.classes,
        "reference": performance.reference.raw(), "current": performance.current.raw(),
        "first_index": performance.first_index, "from_ts": performance.from_ts,
        "reference_window": performance.reference_window,
        "in_drop": performance.in_drop, "drops": performance.drops, "skipped": performance.skipped,
    }


def _signal_document(signal: SignalMonitor) -> dict[str, object]:
    windows = signal.windows
    return {
        "signal": signal.signal,
        "rule": signal.rule,
        "updates": signal.updates,
        "slots": [
            {
                "params": slot.detector.params,
                "state": slot.detector.dump_state(),
                "statistics": slot.detector.statistics(),
                "in_warning": slot.in_warning,
                "warned_since_drift": slot.warned_since_drift,
                "quiet_until": slot.quiet_until,
                "drifts": slot.drifts,
                "warnings": slot.warnings,
                "awaiting_calibration": slot.awaiting_calibration,
                "checkpoint": slot.checkpoint(),
                "checkpoint_index": slot.checkpoint_index,
            }
            for slot in signal.slots
        ],
        "windows": None if windows is None else {
            "reference": windows.reference.raw(),
            "current": windows.current.raw(),
            "first_index": windows.first_index,
            "from_ts": windows.from_ts,
        },
        "categories": signal.categories,
        "categorical": signal.categorical,
    }


def restore_monitor(state: MonitorState, policy: ModelPolicy, *, clock: Clock | None = None) -> ModelMonitor:
    monitor = ModelMonitor(state.model_id, policy) if clock is None else ModelMonitor(state.model_id, policy,
                                                                                        clock=clock)
    monitor.model_version = state.model_version
    monitor.generation = state.generation
    monitor.event_count = state.event_count
    monitor.references = dict(state.references)
    monitor.last_deployment_request = state.last_deployment_request
    monitor.retired_version = state.retired_version
    monitor.early_labels_held = state.early_labels_held
    monitor.width = state.width
    monitor.retrain = RetrainState(
        recent=[DriftRecord(r.signal, r.alert_id, r.ts) for r in state.retrain.recent],
        last_request_ts=state.retrain.last_request_ts,
        last_request_id=state.retrain.last_request_id,
        requests=state.retrain.requests,
        drift_began_ts=state.retrain.drift_began_ts,
        last_reasons=list(state.retrain.last_reasons),
        rejected=state.retrain.rejected,
    )
    for saved in state.signals:
        if policy.rule_for(saved.signal) != saved.rule:
            continue
        monitor.signals[saved.signal] = _restore_signal(saved, policy, monitor.false_alarm_share())
    monitor.performance = _restore_performance(state, policy, monitor.false_alarm_share())
    monitor.joint = _restore_joint(state.joint, policy)
    if state.estimated_f1 is not None and len(state.estimated_f1) == 7:
        monitor.estimated_f1 = EstimatedF1(policy.windows.reference_size, policy.windows.size)
        monitor.estimated_f1.restore(state.estimated_f1)
    if (watch := state.deployment_watch) is not None and policy.post_deployment.enabled:
        monitor.deployment_watch = DeploymentWatch(watch.replaced_version, watch.baseline_errors,
                                                   watch.baseline_count, policy.post_deployment,
                                                   labels=watch.labels, errors=watch.errors, fired=watch.fired)
    return monitor


def _restore_joint(saved: JointState | None, policy: ModelPolicy) -> JointReference | None:
    """The joint reference, unless the config no longer watches `joint` or sizes references otherwise."""
    rule = policy.rule_for(JOINT)
    if saved is None or rule is None or not rule.detectors or saved.size != policy.windows.reference_size:
        return None
    joint = JointReference(saved.names, saved.size)
    try:
        joint.restore(saved.sums)
    except ValueError as exc:
        raise SnapshotError(f"the joint signal's reference cannot be restored: {exc}") from exc
    return joint


def _restore_performance(state: MonitorState, policy: ModelPolicy, false_alarm_rate: float
                         ) -> PerformanceMonitor | None:
    """The saved performance windows, unless the config now measures them otherwise or not at all: then
    they start afresh, as a signal whose rule changed does."""
    saved = state.performance
    if saved is None or saved.config != policy.performance or saved.windows != policy.windows:
        return None
    if (policy.performance_task or saved.task) != saved.task:
        return None
    performance = PerformanceMonitor(state.model_id, policy.performance, policy.windows,
                                     regression=saved.task == "regression", false_alarm_rate=false_alarm_rate,
                                     auto=policy.performance_task is None)
    performance.restore(saved.classes, saved.reference, saved.current, saved.first_index, saved.from_ts,
                        saved.reference_window, saved.in_drop)
    performance.drops, performance.skipped = saved.drops, saved.skipped
    return performance


def _restore_signal(saved: SignalState, policy: ModelPolicy, false_alarm_rate: float) -> SignalMonitor:
    signal = SignalMonitor(saved.signal, saved.rule, policy, false_alarm_rate=false_alarm_rate,
                           categorical=saved.categorical)
    signal.updates = saved.updates
    slots = []
    for s in saved.slots:
        detector = build_detector(s.params)
        try:
            detector.load_state(s.state)
        except ValueError as exc:
            raise SnapshotError(f"detector {s.params.type} on {saved.signal} cannot be restored: {exc}") from exc
        slots.append(DetectorSlot(
            detector=detector, in_warning=s.in_warning, warned_since_drift=s.warned_since_drift,
            checkpoint_index=s.checkpoint_index, quiet_until=s.quiet_until, drifts=s.drifts, warnings=s.warnings,
            awaiting_calibration=s.awaiting_calibration,
        ))
    signal.slots = slots
    if saved.windows is not None:
        windows = signal.windows or SignalWindows(saved.signal, policy.windows)
        w = saved.windows
        windows.restore(w.reference, w.current, w.first_index, w.from_ts)
        signal.windows = windows
    signal.restore_transforms()
    signal.restore_maturing()
    signal.restore_categories(saved.categories)
    return signal


def encode_snapshot(monitor: ModelMonitor, key: bytes) -> bytes:
    return _seal_document(monitor_document(monitor), key)


def seal(state: MonitorState, key: bytes) -> bytes:
    return _seal_document(state.model_dump_json().encode("utf-8"), key)


def _seal_document(document: bytes, key: bytes) -> bytes:
    # stored, not deflated: a zlib stream all versions read, but deflating (1 ms for a W1 model, mostly
    # base64 of window values) was the largest cost of a many-model batch, for half the bytes
    payload = zlib.compress(document, level=0)
    return MAGIC + hmac.new(key, payload, hashlib.sha256).digest() + payload


def open_snapshot(blob: bytes, key: bytes) -> MonitorState:
    """Verify and parse a snapshot; raises SnapshotError with the reason, never anything else."""
    if not blob.startswith(MAGIC):
        raise SnapshotError(f"not a driftline monitor snapshot (format {blob[:4]!r}, expected {MAGIC!r})")
    signature, payload = blob[4 : 4 + SIGNATURE_BYTES], blob[4 + SIGNATURE_BYTES :]
    if not hmac.compare_digest(signature, hmac.new(key, payload, hashlib.sha256).digest()):
        raise SnapshotError("snapshot signature does not match: it was altered, or written with another "
                            "DRIFTLINE_STATE_KEY")
    try:
        text = zlib.decompress(payload)
        return MonitorState.model_validate_json(text)
    except (zlib.error, ValidationError) as exc:
        reason = f"snapshot is signed but unreadable by this version: {str(exc)[:300]}"
        found = _format_of(text) if isinstance(exc, ValidationError) else None
        if found is not None and found not in READABLE:
            reason = f"snapshot format {found} is not one this version reads ({READABLE}); " + (
                "format 1 holds pickled river detectors, which the compiled engine cannot load" if found == 1
                else "it was written by a newer driftline")
        raise SnapshotError(reason) from exc


def _format_of(text: bytes) -> int | None:
    """The format number of a snapshot that did not parse, to say why (read only then: loads parse once)."""
    try:
        return _Format.model_validate_json(text).format
    except ValidationError:
        return None


def decode_snapshot(blob: bytes, key: bytes, policy: ModelPolicy, *, clock: Clock | None = None) -> ModelMonitor:
    return restore_monitor(open_snapshot(blob, key), policy, clock=clock)
