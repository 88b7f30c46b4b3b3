"""Baseline (c): the Faust agent a newcomer would write. One event per Kafka message, river
detectors held in a dict in memory (no persistence, no batching, no dead letters), the same
detector updates per event as driftline's defaults (ADWIN per numeric feature, Page-Hinkley on the
prediction, DDM on the error; categories are skipped, as the defaults do).

Run as `python -m loadtests.naive_faust` with NAIVE_BROKER, NAIVE_TOPIC, NAIVE_EXPECT (events to
time), NAIVE_REDIS_URL and NAIVE_RESULT_KEY in the environment. Timing is taken inside the agent,
from the first event handled to the NAIVE_EXPECT-th, and written to Redis: measurement only.
"""

import json
import os
import tempfile
import time
from typing import Any

import faust
import redis
from river import drift

BROKER = os.environ["NAIVE_BROKER"]
TOPIC = os.environ["NAIVE_TOPIC"]
EXPECT = int(os.environ["NAIVE_EXPECT"])
RESULT_KEY = os.environ["NAIVE_RESULT_KEY"]
results = redis.Redis.from_url(os.environ["NAIVE_REDIS_URL"])

DATA_DIR = os.path.join(tempfile.gettempdir(), "driftline-naive", TOPIC)
os.makedirs(DATA_DIR, exist_ok=True)  # Faust creates only the last level
app = faust.App(f"naive-{TOPIC}".replace(".", "-"), broker=BROKER, broker_session_timeout=6.0,
                broker_heartbeat_interval=1.0, consumer_auto_offset_reset="earliest", value_serializer="raw",
                topic_disable_leader=True, store="memory://", web_enabled=False,
                datadir=DATA_DIR)
topic = app.topic(TOPIC, value_type=bytes)
models: dict[str, dict[str, Any]] = {}
progress = {"count": 0, "first": 0.0, "alerts": 0}


def detectors_for(features: dict[str, float | str]) -> dict[str, Any]:
    found: dict[str, Any] = {name: drift.ADWIN() for name, x in features.items()  # type: ignore[no-untyped-call]
                             if isinstance(x, float)}
    found["__prediction"] = drift.PageHinkley()  # type: ignore[no-untyped-call]
    found["__error"] = drift.binary.DDM()  # type: ignore[no-untyped-call]
    return found


@app.agent(topic)
async def monitor(stream: Any) -> None:
    async for value in stream:
        event = json.loads(value)
        detectors = models.get(event["model_id"])
        if detectors is None:
            detectors = models[event["model_id"]] = detectors_for(event["features"])
        for name, x in event["features"].items():
            if not isinstance(x, float):
                continue
            detectors[name].update(x)
            progress["alerts"] += detectors[name].drift_detected
        detectors["__prediction"].update(event["prediction"])
        detectors["__error"].update(int(event["prediction"] != event["label"]))
        progress["count"] += 1
        if progress["count"] == 1:
            progress["first"] = time.perf_counter()
        if progress["count"] == EXPECT:
            seconds = time.perf_counter() - progress["first"]
            results.set(RESULT_KEY, json.dumps({"events": EXPECT - 1, "seconds": seconds,
                                                "alerts": progress["alerts"]}))


if __name__ == "__main__":
    app.main()
