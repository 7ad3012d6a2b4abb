"""Shared pytest set-up: hypothesis profiles and the repository's paths.

Profiles: ``dev`` (default, fast, random: it keeps exploring on every run) and
``ci`` (thorough and derandomised, so CI's verdict on a commit is reproducible;
chosen when CI=true). Select one explicitly with HYPOTHESIS_PROFILE=<name>.

The contract suite's own seed follows the same rule: a ``t2i test`` that a test runs
without ``--seed`` draws one at random, except under CI=true, where ``T2I_TEST_SEED``
is pinned (unless already set) so CI's verdict does not depend on a draw.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.leaks import Watch

ROOT = Path(__file__).resolve().parent.parent

if TYPE_CHECKING:
    from t2i_contract.reference_backend import Generator, TinyModel

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
CI_SUITE_SEED = "20261129"
if os.environ.get("CI"):
    os.environ.setdefault("T2I_TEST_SEED", CI_SUITE_SEED)


# Issue 18, item 3: every process a session starts is gone at its end (tests/leaks.py). The whole suite's
# sessions (each xdist worker's own) carry the mark from their first test; after each test the newly seen
# marked processes are noted with that test's id, so a leak names the test that started it.
_WATCH = Watch()
_RUNNING = ["(session start)"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _RUNNING[0] = item.nodeid
    yield
    _WATCH.note(item.nodeid)


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Any marked process still living at the session's end (after a polled grace) fails its last test,
    named with the test it was first seen during, and is killed so that nothing stays behind either way."""
    _WATCH.start()
    try:
        yield
    finally:
        _WATCH.stop()
    left = _WATCH.left(_RUNNING[0])
    if left:
        pytest.fail("processes left behind by the tests:\n" + "\n".join(map(str, left)), pytrace=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with the most ``slow`` tests first, then the files with the most tests, each file's own order
    kept: under ``pytest -n`` (--dist loadfile --no-loadscope-reorder) the workers start on the long files,
    so none is left running alone at the end."""
    slow: dict[str, int] = {}
    count: dict[str, int] = {}
    for item in items:
        path = item.location[0]
        slow[path] = slow.get(path, 0) + (item.get_closest_marker("slow") is not None)
        count[path] = count.get(path, 0) + 1
    items.sort(key=lambda item: (-slow[item.location[0]], -count[item.location[0]]))  # stable within a file


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def upstream_example() -> dict:
    import json

    return json.loads((ROOT / "examples" / "upstream-example.json").read_text())


# The tiny diffusers models, built once per run and shared by every suite that needs a real
# backend (reference_backend, servers, hardening, fuzz): one TinyModel, one DiffusersGenerator.
# Under pytest -n the workers of one run share one copy (built by the first, under a lock, in the
# run's temporary folder); tests that change a model folder change a copy of it.
@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    from t2i_contract.reference_backend import make_tiny_model
    from t2i_contract.reference_backend.tiny import TinyModel

    if not os.environ.get("PYTEST_XDIST_WORKER"):  # not under xdist: this session's own
        return make_tiny_model(tmp_path_factory.mktemp("tiny"))
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, above each worker's own
    with _locked(shared / "tiny.lock"):
        root = shared / "tiny"
        if not (root / ".complete").exists():
            if root.exists():
                shutil.rmtree(root)  # a build interrupted by a worker that died
            make_tiny_model(root)
            (root / ".complete").touch()
    return TinyModel(root)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def tiny_generator(tiny: TinyModel) -> Iterator[Generator]:
    from t2i_contract.reference_backend.diffusion import DiffusersGenerator

    # every family loaded at once (reference images are loaded by the server that accepts the request)
    generator = DiffusersGenerator(models_dir=tiny.models_dir, loras_dir=tiny.loras_dir, vaes_dir=tiny.vaes_dir,
                                   ip_adapters_dir=tiny.ip_adapters_dir,
                                   max_loaded_models=6, torch_threads=1)
    yield generator
    generator.close()
