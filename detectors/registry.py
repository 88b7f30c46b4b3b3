"""Detector names -> adapter classes, and the discriminated union of their parameters."""

from typing import Annotated

from pydantic import Field

from detectors.adwin import Adwin, AdwinParams
from detectors.base import DetectorParams, DriftDetector
from detectors.ddm import Ddm, DdmParams
from detectors.eddm import Eddm, EddmParams
from detectors.hddm_a import HddmA, HddmAParams
from detectors.hddm_w import HddmW, HddmWParams
from detectors.ks import Ks, KsParams
from detectors.kswin import Kswin, KswinParams
from detectors.page_hinkley import PageHinkley, PageHinkleyParams
from detectors.psi import Psi, PsiParams
from detectors.rate_cusum import RateCusum, RateCusumParams

AnyDetectorParams = Annotated[
    AdwinParams | PageHinkleyParams | KswinParams | DdmParams | EddmParams | HddmAParams | HddmWParams
    | PsiParams | KsParams | RateCusumParams,
    Field(discriminator="type"),
]

DETECTORS: dict[str, type[DriftDetector]] = {  # type: ignore[type-arg]
    cls.name: cls for cls in (Adwin, PageHinkley, Kswin, Ddm, Eddm, HddmA, HddmW, Psi, Ks, RateCusum)
}


def build_detector(params: DetectorParams) -> DriftDetector:  # type: ignore[type-arg]
    try:
        cls = DETECTORS[params.type]
    except KeyError:
        raise ValueError(f"unknown detector {params.type!r}; known: {', '.join(sorted(DETECTORS))}") from None
    return cls(params)
