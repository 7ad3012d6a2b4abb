"""``t2i test --contract PACK``: passes on the mock and the backend, and fails each broken variant on its check.

Each broken server is the mock behind a small WSGI middleware that makes one
mistake a real implementer could make (it ignores ``n``, the size, the seed, the
init image or the mask, accepts any key, or answers errors in its own shape); the
named pack check must fail on it.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from t2i_contract.contract_tests.settings import Settings
from t2i_contract.contract_tests.suite import run_suite
from tests.packs.conftest import PackServer
from tests.packs.wsgi import rewriting_answer, rewriting_json_answer, rewriting_request
from tests.support import ServerThread

KEY = "sk-suite"
CHECKS_RUN = {"openai-images": {"pack_conformance", "pack_size", "pack_forms", "pack_init_image", "pack_inpaint",
                                "pack_auth", "pack_errors"},
              "a1111": {"pack_conformance", "pack_size", "pack_determinism", "pack_init_image", "pack_inpaint",
                        "pack_errors"}}


def _suite(url: str, contract: str, key: str | None = KEY, model_id: str | None = None) -> Any:
    return run_suite(Settings(base_url=url, contract=contract, key=key, seed=5, timeout=120, model_id=model_id))


@pytest.mark.parametrize("kind", ["mock", "backend"])
@pytest.mark.parametrize("contract", ["openai-images", "a1111"])
def test_the_pack_suite_passes_on_both_servers(pack_server: PackServer, kind: str, contract: str) -> None:
    keys = (KEY,) if contract == "openai-images" else ()
    model = "tiny-sd" if kind == "backend" and contract == "openai-images" else None  # not dall-e-2
    report = _suite(pack_server(kind, (contract,), keys=keys), contract, key=KEY if keys else None, model_id=model)
    assert report.failed == [], report.render_text()
    passed = {name for name, result in report.results.items() if result.outcome == "PASS"}
    assert passed == CHECKS_RUN[contract], report.render_text()


# -- broken variants: the mock behind one mistake ---------------------------------------------
Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


def _rewriting_body(app: Callable[..., Any], rewrite: Rewrite) -> Callable[..., Any]:
    return rewriting_request(app, rewrite)


def _own_error_shape(app: Callable[..., Any]) -> Callable[..., Any]:
    """Answer every 4xx with a body of its own making (``{"message": ...}``), as a careless server might."""
    return rewriting_answer(app, lambda environ, status: status.startswith("4"),
                            lambda body: json.dumps({"message": "bad request"}).encode())


def _rewriting_answer(rewrite: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., Any]:
    """Pass 200 answers of generations through ``rewrite`` (a server that answers a little wrong)."""
    return lambda app: rewriting_json_answer(
        app, lambda environ, status: environ["REQUEST_METHOD"] == "POST" and status.startswith("200"), rewrite)


def _dead_links(answer: dict[str, Any]) -> dict[str, Any]:
    return answer | {"data": [item | {"url": item["url"] + "-gone"} if "url" in item else item
                              for item in answer.get("data", [])]}


def _drop(*names: str) -> Rewrite:
    return lambda body: {k: v for k, v in body.items() if k not in names}


def _random_seed(body: dict[str, Any]) -> dict[str, Any]:
    return body | {"seed": random.randrange(2**31)}


def _first_init_image_everywhere() -> Rewrite:
    seen: dict[str, Any] = {}

    def rewrite(body: dict[str, Any]) -> dict[str, Any]:
        if "init_images" in body:
            seen.setdefault("image", body["init_images"])
            return body | {"init_images": seen["image"]}
        return body
    return rewrite


BROKEN = {
    "openai-n-ignored": ("openai-images", lambda app: _rewriting_body(app, lambda b: b | {"n": 1}), "pack_size"),
    "openai-size-ignored": ("openai-images", lambda app: _rewriting_body(app, _drop("size")), "pack_size"),
    "openai-any-key": ("openai-images", None, "pack_auth"),
    "openai-own-error-shape": ("openai-images", _own_error_shape, "pack_errors"),
    "a1111-seed-ignored": ("a1111", lambda app: _rewriting_body(app, _random_seed), "pack_determinism"),
    "a1111-init-image-ignored": ("a1111", lambda app: _rewriting_body(app, _first_init_image_everywhere()),
                                 "pack_init_image"),
    "a1111-mask-ignored": ("a1111", lambda app: _rewriting_body(app, _drop("mask")), "pack_inpaint"),
    "openai-dead-image-links": ("openai-images", _rewriting_answer(_dead_links), "pack_forms"),
    "a1111-images-as-one-string": ("a1111", _rewriting_answer(lambda a: a | {"images": ",".join(a.get("images", []))}),
                                   "pack_conformance"),
}


@pytest.fixture
def broken_server(tmp_path: Path) -> Iterator[Callable[[str], tuple[str, str]]]:
    from t2i_contract.mock_server import EXTENSION, MockConfig, create_app

    apps = []

    def start(name: str) -> tuple[str, str]:
        contract, wrap, _ = BROKEN[name]
        keys = (KEY,) if contract == "openai-images" and wrap is not None else ()  # any-key: no keys at all
        app = create_app(MockConfig(db_path=tmp_path / f"{name}.sqlite3", contract=(contract,), keys=keys))
        apps.append(app)
        server = ServerThread(wrap(app) if wrap else app)
        server.__enter__()
        apps.append(server)
        return server.url, contract

    yield start
    for thing in reversed(apps):
        if isinstance(thing, ServerThread):
            thing.__exit__(None, None, None)
        else:
            thing.extensions[EXTENSION].close()


@pytest.mark.parametrize("name", list(BROKEN))
def test_each_broken_pack_server_fails_its_check(broken_server: Callable[[str], tuple[str, str]], name: str) -> None:
    url, contract = broken_server(name)
    report = _suite(url, contract, key=KEY if contract == "openai-images" else None)
    assert BROKEN[name][2] in report.failed, report.render_text()
