"""Event and wall times as people read them: UTC, to the second."""

import datetime as dt


def utc_text(ts: float) -> str:
    """`2026-12-03 17:09:41` for epoch seconds."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
