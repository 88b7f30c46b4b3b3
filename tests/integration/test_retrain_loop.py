"""The whole loop on the real broker, Redis and worker process:
drift -> alert -> retrain request -> trainer -> deployment -> that model's detectors reset."""

import threading
import uuid

import pytest

from driftline.sdk import EventProducer, Subscriber, TrainedModel, Trainer
from driftline.worker_process import WorkerProcess
from schemas import DriftAlert, ModelDeployed, RetrainRequest
from tests.live import monitor_state, wait_for_events, wait_until
from tests.streams import error_bits

pytestmark = pytest.mark.integration


def test_concept_drift_is_retrained_and_the_deployment_resets_the_detectors(live_worker: WorkerProcess,
                                                                             model_id: str) -> None:
    settings = live_worker.settings
    trained: list[RetrainRequest] = []

    def train(request: RetrainRequest) -> TrainedModel:
        trained.append(request)
        return TrainedModel(model_version=f"{request.model_version}-retrained")

    stop = threading.Event()
    trainer = Trainer(train, settings, group_id=f"trainer-{uuid.uuid4().hex}", model_ids={model_id})
    serving = threading.Thread(target=trainer.run, kwargs={"stop": stop.is_set}, daemon=True)
    serving.start()
    subscriber = Subscriber(settings, group_id=f"watch-{uuid.uuid4().hex}",
                            streams=("alerts", "retrain", "deployments"), from_beginning=True)
    try:
        with EventProducer(settings) as producer:  # the live service: error rate 0.5, then 0.7 from 1000
            for i, bit in enumerate(error_bits()):
                producer.log_prediction(model_id, "1", {}, prediction="a", label="b" if bit else "a",
                                        event_id=f"e{i}", ts=float(i))
        seen: list[DriftAlert | RetrainRequest | ModelDeployed] = []
        for event in subscriber.events(timeout=120):  # three topics: no order between them
            if event.model_id == model_id:
                seen.append(event)
            kinds = {type(e) for e in seen if not isinstance(e, DriftAlert) or e.severity == "drift"}
            if kinds == {DriftAlert, RetrainRequest, ModelDeployed}:
                break

        drift = [e for e in seen if isinstance(e, DriftAlert) and e.severity == "drift"]
        requests = [e for e in seen if isinstance(e, RetrainRequest)]
        deployments = [e for e in seen if isinstance(e, ModelDeployed)]
        assert drift[0].signal == "error" and 1_000 <= drift[0].event_index < 1_400
        assert {a.signal for a in drift} <= {"error", "performance"}  # a window closing after the change
        assert len(requests) == 1 and requests[0].reasons == [drift[0].alert_id]
        assert [r.request_id for r in trained] == [requests[0].request_id]
        assert [(d.model_version, d.request_id) for d in deployments] == [("1-retrained", requests[0].request_id)]

        wait_until(lambda: (state := monitor_state(settings, model_id)) is not None and state.generation == 1,
                   timeout=30, what="the worker applying the deployment")
        state = monitor_state(settings, model_id)
        assert state is not None
        assert (state.model_version, state.event_count, state.signals) == ("1-retrained", 0, [])

        # Events the old version sent while the switch happened are counted as stale, not monitored.
        with EventProducer(settings) as producer:
            for i in range(20):
                producer.log_prediction(model_id, "1", {}, prediction="a", label="b", event_id=f"late{i}")
            for i in range(30):
                producer.log_prediction(model_id, "1-retrained", {}, prediction="a", label="a", event_id=f"new{i}")
        assert wait_for_events(settings, model_id, 30).event_count == 30

        # A redelivered request is not trained again, and its re-announcement does not reset twice.
        again = trainer.handle(requests[0])
        assert again.model_version == "1-retrained" and len(trained) == 1
        with EventProducer(settings) as producer:  # same key, same partition: applied in this order
            producer.send(again)
            producer.log_deployment(model_id, "3", request_id="a-later-request")
        wait_until(lambda: (state := monitor_state(settings, model_id)) is not None and state.model_version == "3",
                   timeout=30, what="the later deployment")
        final = monitor_state(settings, model_id)
        assert final is not None and final.generation == 2  # 1 for the retrain, 1 for "3"; none for the repeat
    finally:
        stop.set()
        serving.join(10)
        trainer.close()
        subscriber.close()
