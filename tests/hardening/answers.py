"""Talking to the servers the way every regression test here does: raw requests, a real input
image, and the judgement of answers."""
from __future__ import annotations

import base64
import io
from typing import Any

import requests
from PIL import Image

from t2i_contract.spec import load_spec
from tests.servers.targets import Target

__all__ = ["PNG_BASE64", "error_fields", "in_error_shape", "job_id", "raw_post"]


def _png_base64() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (20, 120, 200)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


PNG_BASE64 = _png_base64()
"""A real 256x256 PNG in base64: an input image (init_image, mask_image) both servers read."""


def in_error_shape(operation_id: str, response: requests.Response) -> None:
    """Assert ``response`` is a 4xx the spec documents for the operation, in its error shape."""
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    problems = load_spec().responses.check_answer(operation_id, response.status_code,
                                                  response.headers.get("Content-Type", ""), response.content)
    assert not problems, f"{response.status_code} {response.text[:300]}: {problems}"


def error_fields(response: requests.Response) -> list[str]:
    """The fields an error answer names, in order."""
    return [str(error.get("field")) for error in response.json().get("errors", [])]


def job_id(response: requests.Response) -> int:
    """The id of the job a text2img answer made."""
    assert response.status_code == 200, response.text[:500]
    return int(response.json()["id"])


def raw_post(target: Target, operation_id: str, body: bytes | str, *, headers: dict[str, str] | None = None,
             **params: Any) -> requests.Response:
    """POST exactly these bytes (JSON unless ``headers`` say otherwise) to an operation of ``target``."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    return target.request("POST", target.path(operation_id, **params), data=data,
                          headers={"Content-Type": "application/json", **(headers or {})})
