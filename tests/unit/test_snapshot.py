"""Snapshots: restoring mid-stream changes nothing; tampered or foreign snapshots are refused."""

import hashlib
import hmac
import json
import pickle
import zlib

import numpy as np
import pytest

from detectors.config import ModelPolicy, MonitoringConfig, SignalRule, river_config
from detectors.ddm import DdmParams
from detectors.kswin import KswinParams
from detectors.monitor import ModelMonitor
from detectors.safe_pickle import UnsafeSnapshotError
from detectors.snapshot import (
    FORMAT,
    MAGIC,
    SnapshotError,
    decode_snapshot,
    encode_snapshot,
    monitor_document,
    open_snapshot,
    seal,
)
from schemas import DriftAlert, ModelDeployed, PredictionEvent, ReferenceStats

KEY = b"test-key"


def w1_events(n: int = 6000, shift_at: int = 3000, seed: int = 0) -> list[PredictionEvent]:
    """Ten features, a numeric prediction and an inline label; three features shift by 1 sigma."""
    rng = np.random.default_rng(seed)
    events = []
    for i in range(n):
        shifted = i >= shift_at
        features = {f"f{j}": float(v + (1.0 if shifted and j < 3 else 0.0)) for j, v in enumerate(rng.normal(size=10))}
        label = float(rng.integers(0, 2))
        wrong = rng.random() < (0.4 if shifted else 0.1)
        events.append(PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i),
                                      features=features, prediction=float(1 - label if wrong else label),
                                      label=label))
    return events


def run(events: list[PredictionEvent], policy: ModelPolicy, restore_at: set[int]) -> list[DriftAlert]:
    monitor = ModelMonitor("m", policy, clock=lambda: 0.0)
    alerts = []
    for i, event in enumerate(events):
        if i in restore_at:
            monitor = decode_snapshot(encode_snapshot(monitor, KEY), KEY, policy, clock=lambda: 0.0)
        alerts += monitor.observe(event).alerts
    return alerts


def test_restoring_mid_stream_gives_the_same_alerts_as_an_uninterrupted_run() -> None:
    events = w1_events()
    policy = MonitoringConfig().defaults
    uninterrupted = run(events, policy, set())
    assert {a.signal for a in uninterrupted} >= {"feature:f0", "error"}
    assert run(events, policy, {1, 499, 2999, 3017, 4500}) == uninterrupted


def test_restoring_every_detector_kind_mid_stream_changes_nothing() -> None:
    events = w1_events(4000, shift_at=2000)
    detectors = [{"type": t} for t in ("adwin", "page_hinkley", "kswin", "psi", "ks")]
    policy = ModelPolicy(signals={
        "feature:*": SignalRule.model_validate({"detectors": detectors, "calibrate": True}),
        "error": SignalRule.model_validate({"detectors": [{"type": t} for t in ("ddm", "eddm", "hddm_a", "hddm_w")]}),
    })
    uninterrupted = run(events, policy, set())
    assert len({a.detector for a in uninterrupted}) >= 4
    assert run(events, policy, {250, 700, 2100, 3333}) == uninterrupted


def test_the_snapshot_document_is_exactly_what_its_checked_model_reads_back() -> None:
    """The document is built from plain values for speed; every field it writes must be one the model
    reads, with the value it holds (none dropped and defaulted, none renamed), for every detector
    kind, with windows, categories, references and performance windows in play."""
    detectors = [{"type": t} for t in ("adwin", "page_hinkley", "kswin", "psi", "ks")]
    kinds = ModelPolicy(signals={
        "feature:*": SignalRule.model_validate({"detectors": detectors, "calibrate": True}),
        "error": SignalRule.model_validate({"detectors": [{"type": t} for t in ("ddm", "eddm", "hddm_a", "hddm_w")]}),
    })
    events = w1_events(3000, shift_at=1500)
    for policy in (MonitoringConfig().defaults, river_config().defaults, kinds):
        monitor = ModelMonitor("m", policy, clock=lambda: 0.0)
        monitor.reset(ModelDeployed(model_id="m", model_version="1", ts=0.0,
                                    reference={"feature:f0": ReferenceStats(count=100, mean=0.5, std=1.0)}))
        for start in range(0, len(events), 700):
            monitor.observe_many(events[start : start + 700])
            document = json.loads(monitor_document(monitor))
            assert open_snapshot(encode_snapshot(monitor, KEY), KEY).model_dump(mode="json") == document
        assert document["references"] and document["signals"]


def test_a_tampered_snapshot_is_refused() -> None:
    monitor = ModelMonitor("m", MonitoringConfig().defaults)
    monitor.observe(w1_events(1)[0])
    blob = bytearray(encode_snapshot(monitor, KEY))
    blob[-5] ^= 0x01
    with pytest.raises(SnapshotError, match="signature does not match"):
        open_snapshot(bytes(blob), KEY)


def test_a_snapshot_signed_with_another_key_is_refused() -> None:
    blob = encode_snapshot(ModelMonitor("m", MonitoringConfig().defaults), KEY)
    with pytest.raises(SnapshotError, match="DRIFTLINE_STATE_KEY"):
        open_snapshot(blob, b"other-key")


def test_a_bare_pickle_is_not_a_snapshot() -> None:
    with pytest.raises(SnapshotError, match="not a driftline monitor snapshot"):
        open_snapshot(pickle.dumps({"x": 1}), KEY)


def test_a_signed_snapshot_still_cannot_run_code() -> None:
    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return (os.system, ("echo owned",))

    # KSWIN is still a Python object, saved with the restricted pickle: the allow-list refuses os.system
    monitor = ModelMonitor("m", ModelPolicy(signals={"prediction": SignalRule(detectors=[KswinParams()])}))
    monitor.observe(w1_events(1)[0])
    state = open_snapshot(encode_snapshot(monitor, KEY), KEY)
    evil_slot = state.signals[0].slots[0].model_copy(update={"state": pickle.dumps(Exploit())})
    evil_signal = state.signals[0].model_copy(update={"slots": [evil_slot]})
    evil = seal(state.model_copy(update={"signals": [evil_signal]}), KEY)
    with pytest.raises(SnapshotError) as caught:
        decode_snapshot(evil, KEY, monitor.policy)
    assert isinstance(caught.value.__cause__.__cause__, UnsafeSnapshotError)


def test_compiled_detector_state_is_numbers_only() -> None:
    """A kernel's state is float64 bytes; a pickle in its place is refused by size, never unpickled."""
    monitor = ModelMonitor("m", ModelPolicy(signals={"error": SignalRule(detectors=[DdmParams()])}))
    monitor.observe(w1_events(1)[0])
    state = open_snapshot(encode_snapshot(monitor, KEY), KEY)
    saved = state.signals[0].slots[0].state
    assert len(saved) % 8 == 0
    evil_slot = state.signals[0].slots[0].model_copy(update={"state": pickle.dumps({"x": 1})})
    evil = seal(state.model_copy(update={"signals": [state.signals[0].model_copy(update={"slots": [evil_slot]})]}),
                KEY)
    with pytest.raises(SnapshotError, match="ddm state has"):
        decode_snapshot(evil, KEY, monitor.policy)


def test_a_format_1_snapshot_is_refused_with_its_reason() -> None:
    """Format 1 held pickled river detectors; the compiled engine cannot load them and says so."""
    monitor = ModelMonitor("m", MonitoringConfig().defaults)
    monitor.observe(w1_events(1)[0])
    text = open_snapshot(encode_snapshot(monitor, KEY), KEY).model_dump_json()
    text = text.replace(f'"format":{FORMAT}', '"format":1')
    payload = zlib.compress(text.encode())
    old = MAGIC + hmac.new(KEY, payload, hashlib.sha256).digest() + payload
    with pytest.raises(SnapshotError, match="format 1 holds pickled river detectors"):
        decode_snapshot(old, KEY, monitor.policy)


def test_a_signal_whose_rule_changed_starts_afresh_after_restore() -> None:
    events = w1_events(200)
    policy = MonitoringConfig().defaults
    monitor = ModelMonitor("m", policy)
    for event in events:
        monitor.observe(event)
    changed = ModelPolicy(signals={**policy.signals, "prediction": SignalRule.model_validate(
        {"detectors": [{"type": "page_hinkley", "threshold": 10.0}]})})
    restored = decode_snapshot(encode_snapshot(monitor, KEY), KEY, changed)
    assert "prediction" not in restored.signals
    assert restored.signals["feature:f0"].updates == 200
    assert restored.event_count == 200


def test_deployment_bookkeeping_survives_a_restore() -> None:
    from schemas import ModelDeployed

    monitor = ModelMonitor("m", MonitoringConfig().defaults)
    monitor.observe(w1_events(1)[0])
    monitor.reset(ModelDeployed(model_id="m", model_version="2", ts=1.0, request_id="r-9"))
    restored = decode_snapshot(encode_snapshot(monitor, KEY), KEY, MonitoringConfig().defaults)
    assert (restored.retired_version, restored.last_deployment_request, restored.generation) == ("1", "r-9", 1)


def test_adwin_saves_only_the_levels_it_uses_and_comes_back_bit_identical() -> None:
    from detectors.adwin import Adwin, AdwinParams

    values = np.random.default_rng(7).normal(size=20_000)
    detector = Adwin(AdwinParams())
    detector.update_many(values[:15_000], 0, 64)
    saved = detector.dump_state()
    assert len(saved) < 16 * detector.state.size / 3  # 64 levels of room, a few in use
    restored = Adwin(AdwinParams())
    restored.load_state(saved)
    assert restored.state.tobytes() == detector.state.tobytes()
    assert restored.checkpoint.tobytes() == detector.checkpoint.tobytes()
    assert restored.update_many(values[15_000:]).flags.tolist() == detector.update_many(values[15_000:]).flags.tolist()
    with pytest.raises(ValueError):
        restored.load_state(saved[:-8])


def test_a_format_2_snapshot_with_full_adwin_arrays_still_loads() -> None:
    events = w1_events(3_000)
    monitor = ModelMonitor("m", river_config().defaults)  # ADWIN first on each feature, as format 2 saved it
    monitor.observe_many(events)
    state = open_snapshot(encode_snapshot(monitor, KEY), KEY)
    for signal in state.signals:
        for slot in signal.slots:
            detector = monitor.signals[signal.signal].slots[0].detector
            if slot.params.type == "adwin":
                slot.state = np.concatenate([detector.state, detector.checkpoint]).astype("<f8").tobytes()
    old = seal(state.model_copy(update={"format": 2}), KEY)
    restored = decode_snapshot(old, KEY, monitor.policy)
    for name, signal in monitor.signals.items():
        assert restored.signals[name].slots[0].detector.dump_state() == signal.slots[0].detector.dump_state()


def test_category_codes_survive_a_restore_mid_reference_and_after_it() -> None:
    rng = np.random.default_rng(3)
    mix = np.where(np.arange(3_000) >= 1_500, 4, 0)
    events = [PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i),
                              features={"plan": f"p{min(k + int(mix[i] * rng.random()), 5)}"}, prediction=0.0)
              for i, k in enumerate(rng.choice(3, size=3_000))]
    policy = MonitoringConfig().defaults
    uninterrupted = run(events, policy, set())  # type: ignore[arg-type]
    assert [a.signal for a in uninterrupted if a.severity == "drift"][:1] == ["category:plan"]
    assert run(events, policy, {250, 500, 1_700}) == uninterrupted  # type: ignore[arg-type]


def test_the_count_of_early_labels_held_survives_a_restore_and_is_unknown_from_format_7() -> None:
    """The worker skips early-label lookups for a model whose count is 0; a snapshot written before the
    count existed must not claim 0, or its waiting early labels would never be found."""
    monitor = ModelMonitor("m", MonitoringConfig().defaults)
    monitor.observe(w1_events(1)[0])
    monitor.early_labels_held = 3
    assert decode_snapshot(encode_snapshot(monitor, KEY), KEY, monitor.policy).early_labels_held == 3
    text = open_snapshot(encode_snapshot(monitor, KEY), KEY).model_dump_json(exclude={"early_labels_held"})
    text = text.replace(f'"format":{FORMAT}', '"format":7')
    payload = zlib.compress(text.encode())
    older = MAGIC + hmac.new(KEY, payload, hashlib.sha256).digest() + payload
    assert decode_snapshot(older, KEY, monitor.policy).early_labels_held is None
