"""Progress lines: shown on a terminal with rate and time left, silent when piped."""

import io

from detectors.config import MonitoringConfig
from driftline.backtest import backtest_file
from driftline.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_events_rate_and_time_left() -> None:
    now = [0.0]
    progress = Progress(1_000, "backtest", Terminal(), clock=lambda: now[0])
    now[0] = 2.0
    assert progress.line(250, now[0]) == ("backtest: [#######.......................]  25.0% 250 events  125/s"
                                          "  6s left")
    assert Progress(None, "replay", Terminal(), clock=lambda: 0.0).line(10, 5.0) == "replay: 10 events  2/s"


def test_a_pipe_gets_nothing() -> None:
    piped = io.StringIO()
    progress = Progress(100, "backtest", piped)
    progress.show(50)
    progress.show(100, final=True)
    assert piped.getvalue() == ""


def test_the_backtest_shows_progress_on_a_terminal_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(f'{{"model_id":"m","model_version":"1","event_id":"e{i}","ts":{i},'
                            f'"features":{{"x":{i % 7}}}}}\n' for i in range(3_000)))
    terminal, piped = Terminal(), io.StringIO()
    assert backtest_file(path, MonitoringConfig(), progress=terminal).events == 3_000
    assert "backtest: [" in terminal.getvalue() and "3,000 events" in terminal.getvalue()
    backtest_file(path, MonitoringConfig(), progress=piped)
    assert piped.getvalue() == ""
