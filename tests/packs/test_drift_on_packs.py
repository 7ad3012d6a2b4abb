"""``t2i drift --contract PACK``: the pack's answers observed against its document."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from t2i_contract.drift.live import run_drift
from t2i_contract.drift.settings import DriftSettings
from tests.packs.conftest import PackServer
from tests.packs.wsgi import rewriting_json_answer
from tests.support import ServerThread


def _levels(findings: list[Any]) -> set[str]:
    return {str(f.level) for f in findings}


def test_the_mocks_of_both_packs_drift_nowhere_that_matters(pack_server: PackServer) -> None:
    url = pack_server("mock", ("openai-images", "a1111"), keys=("sk-d",))
    for contract in ("openai-images", "a1111"):
        findings = run_drift(DriftSettings(base_url=url, contract=contract, key="sk-d"))
        assert not [f for f in findings if f.level in ("error", "warning")], [f.message for f in findings]


def _images_as_text(app: Callable[..., Any]) -> Callable[..., Any]:
    """A server that writes ``images`` as one string instead of a list (a type drift)."""
    return rewriting_json_answer(
        app, lambda environ, status: environ["PATH_INFO"].endswith("txt2img") and status.startswith("200"),
        lambda answer: answer | {"images": ",".join(answer["images"])})


def test_a_type_drift_in_a_pack_answer_is_found(tmp_path: Path) -> None:
    from t2i_contract.mock_server import EXTENSION, MockConfig, create_app

    app = create_app(MockConfig(db_path=tmp_path / "m.sqlite3", contract=("a1111",)))
    try:
        with ServerThread(_images_as_text(app)) as server:
            findings = run_drift(DriftSettings(base_url=server.url, contract="a1111"))
    finally:
        app.extensions[EXTENSION].close()
    drifted = [f for f in findings if f.level == "error"]
    assert drifted and any("images" in f.path or "images" in f.message for f in drifted), \
        [(f.rule, f.path, f.message) for f in findings]
