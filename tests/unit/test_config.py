"""Monitoring config files: the examples load; mistakes are reported clearly."""

from pathlib import Path

import pytest

from detectors.config import ConfigError, ModelPolicy, MonitoringConfig, load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def watches(policy: ModelPolicy, signal: str) -> list[str]:
    rule = policy.rule_for(signal)
    assert rule is not None
    return [getattr(d, "watch", d.type) for d in rule.detectors]


def test_no_file_means_the_calibrated_zero_config_defaults() -> None:
    policy = load_config(None).policy_for("any-model")
    assert watches(policy, "feature:age") == ["location", "scale", "adwin"]
    assert watches(policy, "prediction") == ["location", "scale", "adwin", "categories"]  # numbers, or class names
    assert watches(policy, "missing:age") == ["rate"]
    assert watches(policy, "category:plan") == ["categories"]
    assert watches(policy, "error") == ["rate"]
    assert all(policy.rule_for(s).calibrate for s in ("feature:age", "prediction", "missing:age", "error"))  # type: ignore[union-attr]


def test_the_river_preset_keeps_the_old_defaults_and_rules_merge_over_a_preset(tmp_path: Path) -> None:
    policy = load_config(EXAMPLES / "river.toml").policy_for("any-model")
    assert watches(policy, "feature:age") == ["adwin"]
    assert watches(policy, "prediction") == ["page_hinkley"]
    assert watches(policy, "error") == ["ddm"]
    assert watches(policy, "missing:age") == []
    path = tmp_path / "c.toml"
    path.write_text('[defaults]\npreset = "river"\n[defaults.signals.error]\ndetectors = [{ type = "eddm" }]\n'
                    '[models.m]\npreset = "calibrated"\n')
    config = load_config(path)
    assert watches(config.policy_for("other"), "error") == ["eddm"]
    assert watches(config.policy_for("other"), "feature:age") == ["adwin"]
    assert watches(config.policy_for("m"), "feature:age") == ["location", "scale", "adwin"]


@pytest.mark.parametrize("name", ["monitoring.toml", "monitoring.yaml", "river.toml"])
def test_example_configs_load(name: str) -> None:
    assert isinstance(load_config(EXAMPLES / name), MonitoringConfig)


def test_per_model_rules_merge_over_defaults_and_the_most_specific_key_wins() -> None:
    config = load_config(EXAMPLES / "monitoring.toml")
    policy = config.policy_for("house-prices")
    assert [d.type for d in policy.rule_for("feature:sqft").detectors] == ["kswin", "psi"]  # type: ignore[union-attr]
    assert policy.rule_for("feature:zip_code").detectors == []  # type: ignore[union-attr]
    assert [d.type for d in policy.rule_for("feature:age").detectors] == ["adwin"]  # type: ignore[union-attr]
    assert policy.error_threshold == 25000.0
    assert config.policy_for("other").error_threshold is None


def test_an_unknown_detector_type_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[defaults.signals.prediction]\ndetectors = [{ type = "adwn" }]\n')
    with pytest.raises(ConfigError, match="adwn"):
        load_config(path)


def test_a_misspelled_option_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("defaults:\n  retrain:\n    cooldown_secs: 5\n")
    with pytest.raises(ConfigError, match="cooldown_secs"):
        load_config(path)


def test_an_error_stream_detector_on_a_feature_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[defaults.signals."feature:*"]\ndetectors = [{ type = "ddm" }]\n')
    with pytest.raises(ConfigError, match="0/1 error stream"):
        load_config(path)


def test_invalid_syntax_and_unknown_suffix_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("[defaults\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match=r"\.toml, \.yaml or \.yml"):
        load_config(tmp_path / "c.ini")


def test_performance_is_configured_per_model_and_the_river_preset_keeps_it_quiet(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[defaults.performance]\npositive_class = 1\n\n[models.price]\nerror_threshold = 5.0\n\n'
                    '[models.legacy]\npreset = "river"\n')
    config = load_config(path)
    assert config.defaults.performance.positive_class == 1.0  # the class a JSON 1 or 1.0 label names
    assert config.defaults.performance_task is None  # auto, no threshold: the first labelled prediction decides
    assert config.policy_for("price").performance_task == "regression"  # auto with an error threshold
    assert config.policy_for("price").performance.alert
    assert not config.policy_for("legacy").performance.alert
    assert not load_config(EXAMPLES / "river.toml").defaults.performance.alert
    assert load_config(EXAMPLES / "monitoring.toml").defaults.performance.positive_class == "fraud"
