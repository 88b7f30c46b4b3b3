"""DESIGN.md is the contract: every topic, event field, Redis key and command in the code is in it."""

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from agents.keys import RedisKeys
from driftline.cli import build_parser
from schemas.dead_letter import DeadLetter
from schemas.events import (
    DriftAlert,
    FeatureEvent,
    LabelEvent,
    ModelDeployed,
    ModelRejected,
    PredictionEvent,
    ReferenceStats,
    RetrainRequest,
)
from schemas.lineage import Lineage, OffsetRange, TrainingData, Validation
from schemas.topics import TopicCatalog

DESIGN = (Path(__file__).resolve().parents[2] / "DESIGN.md").read_text(encoding="utf-8")
MODELS: list[type[BaseModel]] = [PredictionEvent, FeatureEvent, LabelEvent, ModelDeployed, ModelRejected, DriftAlert,
                                 RetrainRequest, DeadLetter, ReferenceStats, Lineage, TrainingData, OffsetRange,
                                 Validation]


def row_of(name: str) -> str:
    rows = [line for line in DESIGN.splitlines() if line.startswith(f"| {name} |")]
    assert len(rows) == 1, f"DESIGN.md has no table row for {name}"
    return rows[0]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_of_every_event_and_record_is_in_its_row(model: type[BaseModel]) -> None:
    row = row_of(model.__name__)
    missing = [field for field in model.model_fields if f"`{field}`" not in row]
    assert not missing, f"DESIGN.md's {model.__name__} row lacks {missing}"


def test_every_topic_is_named() -> None:
    catalog = TopicCatalog(prefix="")
    for topic in catalog.all():
        assert f"`<p>{topic}`" in DESIGN or f"<p>{topic}" in DESIGN, topic


def test_every_redis_key_is_in_the_table() -> None:
    keys = RedisKeys("<k>")
    documented = set(re.findall(r"^\| `(<k>[^`]+)` \|", DESIGN, flags=re.MULTILINE))
    made = {keys.models, keys.stats, keys.progress, keys.layout, keys.monitor("<model>"), keys.outbox("<model>"),
            keys.pending("<model>", "<event_id>"), keys.early_label("<model>", "<event_id>"),
            keys.windows("<model>", "<signal>"), keys.performance("<model>"), keys.lineage("<model>")}
    assert made <= documented, made - documented


def test_every_command_is_in_the_cli_contract() -> None:
    _, commands = build_parser()
    for command in commands:
        assert f"| `driftline {command}" in DESIGN, command
