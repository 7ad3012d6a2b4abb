"""``t2i proxy --contract PACK``: a pack's real traffic checked, its image links sent through the proxy."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import openai
import pytest
import requests

from t2i_contract.drift.proxy import REPORT_HEADER, VIOLATIONS_HEADER, ProxySettings, create_app
from tests.packs.conftest import PackServer
from tests.packs.images import picture, png
from tests.support import ServerThread

KEY = "sk-proxy"


@pytest.fixture
def proxied(pack_server: PackServer) -> Iterator[str]:
    upstream = pack_server("mock", ("openai-images",), keys=(KEY,))
    with ServerThread(create_app(ProxySettings(upstream=upstream, contract="openai-images"))) as proxy:
        yield proxy.url


def test_a_conforming_generation_and_its_download_pass_the_proxy(proxied: str) -> None:
    answer = requests.post(proxied + "/v1/images/generations", json={"prompt": "a kite", "n": 1, "size": "256x256"},
                           headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    assert answer.status_code == 200 and answer.headers[VIOLATIONS_HEADER] == "0", answer.headers.get(REPORT_HEADER)
    url = answer.json()["data"][0]["url"]
    assert url.startswith(proxied), "the image link was not rewritten to the proxy"
    download = requests.get(url, timeout=30)
    assert download.status_code == 200 and download.headers[VIOLATIONS_HEADER] == "0"


def test_the_official_client_works_through_the_proxy_with_a_multipart_edit(proxied: str) -> None:
    client = openai.OpenAI(base_url=proxied + "/v1", api_key=KEY, max_retries=0)
    result = client.images.edit(image=("p.png", png(picture()), "image/png"), prompt="a door", n=1,
                                response_format="b64_json")
    assert len(result.data) == 1


def test_a_request_that_breaks_the_pack_is_reported_naming_the_field(proxied: str) -> None:
    answer = requests.post(proxied + "/v1/images/generations", json={"prompt": "a kite", "n": 11},
                           headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    report = json.loads(answer.headers[REPORT_HEADER])
    assert answer.status_code == 400 and answer.headers[VIOLATIONS_HEADER] == "1"
    assert report[0].startswith("request: n") and "11" in report[0]


def test_a_multipart_edit_without_its_image_is_reported(proxied: str, tmp_path: Path) -> None:
    answer = requests.post(proxied + "/v1/images/edits", data={"prompt": "a door"},
                           files={"mask": ("m.png", png(picture()), "image/png")},
                           headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    report = json.loads(answer.headers[REPORT_HEADER])
    assert any(line.startswith("request: image") for line in report), report
