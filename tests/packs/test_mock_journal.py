"""The mock's journal on a pack: each call with the pack's own answer, and no key kept."""
from __future__ import annotations

import requests

from tests.packs.conftest import PackServer

KEY = "sk-journal-secret"


def test_a_pack_call_is_journaled_with_its_answer_in_the_packs_shape(pack_server: PackServer) -> None:
    url = pack_server("mock", ("modelslab-v6", "openai-images"))
    sent = requests.post(url + "/v1/images/generations", json={"prompt": "a kite", "n": 1, "size": "256x256"},
                         headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
    [entry] = requests.get(url + "/__mock/requests", timeout=10).json()["requests"]
    assert entry["path"] == "/v1/images/generations" and entry["status"] == 200
    assert entry["answer"]["data"] == sent["data"], "the journal must show the answer the client got"
    assert KEY not in str(entry), "the Bearer key must never be kept"
