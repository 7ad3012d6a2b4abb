"""Fixtures for the reference backend: real servers around the session's tiny model.

Chains (``tiny`` and ``tiny_generator`` live in ``tests/conftest.py``, shared by every
suite): ``tiny`` (model folders) -> ``tiny_generator`` (one DiffusersGenerator, its
pipeline and LoRA cache shared by the session) -> ``tiny_server`` (a real HTTP server
around it). ``support.serve`` starts a server around any generator for one test.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from t2i_contract.reference_backend import Generator

from .support import KeepOpen, Server, serve


@pytest.fixture(scope="session")
def tiny_server(tiny_generator: Generator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(KeepOpen(tiny_generator), tmp_path_factory.mktemp("tiny-server")) as server:
        yield server
