"""``t2i drift --contract PACK``: the pack's answers observed against its document."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

from t2i_contract.drift.live import run_drift
from t2i_contract.drift.settings import DriftSettings
from tests.packs.conftest import PackServer
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
    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda data: None
        body = b"".join(app(environ, capture))
        if environ["PATH_INFO"].endswith("txt2img") and captured["status"].startswith("200"):
            answer = json.loads(body)
            body = json.dumps(answer | {"images": ",".join(answer["images"])}).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], headers + [("Content-Length", str(len(body)))])
        return [body]
    return middleware


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
