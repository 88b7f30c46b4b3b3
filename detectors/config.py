"""Monitoring configuration: which detectors watch which signal of which model, and when to retrain.

With no file at all, every model is monitored with the README's zero-config defaults, each
calibrated on the model's own (maturing) reference for at most one false drift alert per 100,000
events per model (detectors/calibration.py): rate CUSUM banks on the location and scale of each
numeric feature, a numeric prediction or score, with ADWIN on their normal scores; on each
categorical feature's mix and a class-name prediction's; on each feature's missing-value bit; on the
numeric features together (`joint`); on the expected accuracy the scores give
(`estimated_performance`); and on the error bit against the reference error rate; and performance
over windows of labelled predictions (detectors/performance.py). A TOML or YAML file
overrides them under `defaults` (every model) and `models.<model_id>` (one model). Signal keys are
exact names (`feature:age`) or shell patterns (`feature:*`); the most specific key wins."""

import fnmatch
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detectors.adwin import AdwinParams
from detectors.ddm import DdmParams
from detectors.deployment_watch import DeploymentWatchConfig
from detectors.page_hinkley import PageHinkleyParams
from detectors.performance import PerformanceConfig, Task
from detectors.rate_cusum import RateCusumParams
from detectors.registry import DETECTORS, AnyDetectorParams
from detectors.windows import WindowConfig


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalRule(_Config):
    """How one signal (or every signal matching a pattern) is watched."""

    detectors: list[AnyDetectorParams] = Field(default_factory=list, description="[] switches the signal off")
    warmup: int = Field(default=0, ge=0, description="updates before this signal may raise alerts")
    cooldown: int = Field(default=0, ge=0, description="events after an alert before the same detector alerts again")
    calibrate: bool = Field(default=False, description="set the detectors' thresholds from the reference window "
                            "for the calibration's false-alarm rate")


class RetrainPolicy(_Config):
    """When drift alerts become a retrain request. Times are event time (the events' `ts`)."""

    enabled: bool = True
    on_signals: list[str] = Field(default_factory=lambda: ["error", "performance"],
                                  description="drift on these requests at once")
    min_drifted_signals: int = Field(default=3, ge=0, description="or this many distinct signals; 0 disables")
    within_seconds: float = Field(default=3_600.0, gt=0)
    cooldown_seconds: float = Field(default=3_600.0, ge=0, description="at most one request per model per cooldown")
    retry_after_rejection: bool = Field(default=True, description="a rejected candidate's request is asked "
                                        "again (the data since the drift began) once the cooldown has passed")


class Calibration(_Config):
    target_false_alarm_rate: float = Field(default=1e-5, gt=0, lt=0.1, description="alarms per event per signal")
    model_false_alarm_rate: float = Field(default=1e-5, gt=0, lt=0.1, description="alarms per event per model, "
                                          "split evenly over its signals")


# a numeric signal's shape against its reference: the location CUSUM finds sudden shifts, the scale
# CUSUM variance changes with the mean unchanged, and ADWIN (calibrated) slow, gradual moves of the mean
_NUMERIC: list[AnyDetectorParams] = [RateCusumParams(watch="location"), RateCusumParams(watch="scale"),
                                     AdwinParams()]


def _default_signals() -> dict[str, SignalRule]:
    return {
        "feature:*": SignalRule(detectors=_NUMERIC, calibrate=True),
        # both ways: a category vanishing, or a null rate dropping (a pipeline change), is drift too
        "category:*": SignalRule(detectors=[RateCusumParams(watch="categories", direction="both")], calibrate=True),
        "missing:*": SignalRule(detectors=[RateCusumParams(watch="rate", direction="both")], calibrate=True),
        # a numeric prediction's shape, or a class prediction's mix (whichever the model sends)
        "prediction": SignalRule(detectors=[*_NUMERIC, RateCusumParams(watch="categories", direction="both")],
                                 calibrate=True),
        "score": SignalRule(detectors=_NUMERIC, calibrate=True),
        "score:*": SignalRule(detectors=_NUMERIC, calibrate=True),
        # how the numeric features go together (detectors/joint.py): its distances' location, both ways
        "joint": SignalRule(detectors=[RateCusumParams(watch="location")], calibrate=True),
        # the expected accuracy from the scores alone, without labels: only a fall is a concern
        "estimated_performance": SignalRule(detectors=[RateCusumParams(watch="location", direction="down")],
                                            calibrate=True),
        # against the reference error rate, not DDM's lowest rate so far: that minimum is noise over the
        # first labels, so DDM false-alarmed after its warm-up and then went blind to moderate rises.
        # A fall is reported as an improvement (a warning, never a retrain): fewer errors is no reason to retrain
        "error": SignalRule(detectors=[RateCusumParams(watch="rate", direction="both", falls="improvement")],
                            calibrate=True),
    }


def river_defaults() -> dict[str, SignalRule]:
    """river's detectors with river's parameters, uncalibrated: the signals before zero-config calibration
    (ADWIN on each numeric feature, Page-Hinkley on a numeric prediction, DDM on the error bit after 200
    labels), for comparing with river or keeping the old behaviour."""
    return {
        "feature:*": SignalRule(detectors=[AdwinParams()]),
        "category:*": SignalRule(detectors=[]),
        "missing:*": SignalRule(detectors=[]),
        "prediction": SignalRule(detectors=[PageHinkleyParams()]),
        "score": SignalRule(detectors=[]),
        "score:*": SignalRule(detectors=[]),
        "estimated_performance": SignalRule(detectors=[]),
        "joint": SignalRule(detectors=[]),
        "error": SignalRule(detectors=[DdmParams()], warmup=200),
    }


Preset = Literal["calibrated", "river"]
RIVER_PERFORMANCE = PerformanceConfig(alert=False)
"""The river preset measures performance but raises no concept alert from it: river has no such detector."""


def preset_signals(preset: Preset) -> dict[str, SignalRule]:
    return _default_signals() if preset == "calibrated" else river_defaults()


class ModelPolicy(_Config):
    """Everything that decides how one model is monitored.

    `preset` names a starting set of signal rules that `signals` then merge over: `calibrated` (the
    zero-config defaults) or `river` (river's detectors and parameters, uncalibrated: the behaviour
    before calibrated defaults). Without a preset, `signals` replaces the defaults whole, as it always
    has."""

    preset: Preset | None = None
    signals: dict[str, SignalRule] = Field(default_factory=_default_signals)
    error_threshold: float | None = Field(
        default=None, ge=0, description="regression: |prediction - label| above this is an error; else !=")
    windows: WindowConfig = Field(default_factory=WindowConfig)
    performance: PerformanceConfig = Field(default_factory=PerformanceConfig)
    retrain: RetrainPolicy = Field(default_factory=RetrainPolicy)
    calibration: Calibration = Field(default_factory=Calibration)
    post_deployment: DeploymentWatchConfig = Field(default_factory=DeploymentWatchConfig)

    @model_validator(mode="before")
    @classmethod
    def _from_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") is not None:
            given = data.get("signals") or {}
            base = {key: rule.model_dump() for key, rule in preset_signals(data["preset"]).items()}
            data = {**data, "signals": {**base, **given}}
            if data["preset"] == "river" and data.get("performance") is None:
                data["performance"] = RIVER_PERFORMANCE
        return data

    @property
    def performance_task(self) -> Task | None:
        """How performance is measured: as configured, regression where `auto` has an error threshold, and
        None where `auto` decides from the first labelled prediction (`detectors.performance.task_of`)."""
        task = self.performance.task
        if task != "auto":
            return task
        return "regression" if self.error_threshold is not None else None

    def rule_for(self, signal: str) -> SignalRule | None:
        """The rule of the most specific matching key, or None when nothing watches this signal."""
        if signal in self.signals:
            return self.signals[signal]
        matches = [key for key in self.signals if fnmatch.fnmatchcase(signal, key)]
        if not matches:
            return None
        return self.signals[max(matches, key=lambda key: (len(key.replace("*", "")), key))]


class ModelOverride(_Config):
    """Per-model changes on top of `defaults`; signal keys merge, other fields replace. With a `preset`,
    the signals merge over that preset's rules instead of the defaults'."""

    preset: Preset | None = None
    signals: dict[str, SignalRule] = Field(default_factory=dict)
    error_threshold: float | None = Field(default=None, ge=0)
    windows: WindowConfig | None = None
    performance: PerformanceConfig | None = None
    retrain: RetrainPolicy | None = None
    calibration: Calibration | None = None


class MonitoringConfig(_Config):
    defaults: ModelPolicy = Field(default_factory=ModelPolicy)
    models: dict[str, ModelOverride] = Field(default_factory=dict)
    allowed_models: list[str] | None = Field(
        default=None, description="when set, events of other models are dead-lettered as unknown_model")

    def policy_for(self, model_id: str) -> ModelPolicy:
        override = self.models.get(model_id)
        if override is None:
            return self.defaults
        base = self.defaults.signals if override.preset is None else preset_signals(override.preset)
        update: dict[str, Any] = {"signals": {**base, **override.signals}}
        if override.preset == "river":
            update["performance"] = RIVER_PERFORMANCE
        for name in ("error_threshold", "windows", "performance", "retrain", "calibration"):
            value = getattr(override, name)
            if value is not None:
                update[name] = value
        return self.defaults.model_copy(update=update)

    def knows(self, model_id: str) -> bool:
        return self.allowed_models is None or model_id in self.allowed_models


def river_config() -> MonitoringConfig:
    """The `river` preset for every model (as examples/river.toml): river's detectors, uncalibrated."""
    return MonitoringConfig(defaults=ModelPolicy(preset="river"))


class ConfigError(ValueError):
    """The monitoring config file cannot be read or is invalid."""


def load_config(path: Path | str | None) -> MonitoringConfig:
    """Read a TOML (.toml) or YAML (.yaml/.yml) file; None gives the zero-config defaults."""
    if path is None:
        return MonitoringConfig()
    path = Path(path)
    if path.suffix.lower() not in (".toml", ".yaml", ".yml"):
        raise ConfigError(f"monitoring config {path} must end in .toml, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read monitoring config {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else (yaml.safe_load(text) or {})
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"monitoring config {path} is not valid {path.suffix[1:].upper()}: {exc}") from exc
    try:
        config = MonitoringConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]]
        known = ", ".join(sorted(DETECTORS))
        detail = "\n".join(lines)
        raise ConfigError(f"monitoring config {path} is invalid (detector types: {known}):\n{detail}") from None
    _check_binary_detectors(config, path)
    return config


def _check_binary_detectors(config: MonitoringConfig, path: Path) -> None:
    policies = {"defaults": config.defaults.signals, **{f"models.{m}": o.signals for m, o in config.models.items()}}
    for where, signals in policies.items():
        for key, rule in signals.items():
            for params in rule.detectors:
                if DETECTORS[params.type].binary and key != "error":
                    raise ConfigError(
                        f"monitoring config {path}: {where}.signals.{key!r} uses {params.type}, which watches a 0/1 "
                        "error stream; put it on the 'error' signal")
