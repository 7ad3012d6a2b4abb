"""model_reload on the backend: processing while a slow load runs past the sync wait, then success on the
next call; a load that fails is an ``error`` answer."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import pytest

from t2i_contract.reference_backend import FakeGenerator
from t2i_contract.spec import load_spec
from tests.support import wait_for

from .support import API, KEY, Server, serve

RELOAD = f"{API}/model_reload"


class SlowLoads(FakeGenerator):
    """Loads wait for ``gate``; a load of ``broken`` fails."""

    def __init__(self) -> None:
        super().__init__(models=("fake-model", "broken"))
        self.gate = threading.Event()
        self.loads: list[str] = []

    def load(self, model_id: str) -> None:
        self.check_model(model_id)
        self.loads.append(model_id)
        if model_id == "broken":
            raise RuntimeError("the weights are not readable")
        self.gate.wait()


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[tuple[Server, SlowLoads]]:
    generator = SlowLoads()
    with serve(generator, tmp_path, sync_timeout=0.0) as server:
        yield server, generator
    generator.gate.set()


def conforms(body: dict[str, object]) -> None:
    assert load_spec().responses.check("modelReload", 200, body) == []


def settled(server: Server, model_id: str) -> dict[str, object]:
    """model_reload called until it no longer answers processing (polled, generous deadline)."""

    def reported() -> dict[str, object] | None:
        body = server.post(RELOAD, {"key": KEY, "model_id": model_id}).json()
        return body if body["status"] != "processing" else None

    return wait_for(reported, 60.0)


def test_a_load_longer_than_the_sync_wait_is_processing_then_success(slow: tuple[Server, SlowLoads]) -> None:
    server, generator = slow
    first = server.post(RELOAD, {"key": KEY, "model_id": "fake-model"}).json()
    assert first["status"] == "processing" and first["eta"] > 0
    conforms(first)
    again = server.post(RELOAD, {"key": KEY, "model_id": "fake-model"}).json()
    assert again["status"] == "processing"
    assert generator.loads == ["fake-model"]  # a load in progress is not started twice
    generator.gate.set()
    final = settled(server, "fake-model")
    assert final["status"] == "success" and "fake-model" in str(final["message"])
    conforms(final)
    assert generator.loads == ["fake-model"]


def test_a_load_that_fails_is_an_error_answer_saying_why(slow: tuple[Server, SlowLoads]) -> None:
    server, _ = slow
    final = settled(server, "broken")
    assert final["status"] == "error" and "not readable" in str(final["message"])
    conforms(final)


def test_an_unknown_model_is_a_404(slow: tuple[Server, SlowLoads]) -> None:
    server, _ = slow
    response = server.post(RELOAD, {"key": KEY, "model_id": "nope"})
    assert response.status_code == 404 and response.json()["message"] == "Model not found: nope"
