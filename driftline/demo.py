"""`driftline demo`: the whole loop, live, on real services.

A live service (a river HoeffdingTree pretrained on Agrawal's concept 0) logs every prediction with
its label through the producer SDK. Half-way, the concept changes (Agrawal function 0 -> 4), so the
error rate jumps. The worker's error detector (a rate CUSUM against the reference error rate)
raises a drift alert and a retrain request. The reference trainer reads the labelled examples of
the new regime from Kafka and puts each candidate through the validation gate: its first attempt
is hasty (it trains on the first few hundred examples it finds) and the gate rejects it for having
too few; the drift persists, so after the retrain cooldown the worker asks again, the trainer
takes enough data, and the gate promotes that candidate, which beats the serving version on the
held-out slice. The worker resets that model's detectors, and the service swaps models when the
deployment arrives. Every piece is the one a user would run: `driftline worker` as a child
process, the SDK's Subscriber and Trainer, and the reference trainer's validated training.
"""

import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from driftline.reference_trainer import RiverLearner, default_model
from driftline.sdk import (
    DriftAlert,
    EventProducer,
    FileRegistry,
    GateConfig,
    ModelDeployed,
    ModelRejected,
    ProducerConfig,
    RejectedModel,
    RetrainRequest,
    Subscriber,
    TrainedModel,
    Trainer,
    ValidatedTraining,
)
from driftline.settings import Settings
from driftline.worker_process import WorkerProcess

Say = Callable[[str], None]


class DemoPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pretrain_events: int = Field(default=2_000, ge=100)
    drift_at: int = Field(default=3_000, ge=500, description="live event index where the concept changes")
    events_after_retrain: int = Field(default=3_000, ge=500)
    max_events: int = Field(default=30_000, ge=2_000, description="give up if no deployment arrives by then")
    rate: float = Field(default=1_000.0, gt=0, description="events per second the service sends")
    train_examples: int = Field(default=1_000, ge=100)
    hasty_examples: int = Field(default=200, ge=10, description="the first attempt's training examples: too few")
    validation_examples: int = Field(default=500, ge=50)
    cooldown_seconds: float = Field(default=5.0, ge=0, description="retrain cooldown: when the worker asks again")
    seed: int = 7


@dataclass
class Phase:
    name: str
    first: int
    correct: int = 0
    seen: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.seen if self.seen else float("nan")

    @property
    def last(self) -> int:
        return self.first + self.seen - 1


@dataclass
class Timeline:
    """What the service saw, per live event, for the summary and the plot."""

    errors: list[int] = field(default_factory=list)
    drift_at: int = 0
    swapped_at: int | None = None
    alerts: list[DriftAlert] = field(default_factory=list)
    requests: list[RetrainRequest] = field(default_factory=list)
    rejections: list[ModelRejected] = field(default_factory=list)
    deployments: list[ModelDeployed] = field(default_factory=list)


@dataclass
class DemoReport:
    model_id: str
    phases: list[Phase]
    timeline: Timeline
    worker_generation: int | None
    worker_version: str | None
    plot: Path | None
    seconds: float

    @property
    def loop_closed(self) -> bool:
        drift = any(a.severity == "drift" for a in self.timeline.alerts)
        return (drift and bool(self.timeline.requests) and bool(self.timeline.deployments)
                and self.timeline.swapped_at is not None and (self.worker_generation or 0) >= 1)


class Watcher:
    """Prints alerts, retrain requests and deployments of the demo model as they arrive."""

    def __init__(self, settings: Settings, model_id: str, timeline: Timeline, say: Say) -> None:
        self.model_id, self.timeline, self.say = model_id, timeline, say
        self.deployed: queue.Queue[ModelDeployed] = queue.Queue()
        self.stopped = threading.Event()
        self.subscriber = Subscriber(settings, group_id=f"driftline-demo-{uuid.uuid4().hex[:8]}",
                                     streams=("alerts", "retrain", "deployments", "rejections"),
                                     from_beginning=True)
        self.thread = threading.Thread(target=self._run, name="demo-watcher", daemon=True)

    def start(self) -> "Watcher":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)
        self.subscriber.close()

    def _run(self) -> None:
        self.subscriber.run(self._handle, stop=self.stopped.is_set)

    def _handle(self, event: DriftAlert | RetrainRequest | ModelDeployed | ModelRejected) -> None:
        if event.model_id != self.model_id:
            return
        if isinstance(event, DriftAlert):
            self.timeline.alerts.append(event)
            self.say(f"  ALERT     {event.severity:<7} {event.signal} ({event.detector}) at event "
                     f"{event.event_index:,} of version {event.model_version}")
        elif isinstance(event, RetrainRequest):
            self.timeline.requests.append(event)
            self.say(f"  RETRAIN   request {event.request_id} for version {event.model_version} "
                     f"({len(event.reasons)} alert(s); data since the drift began)")
        elif isinstance(event, ModelRejected):
            self.timeline.rejections.append(event)
            self.say(f"  REJECTED  candidate {event.candidate_version} (request {event.request_id}): {event.reason}")
        else:
            self.timeline.deployments.append(event)
            checked = event.lineage.validation if event.lineage is not None else None
            scores = "" if checked is None else (
                f": {checked.metric} {checked.candidate_score:.3f} against the serving version's "
                f"{checked.serving_score if checked.serving_score is None else round(checked.serving_score, 3)} "
                f"on {checked.slice_size} held-out examples")
            self.say(f"  DEPLOYED  version {event.model_version} (request {event.request_id}){scores}")
            self.deployed.put(event)


class LiveService:
    """The model being monitored: predicts, logs prediction+label, swaps versions on deployment."""

    def __init__(self, model_id: str, model: Any, producer: EventProducer, models: FileRegistry) -> None:
        self.model_id, self.model, self.producer, self.models = model_id, model, producer, models
        self.version = "1"

    def serve(self, index: int, features: dict[str, Any], label: int) -> int:
        predicted = self.model.predict_one(features)
        predicted = 0 if predicted is None else int(predicted)
        self.producer.log_prediction(self.model_id, self.version, features, prediction=predicted, label=label,
                                     event_id=f"{self.model_id}-{index}")
        return int(predicted != label)

    def deploy(self, deployed: ModelDeployed) -> None:
        self.model = self.models.load(self.model_id, deployed.model_version)
        self.version = deployed.model_version


class DemoTraining:
    """The reference trainer's validated training, hasty on its first request: it trains on the first
    `hasty_examples` examples it finds, fewer than the gate's minimum, so the gate rejects that
    candidate. Every later request takes `train_examples`."""

    def __init__(self, settings: Settings, models: FileRegistry, plan: DemoPlan) -> None:
        gate = GateConfig(metric="accuracy", validation_examples=plan.validation_examples,
                          min_training_examples=plan.train_examples // 2)
        self.hasty = ValidatedTraining(RiverLearner(), models, gate, settings=settings,
                                       training_examples=plan.hasty_examples,
                                       max_wait_seconds=60)
        self.patient = ValidatedTraining(RiverLearner(), models, gate, settings=settings,
                                         training_examples=plan.train_examples, max_wait_seconds=60)
        self.attempts = 0

    def train(self, request: RetrainRequest) -> TrainedModel | RejectedModel:
        self.attempts += 1
        return (self.hasty if self.attempts == 1 else self.patient).train(request)


def drifting_stream(plan: DemoPlan) -> Any:
    from river.datasets import synth

    return synth.ConceptDriftStream(
        stream=synth.Agrawal(classification_function=0, seed=plan.seed),
        drift_stream=synth.Agrawal(classification_function=4, seed=plan.seed),
        position=plan.pretrain_events + plan.drift_at, width=50, seed=plan.seed)


def run_demo(settings: Settings, out_dir: Path, plan: DemoPlan | None = None, say: Say = print) -> DemoReport:
    plan = plan or DemoPlan()
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    model_id = f"demo-agrawal-{uuid.uuid4().hex[:6]}"
    timeline = Timeline(drift_at=plan.drift_at)
    models = FileRegistry(out_dir / "models")
    config = out_dir / "monitoring.toml"  # the calibrated defaults, with a short retrain cooldown
    config.write_text(f"[defaults]\npreset = \"calibrated\"\n\n[defaults.retrain]\n"
                      f"cooldown_seconds = {plan.cooldown_seconds}\n")
    settings = settings.model_copy(update={"config": config})

    say(f"starting `driftline worker` (log: {out_dir / 'worker.log'}) ...")
    worker = WorkerProcess(settings, out_dir / "worker.log").start()
    say(f"worker ready after {time.monotonic() - started:.1f}s")
    training = DemoTraining(settings, models, plan)
    trainer = Trainer(training.train, settings, group_id=f"driftline-demo-trainer-{uuid.uuid4().hex[:8]}",
                      model_ids={model_id}, rollback=training.patient.rollback)
    trainer_stop = threading.Event()
    trainer_thread = threading.Thread(target=trainer.run, kwargs={"stop": trainer_stop.is_set},
                                      name="demo-trainer", daemon=True)
    trainer_thread.start()
    watcher = Watcher(settings, model_id, timeline, say).start()
    producer = EventProducer(settings, ProducerConfig(batch_size=200, linger_seconds=0.05, when_full="block"))
    try:
        stream = iter(drifting_stream(plan))
        model = default_model()
        for _ in range(plan.pretrain_events):
            x, y = next(stream)
            model.learn_one(x, y)
        models.save(model_id, "1", model)
        say(f"model {model_id}: HoeffdingTree pretrained on {plan.pretrain_events:,} events of Agrawal concept 0"
            " = version 1")
        say(f"streaming at {plan.rate:,.0f} events/s; the concept changes (Agrawal 0 -> 4) at event {plan.drift_at:,}")
        service = LiveService(model_id, model, producer, models)
        phases = _stream(plan, stream, service, watcher, timeline, say)
        producer.flush()
        generation, version = _wait_for_reset(settings, model_id, timeline)
    finally:
        producer.close()
        trainer_stop.set()
        trainer_thread.join(10)
        watcher.stop()
        trainer.close()
        worker.stop()
    plot = _plot(timeline, out_dir / "drift_timeline.png", model_id, say)
    return DemoReport(model_id=model_id, phases=phases, timeline=timeline, worker_generation=generation,
                      worker_version=version, plot=plot, seconds=time.monotonic() - started)


def _stream(plan: DemoPlan, stream: Any, service: LiveService, watcher: Watcher, timeline: Timeline,
            say: Say) -> list[Phase]:
    phases = [Phase("before drift", 0)]
    interval = 1.0 / plan.rate
    clock = time.monotonic()
    for index in range(plan.max_events):
        if index == plan.drift_at:
            phases.append(Phase("after drift", index))
        try:
            deployed = watcher.deployed.get_nowait()
        except queue.Empty:
            deployed = None
        if deployed is not None and timeline.swapped_at is None:
            service.deploy(deployed)
            timeline.swapped_at = index
            phases.append(Phase("after retraining", index))
            say(f"  SERVICE   now predicts with version {deployed.model_version} from event {index:,}")
        x, y = next(stream)
        error = service.serve(index, x, y)
        timeline.errors.append(error)
        phases[-1].seen += 1
        phases[-1].correct += 1 - error
        if (index + 1) % 1_000 == 0:
            recent = timeline.errors[-500:]
            say(f"  [{index + 1:>6,} events] accuracy of the last 500: {1 - sum(recent) / len(recent):.2f}"
                f"  (version {service.version})")
        if timeline.swapped_at is not None and index + 1 - timeline.swapped_at >= plan.events_after_retrain:
            break
        clock += interval
        delay = clock - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    if timeline.swapped_at is None:
        say(f"no deployment arrived within {plan.max_events:,} events")
    return phases


def _wait_for_reset(settings: Settings, model_id: str, timeline: Timeline,
                    timeout: float = 30.0) -> tuple[int | None, str | None]:
    """The worker's own view: the deployment reset the model's detectors (generation >= 1)."""
    from driftline.status import model_statuses

    if not timeline.deployments:
        return None, None
    deadline = time.monotonic() + timeout
    while True:
        statuses = list(model_statuses(settings, model_id))
        status = statuses[0] if statuses else None
        if status is not None and status.resets is not None and status.resets >= 1:
            return status.resets, status.model_version
        if time.monotonic() > deadline:
            return (status.resets, status.model_version) if status else (None, None)
        time.sleep(0.2)


def _plot(timeline: Timeline, path: Path, model_id: str, say: Say) -> Path | None:
    try:
        from driftline.demo_plot import plot_timeline
    except ImportError:
        say("matplotlib is not installed (pip install 'driftline[demo]'): no timeline plot")
        return None
    prefix = f"{model_id}-"

    def position(alert: DriftAlert) -> int | None:
        suffix = alert.event_id.removeprefix(prefix)
        return int(suffix) if suffix.isdigit() else None

    plot_timeline(timeline.errors, timeline.alerts, position, drift_at=timeline.drift_at,
                  swapped_at=timeline.swapped_at, title=f"{model_id}: error rate and drift alerts", path=path)
    return path


def summary(report: DemoReport) -> str:
    t = report.timeline
    lines = ["", "summary"]
    for phase in report.phases:
        lines.append(f"  accuracy {phase.name:<17} {phase.accuracy:.2f}   (events {phase.first:,}-{phase.last:,})")
    drift = sum(1 for a in t.alerts if a.severity == "drift")
    lines.append(f"  alerts {len(t.alerts)} ({drift} drift), retrain requests {len(t.requests)}, "
                 f"candidates rejected {len(t.rejections)}, deployments {len(t.deployments)}")
    if report.worker_generation is not None:
        lines.append(f"  worker state: {report.model_id} version {report.worker_version}, "
                     f"detectors reset {report.worker_generation} time(s)")
    if report.plot is not None:
        lines.append(f"  drift timeline plot: {report.plot}")
    verdict = "the loop closed: drift -> alert -> retrain -> deployment -> reset" if report.loop_closed \
        else "the loop did NOT close (see above)"
    lines.append(f"  {verdict} in {report.seconds:.0f}s")
    return "\n".join(lines)
