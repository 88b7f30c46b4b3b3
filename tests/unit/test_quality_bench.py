"""The detection-quality benchmark's scoring: false alarms before a change, delay after it."""

import numpy as np

from loadtests.quality import Scenario, events_of, gaussian, mean_shift, score


def test_a_control_counts_every_drift_alert_as_a_false_alarm_per_watched_signal() -> None:
    control = Scenario("c", gaussian, events=50_000)
    row = score(control, {"feature:x": [10, 20_000], "error": [30_000]}, {"feature:x", "error", "prediction"})
    assert row["false_alarms"] == 3
    assert row["false_alarms_per_100k_per_signal"] == 3 / 3 / 50_000 * 100_000
    assert "detected" not in row


def test_a_drift_is_detected_by_its_own_signal_after_the_change_and_earlier_alerts_are_false() -> None:
    shift = Scenario("s", mean_shift(1.0), events=10_000, change_at=5_000, signal="feature:x")
    row = score(shift, {"feature:x": [100, 5_040, 6_000], "prediction": [5_001]}, {"feature:x", "prediction"})
    assert row["detected"] and row["delay_events"] == 40 and row["false_alarms"] == 1
    missed = score(shift, {"prediction": [5_001]}, {"prediction"})
    assert not missed["watched"] and not missed["detected"] and missed["delay_events"] is None


def test_scenario_streams_become_valid_events_with_the_shift_where_it_says() -> None:
    stream = mean_shift(2.0)(np.random.default_rng(0), 4_000, 2_000)
    events = events_of(stream, "m")
    x = np.array([e.features["x"] for e in events])
    assert len(events) == 4_000 and abs(x[2_000:].mean() - x[:2_000].mean() - 2.0) < 0.15
    assert {type(e.prediction) for e in events} == {float} and events[0].model_id == "m"
