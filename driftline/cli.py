"""The `driftline` command line (DESIGN.md, "CLI contract")."""

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from driftline.logs import configure_logging, mask_url
from driftline.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]


def _add_connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", help="Kafka URL (env DRIFTLINE_BROKER)")
    parser.add_argument("--redis-url", help="Redis URL (env DRIFTLINE_REDIS_URL)")
    parser.add_argument("--config", help="monitoring config, TOML or YAML (env DRIFTLINE_CONFIG)")
    parser.add_argument("--topic-prefix", help="topic prefix (env DRIFTLINE_TOPIC_PREFIX)")


def _settings_from(args: argparse.Namespace) -> Settings:
    return Settings().with_overrides(
        broker=getattr(args, "broker", None),
        redis_url=getattr(args, "redis_url", None),
        config=getattr(args, "config", None),
        topic_prefix=getattr(args, "topic_prefix", None),
    )


def _wait_for_stop_signal() -> None:
    stop = threading.Event()

    def _handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    stop.wait()


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from driftline.embedded import EmbeddedBroker, EmbeddedRedis
    from driftline.kafka_admin import ensure_topics

    with EmbeddedBroker(port=args.broker_port) as broker, EmbeddedRedis(settings.redis_url) as store:
        ensure_topics(settings.with_overrides(broker=broker.url), settings.topics.all(), partitions=args.partitions)
        origin = "started valkey-server" if store.owned else "existing server"
        print(f"broker  {broker.url}   (Tansu, in-memory; DRIFTLINE_BROKER={broker.url})", flush=True)
        shown = mask_url(store.url)
        print(f"redis   {shown}   ({origin}; DRIFTLINE_REDIS_URL={shown})", flush=True)
        print("topics  " + " ".join(settings.topics.all()), flush=True)
        print("Ctrl-C or SIGTERM stops both.", flush=True)
        _wait_for_stop_signal()
    print("stopped", flush=True)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    import contextlib
    import os
    import uuid

    from driftline.demo import DemoPlan, run_demo, summary
    from driftline.embedded import EmbeddedBroker, EmbeddedRedis
    from driftline.kafka_admin import ensure_topics

    configured = bool(args.broker or os.environ.get("DRIFTLINE_BROKER"))
    with contextlib.ExitStack() as stack:
        if configured:
            live = settings
        else:
            broker = stack.enter_context(EmbeddedBroker())
            store = stack.enter_context(EmbeddedRedis(settings.redis_url))
            # A fresh broker restarts offsets at 0; Redis may be a shared server: own key space, removed after.
            live = settings.with_overrides(broker=broker.url, redis_url=store.url)
            live = live.model_copy(update={"key_prefix": f"driftline-demo-{uuid.uuid4().hex[:6]}:",
                                           "kafka_session_timeout_seconds": 6.0})
            stack.callback(_delete_keys, live)
            print(f"embedded broker {broker.url} (Tansu), redis {mask_url(store.url)}", flush=True)
        ensure_topics(live, live.topics.all(), partitions=live.partitions)
        plan = DemoPlan(rate=args.rate)
        report = run_demo(live, Path(args.out), plan, say=lambda line: print(line, flush=True))
        print(summary(report), flush=True)
    return 0 if report.loop_closed else 1


def _delete_keys(settings: Settings) -> None:
    from driftline.redis_connect import sync_client

    client = sync_client(settings)
    try:
        keys = list(client.scan_iter(match=f"{settings.key_prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def cmd_backtest(args: argparse.Namespace, settings: Settings) -> int:
    from detectors.config import ConfigError, load_config
    from detectors.warmup import warm_up
    from driftline.backtest import backtest_file, summary_table
    from driftline.gc_tuning import tune_for_batches

    try:
        config = load_config(settings.config)
        warm_up(config, lambda line: print(f"driftline backtest: {line}", file=sys.stderr, flush=True))
        tune_for_batches()
        result = backtest_file(args.file, config, label_ttl_seconds=settings.label_ttl_seconds, progress=sys.stderr,
                               keep_windows=bool(args.report))
    except (ConfigError, ValueError, OSError) as exc:
        print(f"driftline backtest: {exc}", file=sys.stderr)
        return 2
    lines = [alert.model_dump_json() for alert in result.alerts]
    if args.out:
        Path(args.out).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        report = sys.stdout
    else:
        for line in lines:
            print(line)
        report = sys.stderr
    if args.performance_out:
        Path(args.performance_out).write_text("".join(w.model_dump_json() + "\n" for w in result.performance),
                                              encoding="utf-8")
    if args.report:
        from driftline.backtest import histories
        from driftline.report import render

        Path(args.report).write_text(render(histories(result), title=f"driftline backtest of {Path(args.file).name}"),
                                     encoding="utf-8")
    for bad in result.bad_records[:10]:
        print(f"invalid record {bad.location}: {bad.reason}", file=sys.stderr)
    print(summary_table(result), file=report)
    if args.out:
        print(f"alerts written to {args.out}", file=report)
    if args.performance_out:
        print(f"{len(result.performance)} performance windows written to {args.performance_out}", file=report)
    if args.report:
        print(f"report written to {args.report} ({Path(args.report).stat().st_size:,} bytes)", file=report)
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from confluent_kafka import KafkaException

    from driftline.kafka_admin import ensure_topics
    from driftline.replay import replay_file

    try:
        ensure_topics(settings, settings.topics.inbound(), partitions=settings.partitions, timeout=10)
        result = replay_file(args.file, settings, speed=args.speed, rate=args.rate)
    except (ValueError, OSError, RuntimeError, KafkaException) as exc:
        print(f"driftline replay: {exc}", file=sys.stderr)
        return 2
    for bad in result.invalid[:10]:
        print(f"invalid record {bad.location}: {bad.reason}", file=sys.stderr)
    print(f"sent {result.sent} events, failed {result.failed}, invalid records {len(result.invalid)} "
          f"in {result.seconds:.1f}s", file=sys.stderr)
    return 0 if result.complete else 1


def cmd_reference(args: argparse.Namespace, settings: Settings) -> int:
    from confluent_kafka import KafkaException

    from detectors.config import ConfigError, load_config
    from driftline.kafka_admin import ensure_topics
    from driftline.reference_set import reference_from_file, reference_from_kafka, send_reference

    try:
        policy = load_config(settings.config).policy_for(args.model)
        if (args.file is None) == (args.from_ts is None or args.to_ts is None):
            raise ValueError("give either FILE or both --from-ts and --to-ts")
        if args.file is not None:
            given = reference_from_file(args.file, args.model, model_version=args.version,
                                        error_threshold=policy.error_threshold)
        else:
            given = reference_from_kafka(settings, args.model, args.from_ts, args.to_ts, model_version=args.version,
                                         error_threshold=policy.error_threshold)
        print(f"reference of {given.model_id} version {given.model_version}: {given.events} events"
              + (f", {given.invalid} invalid records skipped" if given.invalid else ""), file=sys.stderr)
        for line in given.describe():
            print(line, file=sys.stderr)
        ensure_topics(settings, [settings.topics.deployments], partitions=settings.partitions, timeout=10)
        send_reference(settings, given)
    except (ConfigError, ValueError, OSError, RuntimeError, KafkaException) as exc:
        print(f"driftline reference: {exc}", file=sys.stderr)
        return 2
    print(f"sent to {settings.topics.deployments}: {given.model_id} restarts its detectors on this reference",
          file=sys.stderr)
    return 0


def cmd_lineage(args: argparse.Namespace, settings: Settings) -> int:
    import redis

    from driftline.lineage import as_json, read_lineage, render

    try:
        lineage = read_lineage(settings, args.model)
    except redis.RedisError as exc:
        print(f"driftline lineage: cannot read {mask_url(settings.redis_url)}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2
    print(as_json(lineage) if args.json else render(lineage))
    return 0 if lineage.entries or lineage.current is not None else 1


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    import redis

    from driftline.export import training_set_of, write_examples
    from driftline.training_data import DataGone

    try:
        found = training_set_of(settings, args.model, version=args.version, from_ts=args.from_ts, to_ts=args.to_ts)
        write_examples(found, args.out)
    except (ValueError, OSError, DataGone, TimeoutError, redis.RedisError) as exc:
        print(f"driftline export: {exc}", file=sys.stderr)
        return 2
    print(f"{len(found.examples)} labelled examples of {args.model} written to {args.out}; "
          f"fingerprint {found.data.fingerprint}", file=sys.stderr)
    return 0


def cmd_notify(args: argparse.Namespace, settings: Settings) -> int:
    from driftline.notify import Notifier
    from schemas.events import Severity

    if not args.webhook.startswith(("http://", "https://")):
        print(f"driftline notify: --webhook must be an http:// or https:// URL, not {args.webhook!r}", file=sys.stderr)
        return 2
    notifier = Notifier(settings, args.webhook, format=args.format, streams=args.streams, group_id=args.group_id,
                        min_severity=Severity(args.min_severity), from_beginning=args.from_beginning)
    try:
        stats = notifier.run(timeout=args.timeout)
    except KeyboardInterrupt:
        stats = notifier.stats
    finally:
        notifier.close()
    print(f"posted {stats.posted}, retried {stats.retries}, skipped {stats.skipped}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    import redis
    from confluent_kafka import KafkaException

    from driftline.model_history import alerts_from_kafka, history_from_redis
    from driftline.report import render

    try:
        history = history_from_redis(settings, args.model)
        history.alerts = alerts_from_kafka(settings, {args.model}, timeout=args.timeout)
    except (redis.RedisError, KafkaException, TimeoutError) as exc:
        print(f"driftline report: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if not (history.windows or history.alerts or history.performance):
        print(f"driftline report: nothing recorded of {args.model} (no windows in Redis, no alerts in "
              f"{settings.topics.alerts})", file=sys.stderr)
        return 1
    Path(args.out).write_text(render([history], title=f"driftline: {args.model}"), encoding="utf-8")
    print(f"report of {args.model} written to {args.out} ({Path(args.out).stat().st_size:,} bytes): "
          f"{len(history.windows)} windows, {len(history.alerts)} alerts", file=sys.stderr)
    return 0


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    from driftline.dashboard import DashboardServer

    server = DashboardServer(settings, host=args.host, port=args.port)
    print(f"driftline dashboard on {server.url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from detectors.config import ConfigError
    from driftline.worker import run_worker

    try:
        run_worker(settings.with_overrides(web_port=args.web_port), loglevel="debug" if args.verbose else "info")
    except ConfigError as exc:
        print(f"driftline worker: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    import redis

    from driftline.status import model_statuses, render

    try:
        statuses = list(model_statuses(settings, args.model))
    except redis.RedisError as exc:
        print(f"driftline status: cannot read {mask_url(settings.redis_url)}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2
    if args.json:
        for status in statuses:
            print(status.model_dump_json())
    else:
        print(render(statuses))
    return 1 if args.model and statuses and statuses[0].error else 0


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    from driftline.tail import tail

    topics = settings.topics
    topic = {"alerts": topics.alerts, "retrain": topics.retrain, "deployments": topics.deployments,
             "rejections": topics.rejections, "dlq": topics.dlq}[args.what]
    try:
        for line in tail(settings, topic, from_beginning=args.from_beginning, max_messages=args.max,
                         timeout=args.timeout):
            print(line, flush=True)
    except ValueError as exc:
        print(f"driftline tail: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = argparse.ArgumentParser(prog="driftline", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, Command] = {}

    up = sub.add_parser("up", help="run the embedded broker (Tansu) and Redis in the foreground")
    up.add_argument("--broker-port", type=int, default=9092, help="port of the embedded broker (default 9092)")
    up.add_argument("--partitions", type=int, default=4, help="partitions of the topics it creates")
    up.add_argument("--redis-url", help="use this Redis if it answers, else start valkey-server")
    up.add_argument("--topic-prefix", help="topic prefix (env DRIFTLINE_TOPIC_PREFIX)")
    commands["up"] = cmd_up

    demo = sub.add_parser("demo", help="run the whole loop on the embedded default")
    _add_connection_flags(demo)
    demo.add_argument("--out", default="driftline-demo", help="directory for the plot, models and worker log")
    demo.add_argument("--rate", type=float, default=1_000.0, help="events per second the demo service sends")
    commands["demo"] = cmd_demo
    worker = sub.add_parser("worker", help="run the Faust worker that monitors the inbound topics")
    _add_connection_flags(worker)
    worker.add_argument("--web-port", type=int, help="HTTP port for /health (0 disables; env DRIFTLINE_WEB_PORT)")
    commands["worker"] = cmd_worker

    status = sub.add_parser("status", help="per-model, per-signal detector state from Redis")
    status.add_argument("model", nargs="?", help="one model (default: all)")
    status.add_argument("--json", action="store_true", help="one JSON object per model")
    status.add_argument("--redis-url", help="Redis URL (env DRIFTLINE_REDIS_URL)")
    commands["status"] = cmd_status

    tail = sub.add_parser("tail", help="print alerts, retrain requests, deployments, rejected candidates or dead "
                          "letters as JSON lines")
    tail.add_argument("what", choices=["alerts", "retrain", "deployments", "rejections", "dlq"])
    _add_connection_flags(tail)
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest message, not the newest")
    tail.add_argument("--max", type=int, help="stop after this many messages")
    tail.add_argument("--timeout", type=float, help="stop after this many seconds")
    commands["tail"] = cmd_tail

    backtest = sub.add_parser("backtest", help="run the monitor offline over a JSONL, CSV or Parquet file")
    backtest.add_argument("file", help="events, in stream order")
    backtest.add_argument("--config", help="monitoring config, TOML or YAML (env DRIFTLINE_CONFIG)")
    backtest.add_argument("--out", help="write alerts here (JSON lines); default: standard output")
    backtest.add_argument("--performance-out", help="write each closed performance window here (JSON lines, as "
                          "the worker keeps them in Redis)")
    backtest.add_argument("--report", help="write a self-contained HTML report here (summary table, each signal's "
                          "timeline with its alerts, performance, requests and deployments)")
    commands["backtest"] = cmd_backtest

    replay = sub.add_parser("replay", help="produce the events of a JSONL, CSV or Parquet file into Kafka")
    replay.add_argument("file", help="events, in stream order")
    _add_connection_flags(replay)
    replay.add_argument("--speed", type=float, help="follow the events' ts gaps, this many times faster")
    replay.add_argument("--rate", type=float, help="at most this many events per second")
    commands["replay"] = cmd_replay
    reference = sub.add_parser("reference", help="give a model the reference of a period known to be normal")
    actions = reference.add_subparsers(dest="action", required=True)
    given = actions.add_parser("set", help="summarise the model's events in FILE and send them as its reference "
                               "(a ModelDeployed of its version: its detectors restart, calibrated at once)")
    given.add_argument("model", help="model_id")
    given.add_argument("file", nargs="?", help="JSONL, CSV or Parquet events, as backtest reads them (or use "
                       "--from-ts and --to-ts)")
    given.add_argument("--from-ts", type=float, help="instead of a file: the model's own events in Kafka stamped "
                       "from this epoch second...")
    given.add_argument("--to-ts", type=float, help="...to this one (read from the start of the retained topics)")
    given.add_argument("--version", help="model_version to deploy (default: that of the model's last event there)")
    _add_connection_flags(given)  # its --config gives the model's error_threshold
    commands["reference"] = cmd_reference

    lineage = sub.add_parser("lineage", help="a model's chain: alerts -> request -> training data -> validation -> "
                             "deployment -> what the monitor saw next")
    lineage.add_argument("model", help="model_id")
    lineage.add_argument("--json", action="store_true", help="the entries and current state as one JSON object")
    lineage.add_argument("--redis-url", help="Redis URL (env DRIFTLINE_REDIS_URL)")
    commands["lineage"] = cmd_lineage

    export = sub.add_parser("export", help="write a model's labelled examples from Kafka to JSONL or Parquet, or "
                            "exactly the ones a version was trained on")
    export.add_argument("--model", required=True, help="model_id")
    export.add_argument("--version", help="the examples this version was trained and validated on (its lineage)")
    export.add_argument("--from-ts", type=float, help="or: predictions stamped from this epoch second...")
    export.add_argument("--to-ts", type=float, help="...to this one (default: up to now)")
    export.add_argument("--out", required=True, help="FILE.jsonl or FILE.parquet")
    _add_connection_flags(export)
    commands["export"] = cmd_export

    notify = sub.add_parser("notify", help="forward alerts, retrain requests and rejected candidates to a webhook, "
                            "at least once")
    notify.add_argument("--webhook", required=True, help="URL the events are POSTed to")
    notify.add_argument("--format", choices=["json", "slack"], default="json",
                        help="json: {type, event}; slack: {text} for an incoming webhook")
    notify.add_argument("--streams", nargs="+", choices=["alerts", "retrain", "rejections"],
                        default=["alerts", "retrain", "rejections"])
    notify.add_argument("--min-severity", choices=["warning", "drift"], default="warning",
                        help="alerts below this are not forwarded")
    notify.add_argument("--group-id", default="driftline-notify", help="consumer group: where a restart resumes")
    notify.add_argument("--from-beginning", action="store_true", help="a new group starts at the oldest events")
    notify.add_argument("--timeout", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    _add_connection_flags(notify)
    commands["notify"] = cmd_notify

    report = sub.add_parser("report", help="a self-contained HTML report of a live model: its windows and "
                            "performance from Redis, its alerts from Kafka")
    report.add_argument("model", help="model_id")
    report.add_argument("--out", required=True, help="the HTML file to write")
    report.add_argument("--timeout", type=float, default=60.0, help="longest the alerts topic may take to read")
    _add_connection_flags(report)
    commands["report"] = cmd_report

    dashboard = sub.add_parser("dashboard", help="serve a live page of every model's signals and the last alerts")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on")
    dashboard.add_argument("--port", type=int, default=8050, help="port to listen on")
    _add_connection_flags(dashboard)
    commands["dashboard"] = cmd_dashboard
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings_from(args)
    except ValueError as exc:
        print(f"driftline: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings, level=logging.DEBUG if args.verbose else logging.INFO,
                      default_format="json" if args.command == "worker" else "text")
    from confluent_kafka import KafkaException

    try:
        return commands[args.command](args, settings)
    except KafkaException as exc:
        from driftline.kafka_errors import last_error

        cause = last_error()
        print(f"driftline {args.command}: Kafka at {settings.bootstrap_servers} failed: {exc}"
              + (f"; the broker connection reported: {cause}" if cause else ""), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
