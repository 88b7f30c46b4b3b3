"""Compile the detector kernels before a run, and say so when that takes a while.

numba compiles each kernel the first time it is called (about a second each) and keeps the result
in its cache, next to the kernel modules, for every later process. A command that runs once (a
backtest of a small file) would otherwise spend that time silently on its first run only.
"""

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from detectors.base import DetectorParams
from detectors.config import MonitoringConfig
from detectors.kernels.base import Kernel
from detectors.kernels.window import close_window
from detectors.registry import build_detector


def configured(config: MonitoringConfig) -> list[DetectorParams]:
    """Every detector the config names, defaults and per-model overrides."""
    rules = [*config.defaults.signals.values(), *(r for m in config.models.values() for r in m.signals.values())]
    return [params for rule in rules for params in rule.detectors]


def _kernels(params: Iterable[DetectorParams]) -> list[Kernel[Any]]:
    """One detector of each compiled type among `params`."""
    by_type = {p.type: p for p in params}
    return [d for d in (build_detector(p) for p in by_type.values()) if isinstance(d, Kernel)]


def cached(compiled: Iterable[Any]) -> bool:
    """Whether numba's cache already holds these compiled functions (their index files exist)."""
    for function in compiled:
        try:
            index = Path(function._cache._cache_file._index_path)
        except AttributeError:  # another numba layout: assume nothing is cached
            return False
        if not index.exists():
            return False
    return True


def warm_up(config: MonitoringConfig, say: Callable[[str], None] | None = None) -> None:
    """Run each kernel the config uses once; `say` hears a line first when they must be compiled."""
    kernels = _kernels(configured(config))
    # windows close whenever a signal keeps them: when shown, and also to calibrate a detector, so
    # the window kernel is always warmed rather than guessed from the config
    compiled = [kernel.compiled for kernel in kernels] + [close_window]
    if say is not None and not cached(compiled):
        say(f"compiling {len(compiled)} kernels, detectors and window statistics (first run only, about 3 s "
            "each; later runs load them from numba's cache)")
    for kernel in kernels:
        kernel.update_many(np.zeros(1))
    close_window(np.zeros(2), np.zeros(1), np.ones(2, dtype=np.int64), np.zeros(2, dtype=np.float32))
