"""Every ```python block of the README runs, in order, against the session's worker."""

import re
from pathlib import Path

import pytest

from driftline.worker_process import WorkerProcess
from tests.live import cli_env

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_readme_has_examples_to_run() -> None:
    assert len(python_blocks()) >= 3


def test_the_readme_examples_run(live_worker: WorkerProcess, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    cli_env(live_worker, monkeypatch)
    namespace: dict[str, object] = {"__name__": "readme"}
    for number, block in enumerate(python_blocks(), start=1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"README python block {number} failed: {exc!r}\n{block}") from exc
    printed = capsys.readouterr().out
    assert "{'queued': 3, 'sent': 3, 'failed': 0, 'dropped': 0}" in printed
