"""The mock settings' own checks (the Prefer parser is tested in tests/protocol)."""
from __future__ import annotations

import pytest

from t2i_contract.mock_server.config import MockConfig, parse_keys, parse_latency
from t2i_contract.mock_server.errors import ConfigError


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
    [({}, 16), ({"workers": 2}, 8), ({"workers": 4}, 8), ({"latency": (50.0, 200.0)}, 16),
     ({"workers": 2, "latency": (50.0, 200.0)}, 16), ({"server": "gunicorn"}, 4), ({"threads": 3}, 3),
     ({"server": "gunicorn", "threads": 1}, 1)],
    ids=["granian", "granian-2-workers", "granian-4-workers", "granian-latency", "granian-2-workers-latency",
         "gunicorn", "explicit", "gunicorn-sync"],
)
def test_worker_threads_default_to_the_fastest_safe_choice(settings: dict, threads: int) -> None:
    assert MockConfig(**settings).worker_threads == threads


def test_an_unknown_server_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="server"):
        MockConfig(server="waitress")
