"""Fixtures for the behaviour suite: both servers, started once per session, and their answers.

``tiny_generator`` (the real tiny diffusers model, built once) -> ``backend_main``;
``mock_main`` and ``mock_granian_main`` (``t2i mock`` in its own process) beside it. ``*_queue``
are a second set that allow one queued job and never run it, for the 429 case. ``answers`` runs
each case once per server and keeps the answer, so the per-server test and the agreement test
judge the very same answers.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

# The tiny model and its DiffusersGenerator are tests/conftest.py's session fixtures, shared
# with tests/reference_backend, so every suite runs the backend the same way.

from .targets import Target, serve_backend, serve_mock, serve_mock_process

if TYPE_CHECKING:
    from t2i_contract.reference_backend import Generator

    from .cases import Case
    from .checks import Answer


@pytest.fixture(scope="session")
def mock_main(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with serve_mock(tmp_path_factory.mktemp("mock-main")) as target:
        yield target


@pytest.fixture(scope="session")
def backend_main(tiny_generator: Generator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with serve_backend(tiny_generator, tmp_path_factory.mktemp("backend-main")) as target:
        yield target


@pytest.fixture(scope="session")
def mock_granian_main(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with serve_mock_process(tmp_path_factory.mktemp("mock-granian-main")) as target:
        yield target


@pytest.fixture(scope="session")
def mock_granian_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with serve_mock_process(tmp_path_factory.mktemp("mock-granian-queue"), max_queued=1, hold=True) as target:
        yield target


@pytest.fixture(scope="session")
def mock_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with serve_mock(tmp_path_factory.mktemp("mock-queue"), max_queued=1, hold=True) as target:
        yield target


@pytest.fixture(scope="session")
def backend_queue(tiny_generator: Generator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with serve_backend(tiny_generator, tmp_path_factory.mktemp("backend-queue"), max_queued=1, hold=True) as target:
        yield target


class Answers:
    """Each case's answer from each server, made once: a case that queues or delivers is not repeated."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._seen: dict[tuple[str, str], Answer | BaseException] = {}

    def __call__(self, case: Case, kind: str) -> Answer:
        key = (case.id, kind)
        if key not in self._seen:
            target: Target = self._request.getfixturevalue(f"{kind}_{case.servers}")
            try:
                self._seen[key] = case.run(target)
            except Exception as exc:  # kept, so the agreement test reports the same failure
                self._seen[key] = exc
        seen = self._seen[key]
        if isinstance(seen, BaseException):
            raise AssertionError(f"{case.id} on the {kind}: {type(seen).__name__}: {seen}") from seen
        return seen


@pytest.fixture(scope="session")
def answers(request: pytest.FixtureRequest) -> Answers:
    return Answers(request)
