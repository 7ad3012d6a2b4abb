"""A user's own contract: a document with x-t2i hints, served by the mock from its path."""
from __future__ import annotations

import base64
import io
from pathlib import Path

import requests
import yaml
from PIL import Image

from tests.packs.conftest import PackServer

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Pictures API", "version": "1"},
    "x-t2i-wire": {
        "key": {"in": "header", "name": "X-Api-Key"},
        "lifecycle": {"kind": "sync"},
        "output": {"field": "pictures", "forms": ["base64"]},
        "error": {"status": 400, "body": {"problem": "{message}", "where": "{field}"},
                  "message-path": ["problem"], "field-path": ["where"]},
        "not-implemented": {"status": 404, "rule": "operation"},
    },
    "paths": {"/draw": {"post": {
        "operationId": "draw",
        "x-t2i-operation": {"role": "generate", "kind": "text2img",
                            "semantics": {"prompt": "text", "width": "w", "height": "h", "samples": "count",
                                          "seed": "seed"}},
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["text"],
            "properties": {"text": {"type": "string", "minLength": 1},
                           "w": {"type": "integer", "minimum": 64, "maximum": 512, "default": 64},
                           "h": {"type": "integer", "minimum": 64, "maximum": 512, "default": 64},
                           "count": {"type": "integer", "minimum": 1, "maximum": 3, "default": 1},
                           "seed": {"type": "integer"}}}}}},
        "responses": {"200": {"description": "the pictures", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"pictures": {"type": "array", "items": {"type": "string"}}}}}}},
                      "400": {"description": "a bad request"}},
    }}},
}


def test_a_users_document_is_served_with_its_own_fields_key_and_error_shape(tmp_path: Path,
                                                                             pack_server: PackServer) -> None:
    path = tmp_path / "pictures.yaml"
    path.write_text(yaml.safe_dump(DOCUMENT))
    url = pack_server("mock", (str(path),), keys=("secret",))
    answer = requests.post(url + "/draw", json={"text": "a kite", "w": 96, "h": 64, "count": 3},
                           headers={"X-Api-Key": "secret"}, timeout=10)
    assert answer.status_code == 200, answer.text
    pictures = [Image.open(io.BytesIO(base64.b64decode(p))) for p in answer.json()["pictures"]]
    assert [picture.size for picture in pictures] == [(96, 64)] * 3
    refused = requests.post(url + "/draw", json={"text": "a kite", "count": 4}, headers={"X-Api-Key": "secret"},
                            timeout=10)
    assert refused.status_code == 400 and refused.json()["where"] == "count" and "4" in refused.json()["problem"]
    stranger = requests.post(url + "/draw", json={"text": "a kite"}, headers={"X-Api-Key": "nope"}, timeout=10)
    assert stranger.status_code == 401 and set(stranger.json()) == {"problem", "where"}
