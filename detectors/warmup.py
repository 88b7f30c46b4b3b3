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
from detectors.registry import build_detector


def configured(config: MonitoringConfig) -> list[DetectorParams]:
    """Every detector the config names, defaults and per-model overrides."""
    rules = [*config.defaults.signals.values(), *(r for m in config.models.values() for r in m.signals.values())]
    return [params for rule in rules for params in rule.detectors]


def _kernels(params: Iterable[DetectorParams]) -> list[Kernel[Any]]:
    """One detector of each compiled type among `params`."""
    by_type = {p.type: p for p in params}
    return [d for d in (build_detector(p) for p in by_type.values()) if isinstance(d, Kernel)]


def cached(kernels: Iterable[Kernel[Any]]) -> bool:
    """Whether numba's cache already holds these kernels (their index files exist)."""
    for kernel in kernels:
        try:
            index = Path(kernel.compiled._cache._cache_file._index_path)
        except AttributeError:  # another numba layout: assume nothing is cached
            return False
        if not index.exists():
            return False
    return True


def warm_up(config: MonitoringConfig, say: Callable[[str], None] | None = None) -> None:
    """Run each kernel the config uses once; `say` hears a line first when they must be compiled."""
    kernels = _kernels(configured(config))
    if say is not None and not cached(kernels):
        say(f"compiling {len(kernels)} detector kernels (first run only, about 3 s each; later runs load them "
            "from numba's cache)")
    for kernel in kernels:
        kernel.update_many(np.zeros(1))
