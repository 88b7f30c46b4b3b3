"""One self-contained HTML report of a model's drift: no script, no network, inline SVG charts.

A summary table comes first, worst first: each signal that raised alerts, when it first drifted and
how strongly. Then, per model, the performance windows and each signal's timeline: the window mean
against its reference (and the window's PSI), alerts and warnings marked, retrain requests and
deployments as markers. Signals without alerts are folded (`<details>`), so a model with hundreds
of features still opens on what changed. Time runs along event time (`ts`), which a deployment's
reset of the event index does not break.
"""

import html
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from detectors.performance import PerformanceWindow
from detectors.windows import WindowStats
from driftline.times import utc_text
from schemas.events import DriftAlert, ModelDeployed, RetrainRequest, Severity

WIDTH, HEIGHT = 640, 90
MAX_POINTS = 400
"""Windows drawn per line: a longer history is thinned evenly (the report stays small)."""


@dataclass
class ModelHistory:
    """What a report shows of one model."""

    model_id: str
    windows: list[WindowStats] = field(default_factory=list)
    performance: list[PerformanceWindow] = field(default_factory=list)
    alerts: list[DriftAlert] = field(default_factory=list)
    requests: list[RetrainRequest] = field(default_factory=list)
    deployments: list[ModelDeployed] = field(default_factory=list)

    def span(self) -> tuple[float, float]:
        """The model's event-time range: every chart of it shares this axis, so marks line up."""
        times = ([w.to_ts for w in self.windows] + [w.to_ts for w in self.performance] + [a.ts for a in self.alerts]
                 + [r.window.to_ts for r in self.requests] + [d.ts for d in self.deployments])
        return (min(times), max(times)) if times else (0.0, 1.0)

    def signals(self) -> list[str]:
        return sorted({w.signal for w in self.windows} | {a.signal for a in self.alerts if a.kind != "system"})


@dataclass(frozen=True)
class SignalSummary:
    model_id: str
    signal: str
    kind: str
    drifts: int
    warnings: int
    first_drift_ts: float | None
    max_psi: float | None

    @property
    def order(self) -> tuple[int, int, float]:
        return -self.drifts, -self.warnings, -(self.max_psi or 0.0)


def summarise(models: Sequence[ModelHistory]) -> list[SignalSummary]:
    """Every signal that alerted, worst first: most drift alerts, then warnings, then the largest PSI."""
    rows = []
    for model in models:
        for signal in model.signals():
            alerts = [a for a in model.alerts if a.signal == signal and a.kind != "system"]
            if not alerts:
                continue
            drifts = [a for a in alerts if a.severity == Severity.DRIFT]
            psis = [w.psi for w in model.windows if w.signal == signal]
            rows.append(SignalSummary(model.model_id, signal, alerts[0].kind.value, len(drifts),
                                      len(alerts) - len(drifts), min((a.ts for a in drifts), default=None),
                                      max(psis) if psis else None))
    return sorted(rows, key=lambda r: r.order)


def render(models: Sequence[ModelHistory], *, title: str) -> str:
    summary = summarise(models)
    parts = [_HEAD.format(title=html.escape(title)), f"<h1>{html.escape(title)}</h1>",
             f"<p class=meta>{sum(len(m.alerts) for m in models)} alerts over {len(models)} model(s); "
             f"generated {utc_text(time.time())} UTC</p>", _summary_table(summary)]
    for model in models:
        parts.append(_model_section(model, {r.signal for r in summary if r.model_id == model.model_id}))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _summary_table(rows: list[SignalSummary]) -> str:
    if not rows:
        return "<h2>Summary</h2><p class=ok>No signal raised an alert.</p>"
    body = "".join(
        f"<tr class={'drift' if r.drifts else 'warning'}><td>{html.escape(r.model_id)}</td>"
        f"<td><a href='#{_anchor(r.model_id, r.signal)}'>{html.escape(r.signal)}</a></td><td>{r.kind}</td>"
        f"<td>{r.drifts}</td><td>{r.warnings}</td>"
        f"<td>{'' if r.first_drift_ts is None else utc_text(r.first_drift_ts)}</td>"
        f"<td>{'' if r.max_psi is None else f'{r.max_psi:.3f}'}</td></tr>" for r in rows)
    return ("<h2>Summary</h2><table class=summary><thead><tr><th>model</th><th>signal</th><th>kind</th>"
            "<th>drift alerts</th><th>warnings</th><th>first drift</th><th>largest PSI</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _model_section(model: ModelHistory, alerted: set[str]) -> str:
    markers = _markers(model)
    parts = [f"<section class=model><h2>Model {html.escape(model.model_id)}</h2>",
             f"<p class=meta>{len(model.alerts)} alerts, {len(model.requests)} retrain requests, "
             f"{len(model.deployments)} deployments</p>"]
    span = model.span()
    if model.performance:
        parts.append(_performance(model.performance, markers, span))
    system = [a for a in model.alerts if a.kind == "system"]
    if system:
        items = "".join(f"<li>{utc_text(a.ts)} {html.escape(a.signal)}/{html.escape(a.detector)}: "
                        f"{html.escape(a.detail or '')}</li>" for a in system[:50])
        parts.append(f"<details><summary>{len(system)} system alerts</summary><ul>{items}</ul></details>")
    folded = [s for s in model.signals() if s not in alerted]
    for signal in [s for s in model.signals() if s in alerted]:
        parts.append(_signal(model, signal, markers, span, open_=True))
    if folded:
        parts.append(f"<details class=quiet><summary>{len(folded)} signals without alerts</summary>")
        parts += [_signal(model, s, markers, span, open_=False) for s in folded]
        parts.append("</details>")
    parts.append("</section>")
    return "\n".join(parts)


def _signal(model: ModelHistory, signal: str, markers: list["_Marker"], span: tuple[float, float], *,
            open_: bool) -> str:
    windows = [w for w in model.windows if w.signal == signal]
    alerts = [a for a in model.alerts if a.signal == signal and a.kind != "system"]
    marks = markers + [_Marker(a.ts, "drift" if a.severity == Severity.DRIFT else "warning",
                               f"{a.severity.value} {a.detector} at {utc_text(a.ts)}") for a in alerts]
    label = f"{signal} ({len(alerts)} alerts)" if alerts else signal
    charts = ""
    if windows:
        charts = (_chart([(w.to_ts, w.mean) for w in windows], marks, "window mean", span)
                  + _chart([(w.to_ts, w.psi) for w in windows], marks, "PSI against the reference", span))
    elif alerts:
        charts = _chart([], marks, "alerts (this signal keeps no windows: categories, missing values, a test "
                        "without windows)", span)
    listed = "".join(f"<li>{utc_text(a.ts)} {a.severity.value} {html.escape(a.detector)} at event {a.event_index}"
                     f"</li>" for a in alerts[:20])
    return (f"<details class=signal id='{_anchor(model.model_id, signal)}'{' open' if open_ else ''}>"
            f"<summary>{html.escape(label)}</summary>{charts}{'<ul>' + listed + '</ul>' if listed else ''}</details>")


def _performance(windows: list[PerformanceWindow], markers: list["_Marker"], span: tuple[float, float]) -> str:
    later = [w for w in windows if not w.reference]
    reference = next((w for w in windows if w.reference), None)
    marks = markers + [_Marker(w.to_ts, "drop", f"drop: {w.metric} {w.value:.3f}") for w in later if w.drop]
    metric = windows[-1].metric
    lines = _chart([(w.to_ts, w.value) for w in windows], marks, f"performance: {metric} per window", span)
    if any(w.accuracy is not None for w in windows):
        lines += _chart([(w.to_ts, w.accuracy or 0.0) for w in windows], marks, "accuracy per window", span)
    baseline = "" if reference is None else f" (reference {metric} {reference.value:.3f})"
    return (f"<div class=performance><h3>Performance{baseline}</h3>{lines}"
            f"<p class=meta>{len(later)} windows, {sum(1 for w in later if w.drop)} drops</p></div>")


@dataclass(frozen=True)
class _Marker:
    ts: float
    kind: str  # drift, warning, request, deployment
    title: str


def _markers(model: ModelHistory) -> list[_Marker]:
    return ([_Marker(r.window.to_ts, "request", f"retrain request {r.request_id}") for r in model.requests]
            + [_Marker(d.ts, "deployment", f"deployed version {d.model_version}") for d in model.deployments])


def _chart(points: list[tuple[float, float]], markers: Iterable[_Marker], caption: str,
           span: tuple[float, float]) -> str:
    points = _thin(sorted(points))
    low_x, high_x = span
    ys = [p[1] for p in points] or [0.0]
    low_y, high_y = min(ys), max(ys)
    span_x, span_y = (high_x - low_x) or 1.0, (high_y - low_y) or 1.0

    def x(ts: float) -> float:
        return 4 + (ts - low_x) / span_x * (WIDTH - 8)

    def y(value: float) -> float:
        return HEIGHT - 4 - (value - low_y) / span_y * (HEIGHT - 8)

    line = f"<polyline points='{' '.join(f'{x(t):.1f},{y(v):.1f}' for t, v in points)}'/>" if points else ""
    marks = "".join(f"<line class={m.kind} x1={x(m.ts):.1f} x2={x(m.ts):.1f} y1=0 y2={HEIGHT}>"
                    f"<title>{html.escape(m.title)}</title></line>"
                    for m in markers if low_x <= m.ts <= high_x)
    values = f"{low_y:.4g} to {high_y:.4g}, " if points else ""
    return (f"<figure><svg viewBox='0 0 {WIDTH} {HEIGHT}' width={WIDTH} height={HEIGHT} role=img>"
            f"{line}{marks}</svg><figcaption>{html.escape(caption)}: {values}"
            f"{utc_text(low_x)} to {utc_text(high_x)}</figcaption></figure>")


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_POINTS:
        return points
    step = len(points) / MAX_POINTS
    return [points[int(i * step)] for i in range(MAX_POINTS)] + [points[-1]]


def _anchor(model_id: str, signal: str) -> str:
    return "s-" + "".join(c if c.isalnum() else "-" for c in f"{model_id}-{signal}")



_HEAD = """<!doctype html><html lang=en><head><meta charset=utf-8><link rel=icon href="data:,"><title>{title}</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}}
h1{{font-size:22px}} h2{{font-size:18px;margin-top:28px}} h3{{font-size:15px}}
.meta{{color:#666}} .ok{{color:#2a7}}
table.summary{{border-collapse:collapse}} table.summary td,table.summary th{{border:1px solid #ddd;padding:3px 8px}}
tr.drift td:first-child{{border-left:4px solid #d33}} tr.warning td:first-child{{border-left:4px solid #e93}}
details{{margin:6px 0}} summary{{cursor:pointer;font-weight:600}} details.quiet>summary{{color:#666}}
figure{{margin:4px 0 10px}} figcaption{{color:#666;font-size:12px}}
svg{{background:#fafafa;border:1px solid #eee}} polyline{{fill:none;stroke:#36c;stroke-width:1.5}}
line.drift{{stroke:#d33;stroke-width:2}} line.warning{{stroke:#e93;stroke-width:1;stroke-dasharray:3 2}}
line.drop{{stroke:#d33;stroke-width:1;opacity:.5}} line.request{{stroke:#939;stroke-width:1;stroke-dasharray:1 3}}
line.deployment{{stroke:#2a7;stroke-width:2;stroke-dasharray:6 3}}
</style></head><body>"""
