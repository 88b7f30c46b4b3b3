"""The HTML report's pure parts: worst signal first, quiet signals folded, long histories thinned."""

from detectors.windows import WindowStats
from driftline.report import MAX_POINTS, ModelHistory, render, summarise
from schemas.events import AlertKind, DriftAlert, Evidence, Severity


def window(signal: str, i: int, psi: float) -> WindowStats:
    return WindowStats(signal=signal, first_index=i * 10, last_index=i * 10 + 9, from_ts=float(i * 10),
                       to_ts=float(i * 10 + 9), count=10, mean=float(i), variance=1.0, bin_edges=[], histogram=[],
                       psi=psi, ks_statistic=0.0, ks_p_value=1.0)


def alert(signal: str, severity: Severity, ts: float) -> DriftAlert:
    return DriftAlert(alert_id=f"a-{signal}-{ts}", model_id="m", model_version="1", signal=signal, detector="adwin",
                      kind=AlertKind.DATA, severity=severity, event_index=int(ts), event_id="e", ts=ts,
                      evidence=Evidence(), detected_at=0.0)


def history() -> ModelHistory:
    return ModelHistory("m", windows=[window(s, i, psi) for s, psi in (("feature:a", 0.1), ("feature:b", 0.9),
                                                                       ("feature:quiet", 0.0)) for i in range(5)],
                        alerts=[alert("feature:a", Severity.DRIFT, 20.0), alert("feature:a", Severity.DRIFT, 30.0),
                                alert("feature:b", Severity.DRIFT, 25.0), alert("feature:b", Severity.WARNING, 15.0)])


def test_the_summary_puts_the_most_drifted_signal_first_then_warnings_then_psi() -> None:
    rows = summarise([history()])
    assert [(r.signal, r.drifts, r.warnings) for r in rows] == [("feature:a", 2, 0), ("feature:b", 1, 1)]
    assert rows[0].first_drift_ts == 20.0 and rows[1].max_psi == 0.9


def test_signals_without_alerts_are_folded_and_alerted_ones_open() -> None:
    page = render([history()], title="t")
    folded = page.split("<details class=quiet>")[1]
    assert "feature:quiet" in folded and "feature:a" not in folded
    assert "<details class=signal id='s-m-feature-a' open>" in page


def test_a_long_history_is_drawn_with_at_most_max_points() -> None:
    long = ModelHistory("m", windows=[window("feature:x", i, 0.0) for i in range(5 * MAX_POINTS)])
    page = render([long], title="t")
    points = page.split("<polyline points='")[1].split("'")[0].split()
    assert len(points) <= MAX_POINTS + 1


def test_the_live_page_keeps_each_model_s_alerts_and_the_newest_of_all() -> None:
    from driftline.dashboard import AlertTail
    from driftline.settings import Settings

    tail = AlertTail(Settings(), keep=3)
    for i in range(10):
        tail.add(alert("feature:a", Severity.DRIFT, float(i)).model_copy(update={"model_id": f"m{i % 2}",
                                                                                "detected_at": float(i)}))
    assert [a.ts for a in tail.recent("m0")] == [4.0, 6.0, 8.0]
    newest = sorted(tail.recent(), key=lambda a: a.detected_at, reverse=True)[:3]
    assert [a.detected_at for a in newest] == [9.0, 8.0, 7.0]
