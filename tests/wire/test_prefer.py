"""The Prefer header: read by every server, written by every client, one module."""
from __future__ import annotations

import pytest

from t2i_contract.wire.prefer import PreferError, Preferences, parse_prefer, prefer_header


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Preferences()),
        ("", Preferences()),
        ("status=processing, eta=2", Preferences(status="processing", eta=2.0)),
        ("eta=0.5", Preferences(status="processing", eta=0.5)),
        ("status=success", Preferences(status="success")),
        ("code=429", Preferences(code=429)),
        ("respond-async; wait=10", Preferences(status="processing")),
        ("handling=lenient", Preferences()),
        ('STATUS="processing"; ETA=1', Preferences(status="processing", eta=1.0)),
    ],
    ids=["absent", "empty", "processing-eta", "eta-alone", "success", "code", "respond-async", "unknown-ignored",
         "quoted-caps"],
)
def test_prefer_values_are_read(header: str | None, expected: Preferences) -> None:
    assert parse_prefer(header) == expected


def test_respond_async_asks_for_processing() -> None:
    assert parse_prefer("respond-async").wants_async
    assert not parse_prefer("status=success").wants_async


@pytest.mark.parametrize("header", ["code=200", "code=", "code=abc", "code=4290", "status=queued", "eta=-2",
                                    "eta=never"])
def test_unusable_prefer_values_name_the_header_and_value(header: str) -> None:
    with pytest.raises(PreferError) as caught:
        parse_prefer(header)
    [problem] = caught.value.problems
    assert (problem.field, problem.value) == ("Prefer", header)
    assert header in caught.value.message


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ({"status": "processing", "eta": 1}, Preferences(status="processing", eta=1.0)),
        ({"status": "success"}, Preferences(status="success")),
        ({"code": 503}, Preferences(code=503)),
        ({"respond_async": True}, Preferences(status="processing")),
        ({"eta": 0.25}, Preferences(status="processing", eta=0.25)),
    ],
    ids=["processing-eta", "success", "code", "respond-async", "eta-alone"],
)
def test_what_a_client_writes_is_what_a_server_reads(asked: dict, expected: Preferences) -> None:
    assert parse_prefer(prefer_header(**asked)) == expected


def test_a_client_cannot_write_a_status_servers_refuse() -> None:
    with pytest.raises(ValueError, match="queued"):
        prefer_header(status="queued")
