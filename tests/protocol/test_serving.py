"""Settings travel to granian's worker processes as JSON and come back as the same dataclass."""
from __future__ import annotations

from pathlib import Path

from t2i_contract.mock_server.config import MockConfig
from t2i_contract.protocol.serving import settings_from_env, settings_to_env
from t2i_contract.reference_backend.config import BackendConfig


def test_backend_settings_come_back_equal_with_paths_and_tuples(tmp_path: Path) -> None:
    config = BackendConfig(models_dir=tmp_path, data_dir=tmp_path / "data", keys=("k1", "k2"), queue="redis://h:1/0",
                           url_allow=("10.0.0.0/8",), port=0)
    back = settings_from_env(BackendConfig, settings_to_env(config))
    assert back == config
    assert isinstance(back.models_dir, Path) and back.keys == ("k1", "k2") and back.url_allow == ("10.0.0.0/8",)


def test_mock_settings_come_back_equal(tmp_path: Path) -> None:
    config = MockConfig(db_path=tmp_path / "m.sqlite3", keys=("k",))
    back = settings_from_env(MockConfig, settings_to_env(config))
    assert back == config and isinstance(back.db_path, Path)


def test_process_variables_named_like_request_data_never_reach_a_request(tmp_path: Path) -> None:
    """granian copies the worker's environment into every request's environ ("httpoxy"): a server started
    with HTTP_PREFER=code=500 forced a 500 on every request without a Prefer header, CONTENT_TYPE=text/plain
    refused every body sent without a Content-Type, and HTTP_X_LEAKED showed in the journal as a header."""
    import json

    import requests

    from t2i_contract.protocol.serving import drop_request_names
    from tests.processes import running
    from tests.support import free_port

    assert drop_request_names({"HTTP_PROXY": "x", "CONTENT_TYPE": "y", "PATH": "/bin", "T2I_X": "z"}) == [
        "CONTENT_TYPE", "HTTP_PROXY"]
    port = free_port()
    env = {"HTTP_PREFER": "code=500", "HTTP_X_LEAKED": "yes", "CONTENT_TYPE": "text/plain"}
    args = ["--port", str(port), "--db", str(tmp_path / "m.sqlite3")]
    with running("mock", args, tmp_path / "mock.log", port, env=env) as mock:
        body = {"key": "k", "model_id": "m", "prompt": "p", "width": 256, "height": 256}
        answer = requests.post(f"{mock.url}/api/v6/images/text2img", data=json.dumps(body), timeout=30)
        assert answer.status_code == 200 and answer.json()["status"] == "success", answer.text
        journal = requests.get(f"{mock.url}/__mock/requests", timeout=30).json()
    text = json.dumps(journal).lower()
    assert "x-leaked" not in text and "leaked" not in text, text[:500]
    assert "/api/v6/images/text2img" in text  # the request is there, without the process's variables
