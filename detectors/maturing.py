"""A reference that matures: after the first `reference_size` values, a rate CUSUM's reference keeps
taking later values while its signal is stable, up to `reference_max`.

Why: the first 500 values pin a rate of 5% only to within about +-2 points, and a CUSUM compared with
the end of that interval cannot see a rise from 5% to 7.5%, ever. Counts per cell are all a rate
CUSUM's reference is (its edges stay those of the first values), so maturing is adding counts:
bounded (one number a cell), mergeable, and cheap to recalibrate (the increments are recomputed, the
statistics carry on).

Which values join: the detector counts values per cell in chunks (`chunk_size`: the reference doubles);
when a chunk is complete it joins the reference only if the detector has never drifted since its reset, is not part
way to a drift (every statistic below half the threshold), and the chunk is like the reference (a
G-test at 0.1%, divided by the reference's dependence): a slow drift, still below the threshold, is
not learnt as normal. Chunk ends fall on fixed counts of values, so any cut of the stream into
columns gives the same reference: live equals backtest.
"""

from detectors.base import DriftDetector
from detectors.rate_cusum import RateCusum

BUSY_SHARE = 0.5
"""A chunk ending with any statistic above this share of the threshold stays out: a change may be starting."""


def chunk_size(reference: int, first: int, cap: int) -> int:
    """The next chunk's size for a reference of `reference` values: as large as the reference (at least
    `first`), so it doubles, and no further than the cap. Recalibrating costs about half a millisecond,
    so a 100-feature model maturing by fixed chunks of 500 spent most of its time there; doubling takes
    six recalibrations from 500 to 20,000, not thirty-nine, and a chunk as large as the reference is
    tested as strictly as it weighs."""
    return min(max(first, reference), cap - reference)


def maturing(detector: DriftDetector, drifts: int, first: int, cap: int) -> int | None:  # type: ignore[type-arg]
    """How many more values the detector's current chunk takes, or None when its reference no longer
    matures (not a counted rate CUSUM, it drifted, or its reference is at its cap)."""
    if not isinstance(detector, RateCusum) or drifts:
        return None
    size = detector.params.reference_size
    if not size or size >= cap:
        return None
    return max(chunk_size(size, first, cap) - int(sum(detector.chunk())), 0)


def mature(detector: RateCusum) -> RateCusum:
    """Take the detector's complete chunk; the detector with its reference grown by it where it joins."""
    chunk = detector.take_chunk()
    params = detector.params
    statistics = detector.statistics()
    quiet = statistics["in_drift"] == 0.0 and statistics["cusum_max"] < BUSY_SHARE * params.threshold
    if not quiet or not params.fits_reference(chunk):
        return detector
    return detector.with_params(params.absorb(chunk))
