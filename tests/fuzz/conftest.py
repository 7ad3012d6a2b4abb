"""Servers for the fuzz run: a real mock and a real backend on the tiny model, on loopback only.

Everything here runs in the test process (the servers on threads), inside one
:class:`~tests.fuzz.loopback.LoopbackGuard`, so any connection a server tries to a
non-loopback address is refused and recorded. The servers use their strict URL policy
(private targets refused) with only ``127.0.0.1`` allowed, where the receiver listens.
Chains: ``guard`` -> ``receiver`` -> ``fuzz_mock`` / ``fuzz_backend`` / ``fuzz_backend_held``.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

from t2i_contract.mock_server import EXTENSION, MockConfig, create_app
from tests.reference_backend.support import KeepOpen, serve
from tests.support import ServerThread

from .loopback import LoopbackGuard, Receiver

if TYPE_CHECKING:
    from t2i_contract.reference_backend import Generator
    from t2i_contract.spec import Text2ImgRequest

KEY = "fuzz-key"
LOOPBACK_ONLY = ("127.0.0.1",)
WEBHOOK_TIMEOUT = 120.0  # a guard against a hung receiver, never a claim about speed


class Held(KeepOpen):
    """The tiny model's checks, but no job ever runs: for bodies whose cost nobody bounded."""

    def __init__(self, inner: Generator) -> None:
        super().__init__(inner)
        self.release = threading.Event()

    def generate(self, request: Text2ImgRequest, seed: int) -> Any:
        self.release.wait()
        raise RuntimeError("a held job never runs")


@pytest.fixture(scope="package")
def guard() -> Iterator[LoopbackGuard]:
    with LoopbackGuard() as active:
        yield active


@pytest.fixture(scope="package")
def receiver(guard: LoopbackGuard) -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(scope="package")
def fuzz_mock(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = MockConfig(db_path=tmp_path_factory.mktemp("fuzz-mock") / "mock.sqlite3", keys=(KEY,),
                        private_urls="deny", url_allow=LOOPBACK_ONLY, webhook_backoff=0.01,
                        webhook_timeout=WEBHOOK_TIMEOUT, eta=0.05)
    app = create_app(config)
    try:
        with ServerThread(app) as server:
            yield server.url
    finally:
        app.extensions[EXTENSION].close()


def _backend(generator: Generator, data_dir: Path, **config: Any) -> Any:
    return serve(generator, data_dir, keys=(KEY,), private_urls="deny", url_allow=LOOPBACK_ONLY,
                 webhook_backoff=0.01, webhook_timeout=WEBHOOK_TIMEOUT, **config)


@pytest.fixture(scope="package")
def fuzz_backend(receiver: Receiver, tiny_generator: Generator,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Runs every job it accepts on the tiny model (the positive phase sends cheap bodies only)."""
    with _backend(KeepOpen(tiny_generator), tmp_path_factory.mktemp("fuzz-backend")) as server:
        yield server.url


@pytest.fixture(scope="package")
def fuzz_backend_held(receiver: Receiver, tiny_generator: Generator,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Checks every body against the tiny model and answers at once, but runs no job (negative phase)."""
    held = Held(tiny_generator)
    try:
        with _backend(held, tmp_path_factory.mktemp("fuzz-backend-held"), sync_timeout=0.0) as server:
            yield server.url
    finally:
        held.release.set()
