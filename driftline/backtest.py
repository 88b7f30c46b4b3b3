"""`driftline backtest`: the live monitor, offline, over an event file. No Kafka, no Redis."""

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from detectors.config import MonitoringConfig
from detectors.fleet import InMemoryLabelBuffer, MonitorFleet
from detectors.monitor import Clock
from detectors.performance import PerformanceWindow
from detectors.windows import WindowStats
from driftline.event_files import BadRecord, count_records, read_events
from driftline.progress import Progress, is_terminal
from driftline.report import ModelHistory
from schemas.events import DriftAlert, InboundEvent, ModelDeployed, RetrainRequest, Severity
from schemas.lineage_log import DeploymentEntry


@dataclass
class BacktestResult:
    alerts: list[DriftAlert] = field(default_factory=list)
    retrain_requests: list[RetrainRequest] = field(default_factory=list)
    performance: list[PerformanceWindow] = field(default_factory=list)
    """Every closed performance window (the reference windows among them), as the worker keeps them in Redis."""
    windows: dict[str, list[WindowStats]] = field(default_factory=dict)
    """Per model, every closed signal window, where asked for (`keep_windows`: for a report)."""
    deployments: list[ModelDeployed] = field(default_factory=list)
    events: int = 0
    bad_records: list[BadRecord] = field(default_factory=list)
    early_labels: int = 0
    unknown_model_events: int = 0


CHUNK = 4_096
"""Events read before the monitors run: each model's share becomes one run of columns."""


def run_backtest(records: Iterable[InboundEvent | BadRecord], config: MonitoringConfig, *,
                 label_ttl_seconds: float = 86_400.0, clock: Clock | None = None,
                 keep_windows: bool = False) -> BacktestResult:
    """The live worker's fleet over a file, a chunk at a time; per model, events keep their order, and
    how the stream is cut does not change a model's alerts (detectors/monitor.py)."""
    fleet = MonitorFleet(config, InMemoryLabelBuffer(label_ttl_seconds), clock=clock)
    result = BacktestResult()
    chunk: dict[str, list[InboundEvent]] = {}
    held = 0
    for record in records:
        if isinstance(record, BadRecord):
            result.bad_records.append(record)
            continue
        result.events += 1
        if not config.knows(record.model_id):
            result.unknown_model_events += 1
            continue
        chunk.setdefault(record.model_id, []).append(record)
        held += 1
        if held == CHUNK:
            _run_chunk(fleet, chunk, result, keep_windows)
            chunk, held = {}, 0
    _run_chunk(fleet, chunk, result, keep_windows)
    result.early_labels = fleet.early_labels
    return result


def _run_chunk(fleet: MonitorFleet, chunk: dict[str, list[InboundEvent]], result: BacktestResult,
               keep_windows: bool) -> None:
    for model_id, events in chunk.items():
        out = fleet.handle_many(model_id, events)
        result.alerts += out.alerts
        result.retrain_requests += out.retrain_requests
        result.performance += out.performance
        result.deployments += [e.deployed for e in out.lineage if isinstance(e, DeploymentEntry)]
        if keep_windows and out.windows:
            result.windows.setdefault(model_id, []).extend(out.windows)


def histories(result: BacktestResult) -> list[ModelHistory]:
    """Each model's part of a backtest, as a report draws it."""
    ids = sorted({a.model_id for a in result.alerts} | set(result.windows) | {w.model_id for w in result.performance})
    return [ModelHistory(model_id, windows=result.windows.get(model_id, []),
                         performance=[w for w in result.performance if w.model_id == model_id],
                         alerts=[a for a in result.alerts if a.model_id == model_id],
                         requests=[r for r in result.retrain_requests if r.model_id == model_id],
                         deployments=[d for d in result.deployments if d.model_id == model_id]) for model_id in ids]


def backtest_file(path: Path | str, config: MonitoringConfig, *, progress: TextIO | None = None,
                  **kwargs: object) -> BacktestResult:
    """The backtest of a file; with `progress`, a terminal, it shows how far the read has come."""
    records: Iterable[InboundEvent | BadRecord] = read_events(path)
    if progress is not None and is_terminal(progress):  # counting a file's records costs a read of it
        records = _counted(records, Progress(count_records(path), "backtest", progress))
    return run_backtest(records, config, **kwargs)  # type: ignore[arg-type]


def _counted(records: Iterable[InboundEvent | BadRecord], progress: Progress) -> Iterator[InboundEvent | BadRecord]:
    done = 0
    for done, record in enumerate(records, start=1):
        if done % 1_024 == 0:
            progress.show(done)
        yield record
    progress.show(done, final=True)


def summary_table(result: BacktestResult) -> str:
    rows: Counter[tuple[str, str, str, str]] = Counter()
    first: dict[tuple[str, str, str, str], int] = {}
    for alert in result.alerts:
        key = (alert.model_id, alert.signal, alert.detector, alert.severity.value)
        rows[key] += 1
        first.setdefault(key, alert.event_index)
    header = ("model", "signal", "detector", "severity", "alerts", "first index")
    table = [header] + [(*key, str(count), str(first[key])) for key, count in sorted(rows.items())]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in table]
    drifts = sum(1 for a in result.alerts if a.severity == Severity.DRIFT)
    lines += _performance_lines(result.performance)
    lines.append("")
    lines.append(
        f"{result.events} events, {len(result.alerts)} alerts ({drifts} drift), "
        f"{len(result.retrain_requests)} retrain requests, {len(result.bad_records)} invalid records, "
        f"{result.early_labels} labels before their prediction, {result.unknown_model_events} events of unknown models"
    )
    return "\n".join(lines)


def _performance_lines(windows: list[PerformanceWindow]) -> list[str]:
    """Per model: how many performance windows closed, how many were drops, and the last one's metrics."""
    by_model: dict[str, list[PerformanceWindow]] = {}
    for window in windows:
        by_model.setdefault(window.model_id, []).append(window)
    lines = []
    for model_id, closed in sorted(by_model.items()):
        later = [w for w in closed if not w.reference]
        last = closed[-1]
        lines.append(f"performance {model_id}: {len(later)} windows after the reference, "
                     f"{sum(w.drop for w in later)} drops; last: {last.metrics_text()}")
    return ["", *lines] if lines else []
