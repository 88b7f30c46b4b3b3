"""Settings: flags over environment over defaults, and client options derived from them."""

import faust
import pytest
from pydantic import ValidationError

from agents.app import faust_credentials
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


def test_sasl_scram_credentials_and_tls_reach_the_faust_worker() -> None:
    sasl = faust_credentials(Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-256",
                                      kafka_sasl_username="svc", kafka_sasl_password="s3cret"))
    assert isinstance(sasl, faust.SASLCredentials)
    assert (sasl.username, sasl.password, sasl.mechanism.value) == ("svc", "s3cret", "SCRAM-SHA-256")
    assert sasl.ssl_context is not None, "SASL_SSL: the SASL exchange runs inside TLS"
    plain = faust_credentials(Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="PLAIN",
                                       kafka_sasl_username="svc", kafka_sasl_password="s3cret"))
    assert isinstance(plain, faust.SASLCredentials) and plain.ssl_context is None
    assert isinstance(faust_credentials(Settings(kafka_security_protocol="SSL")), faust.SSLCredentials)
    assert faust_credentials(Settings()) is None


def test_redis_auth_and_tls_files_reach_the_redis_client_options() -> None:
    options = Settings(redis_url="rediss://cache:6380/0", redis_username="svc", redis_password="r3dis",
                       redis_ssl_cafile="ca.pem", redis_ssl_certfile="client.pem",
                       redis_ssl_keyfile="client.key").redis_client_options()
    assert options == {"username": "svc", "password": "r3dis", "ssl_ca_certs": "ca.pem",
                       "ssl_certfile": "client.pem", "ssl_keyfile": "client.key"}


def test_describe_shows_settings_for_a_log_line_without_any_secret() -> None:
    text = Settings(redis_url="redis://svc:urlpw@cache:6379/0", redis_password="r3dis", state_key="k3y",
                    kafka_sasl_password="s3cret").describe()
    assert "cache:6379" in text and "redis://svc:***@cache" in text
    for secret in ("urlpw", "r3dis", "k3y", "s3cret"):
        assert secret not in text
