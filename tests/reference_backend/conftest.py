"""Fixtures for the reference backend: the tiny model once per session, and real servers.

Chains: ``tiny`` (model folders) -> ``tiny_generator`` (one DiffusersGenerator, its
pipeline and LoRA cache shared by the session) -> ``tiny_server`` (a real HTTP server
around it). ``support.serve`` starts a server around any generator for one test.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from t2i_contract.reference_backend import Generator, TinyModel, make_tiny_model

from .support import KeepOpen, Server, serve


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    return make_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_generator(tiny: TinyModel) -> Iterator[Generator]:
    from t2i_contract.reference_backend.diffusion import DiffusersGenerator

    from t2i_contract.protocol.urls import UrlPolicy

    # every family loaded at once; loopback URLs allowed so tests can serve reference images locally
    generator = DiffusersGenerator(models_dir=tiny.models_dir, loras_dir=tiny.loras_dir, vaes_dir=tiny.vaes_dir,
                                   ip_adapters_dir=tiny.ip_adapters_dir, url_policy=UrlPolicy(allow_private=True),
                                   max_loaded_models=6, torch_threads=1)
    yield generator
    generator.close()


@pytest.fixture(scope="session")
def tiny_server(tiny_generator: Generator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(KeepOpen(tiny_generator), tmp_path_factory.mktemp("tiny-server")) as server:
        yield server
