"""`driftline worker`: create the topics, then run the Faust worker until SIGINT/SIGTERM."""

import logging

import faust

from agents.app import create_app
from detectors.config import load_config
from driftline.kafka_admin import ensure_topics
from driftline.logs import logging_config
from driftline.settings import Settings

log = logging.getLogger(__name__)


def run_worker(settings: Settings, *, loglevel: str = "info") -> None:
    config = load_config(settings.config)
    log.info("starting the worker with settings %s", settings.describe())
    if settings.uses_insecure_state_key:
        log.warning("DRIFTLINE_STATE_KEY is not set: snapshots are signed with the public development key")
    ensure_topics(settings, settings.topics.all(), partitions=settings.partitions)
    app = create_app(settings, config)
    level = logging.DEBUG if loglevel == "debug" else logging.INFO
    faust.Worker(app, loglevel=loglevel, quiet=True,
                 logging_config=logging_config(settings, level=level)).execute_from_commandline()
