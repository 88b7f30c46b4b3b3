"""Settings: flags over environment over defaults, and client options derived from them."""

import pytest
from pydantic import ValidationError

from driftline.settings import Settings


def test_defaults_follow_the_design() -> None:
    settings = Settings()
    assert settings.broker == "kafka://127.0.0.1:9092"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.topics.alerts == "driftline.alerts"


def test_environment_overrides_defaults_and_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_BROKER", "kafka://envhost:9092")
    monkeypatch.setenv("DRIFTLINE_TOPIC_PREFIX", "env.")
    settings = Settings()
    assert settings.bootstrap_servers == "envhost:9092"
    flagged = settings.with_overrides(broker="kafka://flaghost:1", topic_prefix=None)
    assert flagged.bootstrap_servers == "flaghost:1"
    assert flagged.topics.dlq == "env.dlq"


def test_several_brokers_become_a_bootstrap_list() -> None:
    assert Settings(broker="kafka://a:1,kafka://b:2").bootstrap_servers == "a:1,b:2"


def test_a_broker_url_without_hosts_is_refused() -> None:
    with pytest.raises(ValidationError, match="names no host"):
        Settings(broker="kafka://")


def test_sasl_and_tls_options_reach_the_kafka_client_config() -> None:
    settings = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                        kafka_sasl_username="svc", kafka_sasl_password="s3cret", kafka_ssl_cafile="ca.pem")
    conf = settings.kafka_client_config()
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.password"] == "s3cret"
    assert conf["ssl.ca.location"] == "ca.pem"


def test_secrets_do_not_show_in_the_settings_repr() -> None:
    settings = Settings(kafka_sasl_password="s3cret", redis_password="r3dis", state_key="k3y")
    assert "s3cret" not in repr(settings) and "r3dis" not in repr(settings) and "k3y" not in repr(settings)
    assert settings.redis_client_options()["password"] == "r3dis"
