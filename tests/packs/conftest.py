"""Servers of each contract pack on free loopback ports: the mock, and the backend on the tiny models.

``pack_server(kind, contracts, keys)`` starts one (``kind`` is ``mock`` or
``backend``) and stops it when the test ends. The backend serves the session's
tiny diffusers models (``tests/conftest.py``) through a models folder that holds
``tiny-sd`` and ``tiny-sd-inpaint`` only, so a pack without a model field (AUTOMATIC1111
chooses its checkpoint elsewhere) gets ``tiny-sd``, the first id the server holds.
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.support import ServerThread

PackServer = Callable[..., str]


@pytest.fixture
def pack_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PackServer]:
    """A factory: ``pack_server("mock", ("openai-images",), keys=("sk-a",))`` -> the server's root URL."""
    with ExitStack() as stack:
        def start(kind: str, contracts: tuple[str, ...], keys: tuple[str, ...] = ()) -> str:
            if kind == "mock":
                return stack.enter_context(_mock(tmp_path, contracts, keys))
            tiny = request.getfixturevalue("tiny")
            generator = request.getfixturevalue("tiny_generator")
            return stack.enter_context(_backend(tmp_path, tiny, generator, contracts, keys))

        yield start


@contextmanager
def _mock(tmp_path: Path, contracts: tuple[str, ...], keys: tuple[str, ...]) -> Iterator[str]:
    from t2i_contract.mock_server import EXTENSION, MockConfig, create_app

    app = create_app(MockConfig(db_path=tmp_path / "mock.sqlite3", contract=contracts, keys=keys))
    try:
        with ServerThread(app) as server:
            yield server.url
    finally:
        app.extensions[EXTENSION].close()


@contextmanager
def _backend(tmp_path: Path, tiny: object, generator: object, contracts: tuple[str, ...],
             keys: tuple[str, ...]) -> Iterator[str]:
    from t2i_contract.reference_backend import BackendConfig, create_app
    from t2i_contract.reference_backend.app import EXTENSION

    models = tmp_path / "models"
    models.mkdir()
    for model_id in (tiny.model_id, tiny.inpaint_model_id):  # type: ignore[attr-defined]
        (models / model_id).symlink_to(tiny.models_dir / model_id)  # type: ignore[attr-defined]
    config = BackendConfig(models_dir=models, data_dir=tmp_path / "backend", contract=contracts, keys=keys)
    app = create_app(config, generator=generator)  # type: ignore[arg-type]
    try:
        with ServerThread(app) as server:
            yield server.url
    finally:
        app.extensions[EXTENSION].stop()
