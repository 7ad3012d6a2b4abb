"""Intake: Content-Type, body limits (also when chunked), and the constant-time key check."""
from __future__ import annotations

import io
from typing import Any

import pytest

from t2i_contract.protocol import AuthError, BodyLimits, KeyRing, RequestRejected, is_json, read_body
from t2i_contract.protocol.intake import INPUT_IMAGE_BYTES
from t2i_contract.spec import load_spec


def environ(body: bytes, content_type: str | None = "application/json", *, length: bool = True) -> dict[str, Any]:
    env: dict[str, Any] = {"wsgi.input": io.BytesIO(body), "REQUEST_METHOD": "POST"}
    if content_type is not None:
        env["CONTENT_TYPE"] = content_type
    if length:
        env["CONTENT_LENGTH"] = str(len(body))
    else:
        env["wsgi.input_terminated"] = True  # a chunked body, de-chunked by the server
    return env


@pytest.mark.parametrize(("content_type", "ok"), [
    ("application/json", True), ("application/json; charset=utf-8", True), ("APPLICATION/JSON", True),
    ("application/problem+json", True), (None, True), ("text/plain", False),
    ("application/x-www-form-urlencoded", False), ("multipart/form-data; boundary=x", False),
])
def test_only_json_content_types_are_read(content_type: str | None, ok: bool) -> None:
    assert is_json(content_type) is ok


def test_a_text_plain_body_is_refused_naming_the_header() -> None:
    with pytest.raises(RequestRejected) as caught:
        read_body(environ(b"{}", "text/plain"), 100)
    assert caught.value.field == "Content-Type" and caught.value.value == "text/plain"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_and_one_at_it_is_read(chunked: bool) -> None:
    assert read_body(environ(b"x" * 100, length=not chunked), 100) == b"x" * 100
    with pytest.raises(RequestRejected) as caught:
        read_body(environ(b"x" * 101, length=not chunked), 100)
    assert caught.value.problems[0].rule == "max_size"


def test_limits_are_per_operation() -> None:
    limits = BodyLimits(default=10, per_operation={"fetch": 5})
    assert (limits.of("text2img"), limits.of("fetch")) == (10, 5)
    with pytest.raises(ValueError, match="fetch"):
        BodyLimits(per_operation={"fetch": 0})


def test_operations_that_require_input_images_get_room_for_them() -> None:
    limits = BodyLimits.for_spec(load_spec(), default=1000)
    assert limits.of("text2img") == limits.of("fetch") == 1000  # ip_adapter_image is optional: no room
    assert limits.of("img2img") == 1000 + INPUT_IMAGE_BYTES
    assert limits.of("inpaint") == 1000 + 2 * INPUT_IMAGE_BYTES  # init and mask: two 1024x1024 PNGs fit
    assert INPUT_IMAGE_BYTES > 4 * 1024 * 1024 * 4 // 3  # a 4 MiB PNG fits, in base64


def test_keys_are_checked_and_never_shown() -> None:
    ring = KeyRing(("alpha", "beta"))
    ring.check({"key": "beta"})
    for body in ({"key": "alph"}, {"key": ""}, {}, {"key": 5}, {"key": "\ud800"}):
        with pytest.raises(AuthError):
            ring.check(body)
    assert "alpha" not in repr(ring) and "beta" not in repr(ring)
    KeyRing().check({})  # no keys: anyone
