"""The benchmark's floor under (b) (loadtests/harness.py) must do the same detector work as river's loop:
it bounds what the monitor could reach, so a floor that skipped work would overstate that bound."""

import pytest

from loadtests.harness import Bench
from loadtests.workload import Workload


@pytest.mark.parametrize(("workload", "per_model"), [(Workload.w1(20_000), False), (Workload.w100(3_000), False),
                                                     (Workload.wm(20_000), True)])
def test_the_floor_finds_the_drifts_rivers_detectors_find(workload: Workload, per_model: bool) -> None:
    validated = workload.validated()
    river = Bench.river_loop(validated, per_model)["drifts"]
    found: dict[str, list[int]] = {}
    fed: dict[str, int] = {}
    timed = Bench.floor(validated, per_model, drifts=found, fed=fed)
    assert river, "the workload should drift somewhere, or the comparison proves nothing"
    assert found == river
    assert len(fed) == workload.numeric + 2  # each numeric feature, the prediction and the error
    assert set(fed.values()) == {len(validated)}  # every value of every event
    assert timed["events"] == len(validated) and timed["events_per_s"] > 0
