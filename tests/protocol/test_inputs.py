"""Input images: real PNG/JPEG bytes from Pillow, served by a loopback server or given as base64, and each failure."""
from __future__ import annotations

import base64
import io
import socket
import struct
import zlib
from dataclasses import replace
from typing import Callable, Iterator

import pytest
from PIL import Image

from t2i_contract.protocol.inputs import check_mask_size, load_input_image, load_input_images
from t2i_contract.protocol.outbound_errors import (
    BadBase64, BadDimensions, HttpStatusError, MaskSizeMismatch, NotAnImage, OutboundError, RedirectRefused,
    TooLarge, TooSlow, Unreachable, UrlRefused,
)
from t2i_contract.protocol.urls import UrlPolicy
from t2i_contract.spec import load_spec
from t2i_contract.wire.images import decode_input_image
from tests.protocol.outbound_servers import RawServer, closed_port, routes_app
from tests.support import ServerThread

LOCAL = UrlPolicy(allow=("127.0.0.1",))
LIMITS = load_spec().input_image_limits("text2img", "ip_adapter_image")
"""The loosest field's limits (8 to 4096 pixels a side): these small test images pass them."""
MAX_SIDE = LIMITS.max_side
LIMITS3 = {name: LIMITS for name in ("init_image", "mask_image", "ip_adapter_image")}


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def gradient(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    image = Image.new("RGB", size)
    image.putdata([(x * 7 % 256, y * 5 % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])])
    return image.convert(mode)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width``x``height``: a decompression bomb's header, with no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


PNG = encoded(gradient((48, 32), "RGBA"), "PNG")
JPEG = encoded(gradient((40, 24)), "JPEG")


@pytest.fixture(scope="module")
def images() -> Iterator[ServerThread]:
    routes = {
        "/cat.png": (200, {"Content-Type": "image/png"}, PNG),
        "/cat.jpg": (200, {"Content-Type": "image/jpeg"}, JPEG),
        "/jpeg-named.png": (200, {"Content-Type": "image/png"}, JPEG),
        "/page.png": (200, {"Content-Type": "image/png"}, b"<html>not an image</html>"),
        "/moved.png": (302, {"Location": "http://169.254.169.254/latest"}, b""),
        "/gone.png": (404, {}, b"gone"),
    }
    with ServerThread(routes_app(routes)) as running:
        yield running


@pytest.mark.parametrize(("path", "size", "mode"), [("/cat.png", (48, 32), "RGBA"), ("/cat.jpg", (40, 24), "RGB"),
                                                    ("/jpeg-named.png", (40, 24), "RGB")])
def test_a_fetched_png_or_jpeg_is_loaded(images: ServerThread, path: str, size: tuple[int, int], mode: str) -> None:
    image = load_input_image("HTTP" + images.url[4:] + path, field="init_image", policy=LOCAL, limits=LIMITS)
    assert (image.size, image.mode) == (size, mode)


def test_the_fetched_pixels_are_the_served_pixels(images: ServerThread) -> None:
    image = load_input_image(images.url + "/cat.png", field="init_image", policy=LOCAL, limits=LIMITS)
    assert image.tobytes() == Image.open(io.BytesIO(PNG)).tobytes()


B64 = base64.b64encode(PNG).decode()


@pytest.mark.parametrize("value", [
    B64, "data:image/png;base64," + B64, "DATA:image/png;BASE64," + B64, B64.rstrip("="),
    "\n".join(B64[i:i + 76] for i in range(0, len(B64), 76)),
    base64.urlsafe_b64encode(PNG).decode(), "data:;base64," + B64,
], ids=["plain", "data-uri", "data-uri-upper", "unpadded", "line-broken", "url-safe", "data-uri-no-type"])
def test_base64_forms_are_accepted(value: str) -> None:
    image = load_input_image(value, field="mask_image", policy=UrlPolicy(), limits=LIMITS)
    assert (image.size, image.mode) == ((48, 32), "RGBA")


def test_a_base64_jpeg_data_uri_gives_rgb() -> None:
    value = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    assert load_input_image(value, field="init_image", policy=UrlPolicy(), limits=LIMITS).mode == "RGB"


def failure(value: str, error: type[OutboundError], policy: UrlPolicy = LOCAL, **kwargs: object) -> OutboundError:
    with pytest.raises(error) as caught:
        load_input_image(value, field="init_image", policy=policy, **{"limits": LIMITS, **kwargs})
    body = caught.value.to_body()
    assert load_spec().responses.errors_at("/components/schemas/ErrorResponse", body) == []
    item = body["errors"][0]
    assert item["field"] == "init_image" and item["rule"] == error.code and item["value"]
    assert str(caught.value).startswith("init_image")
    return caught.value


def test_an_unreachable_url_is_its_own_error() -> None:
    failure(f"http://127.0.0.1:{closed_port()}/cat.png", Unreachable)


def test_a_url_the_policy_refuses_is_never_fetched(images: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a refused URL was connected to: {args}")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    err = failure(images.url + "/cat.png", UrlRefused, policy=UrlPolicy(), limits=LIMITS)
    assert "--private-urls allow" in str(err)
    failure("http://169.254.169.254/latest/meta-data/", UrlRefused)
    failure("file:///etc/passwd", UrlRefused)


def test_a_redirect_is_refused_not_followed(images: ServerThread) -> None:
    assert failure(images.url + "/moved.png", RedirectRefused).location == "http://169.254.169.254/latest"


def test_a_missing_image_is_reported_with_its_status(images: ServerThread) -> None:
    assert failure(images.url + "/gone.png", HttpStatusError).status == 404


def test_an_image_over_the_byte_limit_is_too_big(images: ServerThread) -> None:
    failure(images.url + "/cat.png", TooLarge, limits=replace(LIMITS, max_bytes=len(PNG) - 1))
    failure(B64, TooLarge, limits=replace(LIMITS, max_bytes=len(PNG) - 1))
    failure("A" * 4_000_000, TooLarge, limits=replace(LIMITS, max_bytes=1_000_000))


def test_a_slow_image_server_is_too_slow() -> None:
    def stall(send: Callable[[bytes], None], srv: RawServer) -> None:
        send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + PNG[:1])
        srv.release.wait()

    with RawServer(stall) as raw:
        failure(raw.url + "/slow.png", TooSlow, deadline=0.3)


def test_bytes_that_are_no_image_are_refused(images: ServerThread) -> None:
    failure(images.url + "/page.png", NotAnImage)
    failure(base64.b64encode(b"GIF89a" + b"\0" * 40).decode(), NotAnImage)
    failure(base64.b64encode(PNG[:60]).decode(), NotAnImage)
    failure(base64.b64encode(JPEG[: len(JPEG) // 2]).decode(), NotAnImage)
    failure("data:text/html;base64," + B64, NotAnImage)


@pytest.mark.parametrize("value", ["not base64!", "QUJD=A", "data:image/png,rawbytes", "data:image/png;base64",
                                   "====", "A"])
def test_bad_base64_is_refused(value: str) -> None:
    failure(value, BadBase64)


@pytest.mark.parametrize("size", [(MAX_SIDE + 1, 8), (8, 5000), (4, 64), (100_000, 100_000)],
                         ids=["too-wide", "too-tall", "too-small", "bomb-header"])
def test_dimensions_out_of_range_are_refused_before_decoding(size: tuple[int, int]) -> None:
    err = failure(base64.b64encode(png_header_only(*size)).decode(), BadDimensions)
    assert f"{size[0]}x{size[1]}" in str(err)


def test_a_large_jpeg_is_refused_from_its_header() -> None:
    data = encoded(Image.new("L", (MAX_SIDE + 8, 8)), "JPEG")
    with pytest.raises(BadDimensions, match=f"{MAX_SIDE + 8}x8"):
        decode_input_image(data, field="ip_adapter_image", value="x", limits=LIMITS)


def test_a_mask_of_another_size_is_refused_naming_mask_image() -> None:
    image, mask = gradient((48, 32)), Image.new("L", (32, 32))
    check_mask_size(image, Image.new("L", (48, 32)))
    with pytest.raises(MaskSizeMismatch) as caught:
        check_mask_size(image, mask, value="https://cdn.example/mask.png")
    item = caught.value.to_body()["errors"][0]
    assert (item["field"], item["rule"]) == ("mask_image", "mask_size")
    assert "32x32" in item["message"] and "48x32" in item["message"]


def test_several_inputs_load_together_and_the_mask_is_checked(images: ServerThread) -> None:
    mask = "data:image/png;base64," + base64.b64encode(encoded(Image.new("L", (48, 32), 255), "PNG")).decode()
    loaded = load_input_images({"init_image": images.url + "/cat.png", "mask_image": mask, "ip_adapter_image": None},
                               policy=LOCAL, mask=("mask_image", "init_image"), limits=LIMITS3)
    assert sorted(loaded) == ["init_image", "mask_image"] and loaded["mask_image"].image.size == (48, 32)
    with pytest.raises(MaskSizeMismatch, match="mask_image is 40x24 but init_image is 48x32"):
        load_input_images({"init_image": images.url + "/cat.png", "mask_image": images.url + "/cat.jpg"},
                          policy=LOCAL, mask=("mask_image", "init_image"), limits=LIMITS3)


def test_of_several_failing_inputs_the_first_field_is_reported(images: ServerThread) -> None:
    with pytest.raises(OutboundError) as caught:
        load_input_images({"init_image": "not base64!", "mask_image": images.url + "/page.png"}, policy=LOCAL,
                          limits=LIMITS3)
    assert caught.value.field == "init_image" and isinstance(caught.value, BadBase64)
