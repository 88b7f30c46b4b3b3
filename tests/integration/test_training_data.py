"""Training data from the real broker: read by event time with labels joined from the labels topic,
read again exactly from the recorded offsets, exported by the CLI, and a clear error where the
recorded records are not there."""

import json
import time
from pathlib import Path

import pytest

from driftline.cli import main as cli
from driftline.kafka_admin import ensure_topics
from driftline.sdk import DataGone, EventProducer, read_examples, reread
from driftline.settings import Settings
from schemas.lineage import OffsetRange

pytestmark = pytest.mark.integration


def test_examples_are_read_by_event_time_joined_with_labels_and_read_again_exactly(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    ensure_topics(settings, settings.topics.all(), partitions=settings.partitions)
    t0 = time.time() - 120
    with EventProducer(settings) as producer:
        for i in range(300):
            producer.log_prediction("m", "1", {"x": float(i)}, prediction="a", label="a" if i % 3 == 0 else None,
                                    event_id=f"e{i}", ts=t0 + i * 0.1)
            producer.log_prediction("other", "1", {"x": 1.0}, prediction="a", label="a", event_id=f"o{i}",
                                    ts=t0 + i * 0.1)
        for i in range(300):
            if i % 3 == 1:
                producer.log_label("m", f"e{i}", "b")  # labels arrive later, on their own topic

    found = read_examples(settings, "m", t0 + 10.0, t0 + 20.0)  # events 100..200
    assert [e.event_id for e in found.examples][:3] == ["e100", "e102", "e103"]
    assert len(found.examples) == 67 and {e.label for e in found.examples} == {"a", "b"}
    assert {r.topic for r in found.data.ranges if r.end > r.start} == {settings.topics.predictions,
                                                                       settings.topics.labels}
    with EventProducer(settings) as producer:  # later events, even inside the window, are not in the ranges
        producer.log_prediction("m", "1", {"x": 0.0}, prediction="a", label="a", event_id="late", ts=t0 + 15.0)
    again = reread(settings, "m", found.data)
    assert again.examples == found.examples and again.data.fingerprint == found.data.fingerprint
    assert len(read_examples(settings, "m", t0 + 10.0, t0 + 20.0).examples) == 68  # a new read sees it

    gone = found.data.model_copy(update={"ranges": [OffsetRange(topic=settings.topics.predictions, partition=0,
                                                                start=0, end=10_000_000)]})
    with pytest.raises(DataGone, match="no longer all there"):
        reread(settings, "m", gone, timeout=30)

    for name, value in {"DRIFTLINE_BROKER": settings.broker, "DRIFTLINE_REDIS_URL": settings.redis_url,
                        "DRIFTLINE_TOPIC_PREFIX": settings.topic_prefix,
                        "DRIFTLINE_KEY_PREFIX": settings.key_prefix}.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "window.jsonl"
    assert cli(["export", "--model", "m", "--from-ts", str(t0 + 10.0), "--to-ts", str(t0 + 20.0),
                "--out", str(out)]) == 0
    assert "68 labelled examples" in capsys.readouterr().err
    assert {json.loads(line)["model_id"] for line in out.read_text().splitlines()} == {"m"}
    assert cli(["export", "--model", "m", "--version", "9", "--out", str(out)]) == 2
    assert "no recorded training data for version 9" in capsys.readouterr().err
