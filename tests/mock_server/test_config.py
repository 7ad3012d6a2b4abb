"""The Prefer header parser and the settings' own checks."""
from __future__ import annotations

import pytest

from t2i_contract.mock_server.config import MockConfig, parse_keys, parse_latency
from t2i_contract.mock_server.errors import ConfigError, RequestRejected
from t2i_contract.mock_server.prefer import Preferences, parse_prefer


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Preferences()),
        ("", Preferences()),
        ("status=processing, eta=2", Preferences(status="processing", eta=2.0)),
        ("eta=0.5", Preferences(status="processing", eta=0.5)),
        ("status=success", Preferences(status="success")),
        ("code=429", Preferences(code=429)),
        ("respond-async; wait=10", Preferences()),
        ('STATUS="processing"; ETA=1', Preferences(status="processing", eta=1.0)),
    ],
    ids=["absent", "empty", "processing-eta", "eta-alone", "success", "code", "unknown-ignored", "quoted-caps"],
)
def test_prefer_values_are_read(header: str | None, expected: Preferences) -> None:
    assert parse_prefer(header) == expected


@pytest.mark.parametrize("header", ["code=418", "code=", "status=queued", "eta=-2", "eta=never"])
def test_unusable_prefer_values_name_the_header_and_value(header: str) -> None:
    with pytest.raises(RequestRejected) as caught:
        parse_prefer(header)
    assert caught.value.field == "Prefer"
    assert header in caught.value.message


@pytest.mark.parametrize(("text", "expected"), [("0", (0.0, 0.0)), ("150", (150.0, 150.0)),
                                                ("50-200", (50.0, 200.0)), (None, (0.0, 0.0))])
def test_latency_is_a_value_or_a_range(text: str | None, expected: tuple[float, float]) -> None:
    assert parse_latency(text) == expected


@pytest.mark.parametrize("text", ["fast", "200-50", "-5"])
def test_bad_latency_says_what_is_accepted(text: str) -> None:
    with pytest.raises(ConfigError, match="latency"):
        parse_latency(text)


def test_keys_are_split_on_commas() -> None:
    assert parse_keys(" k1, k2 ,,") == ("k1", "k2")
    assert parse_keys("") == ()


@pytest.mark.parametrize(("setting", "value"), [("processing_ratio", 1.5), ("eta", -1), ("ttl", 0),
                                                ("workers", 0), ("max_queued", -1), ("latency", (5.0, 1.0))])
def test_config_refuses_values_it_cannot_run_with(setting: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        MockConfig(**{setting: value})  # type: ignore[arg-type]
    assert caught.value.field == setting
    assert MockConfig().port == 4010


def test_config_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        MockConfig("0.0.0.0")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("settings", "threads"),
    [({}, 1), ({"latency": (50.0, 200.0)}, 16), ({"server": "gunicorn"}, 4), ({"threads": 3}, 3),
     ({"server": "gunicorn", "threads": 1}, 1)],
    ids=["granian", "granian-latency", "gunicorn", "explicit", "gunicorn-sync"],
)
def test_worker_threads_default_to_the_fastest_safe_choice(settings: dict, threads: int) -> None:
    assert MockConfig(**settings).worker_threads == threads


def test_an_unknown_server_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="server"):
        MockConfig(server="waitress")
