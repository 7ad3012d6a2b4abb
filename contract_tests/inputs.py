"""The input images the suite sends to img2img and inpaint, and the server it serves them from.

:class:`InputImageServer` is a real HTTP server on ``host`` (127.0.0.1 by default)
and a free port, in a background thread, started like the webhook receiver. It
serves:

- ``/init.png``: an init image of :data:`INIT_SIZE`, a colour gradient, so a
  server that ignores it or resizes it shows;
- ``/init-b.png``: another init image of the same size (``init_image_used``);
- ``/mask.png``: a mask of the same size, black (kept) but for a white rectangle
  in the middle (repainted), the Stable Diffusion convention;
- ``/other-size.png``: a mask of half that size, for ``input_refused``;
- ``/not-an-image.png``: 200 with text bytes, for ``input_refused``;
- anything else: 404.

:class:`InputImages` says which value each input field gets: the server's URL,
or the same image in base64 (``form="base64"``) when the server under test
cannot reach the suite or its URL policy refuses loopback. It also keeps the
decoded pixels the ``img2img_size`` and ``inpaint_preserves`` checks compare with.
"""
from __future__ import annotations

import base64
import io
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from PIL import Image
from werkzeug.wrappers import Request, Response

from .listener import SuiteServer

__all__ = ["INIT_SIZE", "INPUT_FORMS", "InputImageServer", "InputImages", "closed_port_url", "init_png", "mask_png"]

# Not square and not the default 512x512, so an output of width x height is told apart from the init's size.
INIT_SIZE = (256, 192)
INPUT_FORMS = ("url", "base64")
NOT_AN_IMAGE = b"this is text, not a PNG or JPEG image\n"
# The white (repainted) part of the mask: the middle half of each side.
MASK_BOX = (INIT_SIZE[0] // 4, INIT_SIZE[1] // 4, 3 * INIT_SIZE[0] // 4, 3 * INIT_SIZE[1] // 4)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def init_png() -> bytes:
    """The init image: red grows left to right, green top to bottom, blue in stripes."""
    width, height = INIT_SIZE
    image = Image.new("RGB", INIT_SIZE)
    image.putdata([(x * 255 // (width - 1), y * 255 // (height - 1), 255 * ((x // 16 + y // 16) % 2))
                   for y in range(height) for x in range(width)])
    return _png(image)


def other_init_png() -> bytes:
    """Init image B, for ``init_image_used``: the same size, another picture (the gradients reversed, stripes
    the other way, so every region differs from init image A's)."""
    width, height = INIT_SIZE
    image = Image.new("RGB", INIT_SIZE)
    image.putdata([(255 - x * 255 // (width - 1), 255 - y * 255 // (height - 1), 255 * ((x // 16 + y // 16 + 1) % 2))
                   for y in range(height) for x in range(width)])
    return _png(image)


def mask_png() -> bytes:
    """The mask: black everywhere but :data:`MASK_BOX`, which is white."""
    image = Image.new("L", INIT_SIZE, 0)
    image.paste(255, MASK_BOX)
    return _png(image)


def other_size_png() -> bytes:
    """A mask of half the init image's size, which a server must refuse beside the init image."""
    return _png(Image.new("L", (INIT_SIZE[0] // 2, INIT_SIZE[1] // 2), 0))


def closed_port_url(host: str = "127.0.0.1") -> str:
    """An http URL on ``host`` where nothing listens (a port just bound and released)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/nothing-listens-here.png"


@dataclass(frozen=True)
class InputImages:
    """The values of the input fields for one run, and the pixels behind them."""

    base_url: str
    form: str = "url"
    files: dict[str, bytes] = field(default_factory=lambda: {"init.png": init_png(), "init-b.png": other_init_png(),
                                                             "mask.png": mask_png(),
                                                             "other-size.png": other_size_png()})

    def value(self, name: str) -> str:
        """``init.png`` or ``mask.png`` as the run sends it: a URL, or a base64 PNG data URI."""
        if self.form == "base64":
            return "data:image/png;base64," + base64.b64encode(self.files[name]).decode("ascii")
        return f"{self.base_url}/{name}"

    def fields(self, operation: str, input_fields: Iterable[str]) -> dict[str, str]:
        """Values for the operation's required input fields (``init_image``, ``mask_image``)."""
        names = {"init_image": "init.png", "mask_image": "mask.png"}
        return {name: self.value(names[name]) for name in input_fields if name in names}

    def as_form(self, form: str) -> InputImages:
        return InputImages(self.base_url, form, self.files)

    def rgba(self, name: str) -> tuple[tuple[int, int], bytes]:
        with Image.open(io.BytesIO(self.files[name])) as image:
            return image.size, image.convert("RGBA").tobytes()

    def mask(self) -> tuple[tuple[int, int], bytes]:
        """The mask's size and one byte per pixel (0 kept, 255 repainted)."""
        with Image.open(io.BytesIO(self.files["mask.png"])) as image:
            return image.size, image.convert("L").tobytes()


class InputImageServer(SuiteServer):
    """Serves the suite's input images; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host, "t2i-input-images")
        self.url = self.root
        self.images = InputImages(self.url)
        self.requests: list[str] = []
        self._lock = threading.Lock()

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = Request(environ).path.lstrip("/")
        with self._lock:
            self.requests.append(path)
        if path in self.images.files:
            response = Response(self.images.files[path], mimetype="image/png")
        elif path == "not-an-image.png":
            response = Response(NOT_AN_IMAGE, mimetype="image/png")  # the type claims what the bytes are not
        else:
            response = Response("not found", status=404, mimetype="text/plain")
        return response(environ, start_response)
