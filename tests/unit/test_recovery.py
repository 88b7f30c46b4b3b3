"""Which ranges a worker reads again when Redis's saved state is behind what its group processed."""

from agents.recovery import Rewind, plan_rewinds


def test_a_partition_whose_saved_progress_is_current_is_not_read_again() -> None:
    assert plan_rewinds({"t:0": 100}, {"t:0": 99}, {"t:0": 0}) == []
    assert plan_rewinds({"t:0": 100}, {"t:0": 150}, {"t:0": 0}) == [], "saved past the commit: a normal replay"


def test_a_restored_snapshot_is_read_again_from_just_after_what_it_covers() -> None:
    assert plan_rewinds({"t:0": 100}, {"t:0": 59}, {"t:0": 0}) == [Rewind("t:0", 60, 100, 59)]


def test_a_partition_redis_holds_nothing_of_is_rebuilt_from_the_earliest_retained_offset() -> None:
    [rewind] = plan_rewinds({"t:1": 100}, {"t:1": None}, {"t:1": 30})
    assert (rewind.start, rewind.end, rewind.unrecoverable) == (30, 100, 30)
    assert "30 earlier messages could not be re-read" in rewind.describe()


def test_a_partition_the_group_never_committed_was_never_processed() -> None:
    assert plan_rewinds({"t:0": 0}, {}, {}) == []


def test_retention_past_the_commit_leaves_nothing_to_read_but_says_what_is_gone() -> None:
    [rewind] = plan_rewinds({"t:0": 100}, {"t:0": 9}, {"t:0": 500})
    assert (rewind.start, rewind.end, rewind.unrecoverable) == (100, 100, 90)
