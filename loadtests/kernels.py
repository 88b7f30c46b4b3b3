"""Kernel benchmark: each compiled detector against river's detector in a plain Python loop.

    .venv/bin/python -m loadtests.kernels [--values 200000]

Per detector: nanoseconds per value for river (the loop a user would write) and for the kernel
(one update_many call over the column, compiled beforehand), the speed-up, and whether the two
flagged the same values (river is the oracle). Writes loadtests/results/kernels.json.
"""

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel
from river import drift
from river.drift import binary

from detectors.adwin import AdwinParams
from detectors.base import DRIFT, NONE, WARNING
from detectors.ddm import DdmParams
from detectors.eddm import EddmParams
from detectors.hddm_a import HddmAParams
from detectors.hddm_w import HddmWParams
from detectors.kernels.adwin import AdwinKernel
from detectors.kernels.base import Kernel
from detectors.kernels.ddm import DdmKernel
from detectors.kernels.eddm import EddmKernel
from detectors.kernels.hddm_a import HddmAKernel
from detectors.kernels.hddm_w import HddmWKernel
from detectors.kernels.page_hinkley import PageHinkleyKernel
from detectors.page_hinkley import PageHinkleyParams

RESULTS = Path(__file__).parent / "results" / "kernels.json"


class KernelFigure(BaseModel):
    detector: str
    values: int
    river_ns_per_value: float
    kernel_ns_per_value: float
    speedup: float
    same_flags_as_river: bool
    drifts: int


def river_run(detector: Any, values: list[float]) -> list[int]:
    flags = [NONE] * len(values)
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            flags[i] = DRIFT
        elif getattr(detector, "warning_detected", False):
            flags[i] = WARNING
    return flags


def measure(name: str, make_river: Callable[[], Any], make_kernel: Callable[[], Kernel[Any]],
            values: list[float]) -> KernelFigure:
    column = np.asarray(values, dtype=np.float64)
    make_kernel().update_many(column[:100])  # compile (or load numba's cache) outside the timing
    started = time.perf_counter()
    expected = river_run(make_river(), values)
    river_seconds = time.perf_counter() - started
    kernel = make_kernel()
    started = time.perf_counter()
    result = kernel.update_many(column)
    kernel_seconds = time.perf_counter() - started
    return KernelFigure(detector=name, values=len(values), river_ns_per_value=river_seconds / len(values) * 1e9,
                        kernel_ns_per_value=kernel_seconds / len(values) * 1e9,
                        speedup=river_seconds / kernel_seconds, same_flags_as_river=result.flags.tolist() == expected,
                        drifts=len(result.drifts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(7)
    n = args.values
    numeric = [rng.gauss(0.0, 1.0) if i < n // 2 else rng.gauss(0.5, 1.0) for i in range(n)]
    errors = [1.0 if rng.random() < (0.1 if i < n // 2 else 0.2) else 0.0 for i in range(n)]
    figures = [
        measure("adwin", drift.ADWIN, lambda: AdwinKernel(AdwinParams()), numeric),
        measure("page_hinkley", drift.PageHinkley, lambda: PageHinkleyKernel(PageHinkleyParams()), numeric),
        measure("ddm", binary.DDM, lambda: DdmKernel(DdmParams()), errors),
        measure("eddm", binary.EDDM, lambda: EddmKernel(EddmParams()), errors),
        measure("hddm_a", binary.HDDMA, lambda: HddmAKernel(HddmAParams()), errors),
        measure("hddm_w", binary.HDDMW, lambda: HddmWKernel(HddmWParams()), errors),
    ]
    print(f"{'detector':<14}{'river ns/value':>16}{'kernel ns/value':>17}{'speed-up':>10}  same flags as river")
    for f in figures:
        print(f"{f.detector:<14}{f.river_ns_per_value:>16,.0f}{f.kernel_ns_per_value:>17,.1f}{f.speedup:>9,.0f}x"
              f"  {'yes' if f.same_flags_as_river else 'NO'} ({f.drifts} drifts)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([f.model_dump() for f in figures], indent=2) + "\n")
    print(f"results written to {RESULTS}")
    if not all(f.same_flags_as_river for f in figures):
        raise SystemExit("a kernel disagreed with river")


if __name__ == "__main__":
    main()
