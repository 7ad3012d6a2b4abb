"""Issue 10, item 2: webhooks go through the URL policy on both servers, over HTTP.

Reproduced before the fixes (5471b43): a backend posted webhooks to every spelling of
loopback (127.0.0.1, localhost, 0x7f000001, 2130706433, 127.1, 0, [::1]); a 307 from the
receiver re-POSTed the payload to the path it named; http://169.254.169.254/ and
http://10.0.0.1:6379/ passed validation. Which addresses the policy refuses, and that it
decides without connecting, is tests/protocol/test_urls.py's (10/8, 169.254.169.254,
fd00::/8 and the other ranges, with an injected resolver); here the servers answer for it.
Every test runs inside a loopback guard, so even a server that forgot the policy sends no
packet off this machine.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterable, Iterator

import pytest
from werkzeug.wrappers import Request, Response

from t2i_contract.protocol import PRIVATE_URLS_FLAG
from tests.fuzz.loopback import LoopbackGuard
from tests.support import ServerThread, WebhookListener, wait_for

from .answers import PNG_BASE64, error_fields, in_error_shape
from .conftest import KINDS, Launch

LOOPBACK_SPELLINGS = ["127.0.0.1", "localhost", "0x7f000001", "2130706433", "127.1", "0", "[::1]", "0177.0.0.1",
                      "LOCALHOST.", "[::ffff:127.0.0.1]", "127.0.0.1."]
NEVER_ALLOWED = ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook",
                 "http://[::ffff:169.254.169.254]/hook"]
SETTLED = ("delivered", "failed")
TIMEOUT = 120.0  # polling deadline: generous, never a claim about speed


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[LoopbackGuard]:
    with LoopbackGuard() as guard:
        yield guard
    assert not guard.refused, f"a server tried to leave loopback: {guard.refused}"


def find(value: Any, name: str) -> Any:
    """The first value under key ``name`` anywhere in a decoded JSON answer."""
    if isinstance(value, dict):
        if name in value:
            return value[name]
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = find(item, name)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_a_strict_backend_refuses_every_spelling_of_loopback_naming_the_flag(launch: Launch,
                                                                             receiver: WebhookListener,
                                                                             host: str) -> None:
    target = launch("backend")
    port = receiver.url.split(":")[2].split("/")[0]
    response = target.text2img(target.body(webhook=f"http://{host}:{port}/hook"))
    in_error_shape("text2img", response)
    assert response.status_code == 400
    assert error_fields(response) == ["webhook"]
    assert f"{PRIVATE_URLS_FLAG} allow" in response.json()["message"], response.text
    assert not receiver.received


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("url", NEVER_ALLOWED)
def test_link_local_and_metadata_addresses_are_refused_by_both_servers_by_default(launch: Launch, kind: str,
                                                                                 url: str) -> None:
    target = launch(kind)
    response = target.text2img(target.body(webhook=url))
    in_error_shape("text2img", response)
    assert error_fields(response) == ["webhook"], response.text


def test_a_strict_backend_refuses_a_private_address(launch: Launch) -> None:
    target = launch("backend")
    response = target.text2img(target.body(webhook="http://10.0.0.1:6379/"))
    in_error_shape("text2img", response)
    assert error_fields(response) == ["webhook"]
    assert f"{PRIVATE_URLS_FLAG} allow" in response.json()["message"]


class Redirecting:
    """POST /hook answers 307 to /internal; POST /internal records what reached it."""

    def __init__(self) -> None:
        self.hooks = 0
        self.internal = 0
        self.lock = threading.Lock()
        self.server = ServerThread(self._wsgi)
        self.url = self.server.url + "/hook"

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        request.get_data()
        with self.lock:
            if request.path == "/internal":
                self.internal += 1
                return Response("ok")(environ, start_response)
            self.hooks += 1
        return Response("", status=307, headers={"Location": "/internal"})(environ, start_response)


@pytest.mark.parametrize("kind", KINDS)
def test_a_redirect_from_the_receiver_is_not_followed(launch: Launch, kind: str) -> None:
    once = {"webhook_attempts": 1} if kind == "mock" else {"webhook_attempts": 1, "url_allow": ("127.0.0.1",)}
    target = launch(kind, **once)
    redirecting = Redirecting()
    with redirecting.server:
        created = target.text2img(target.body(webhook=redirecting.url))
        assert created.status_code == 200, created.text
        job = created.json()["id"]

        def settled() -> str | None:
            status = find(target.fetch_by_id(job).json(), "webhook_status")
            return status if isinstance(status, str) and status.startswith(SETTLED) else None

        status = wait_for(settled, timeout=TIMEOUT, interval=0.05)
    assert redirecting.hooks == 1
    assert redirecting.internal == 0, "the 307 was followed: the payload was re-POSTed to /internal"
    assert status.startswith("failed") and "307" in status, status


INPUT_IMAGES = [("img2img", "init_image"), ("inpaint", "init_image"), ("inpaint", "mask_image")]


@pytest.mark.parametrize(("operation", "field"), INPUT_IMAGES, ids=[f"{o}-{f}" for o, f in INPUT_IMAGES])
@pytest.mark.parametrize("host", ["127.0.0.1", "0x7f000001", "[::1]", "10.0.0.1", "169.254.169.254"])
def test_a_strict_backend_refuses_input_images_on_internal_addresses_naming_the_field(
        launch: Launch, receiver: WebhookListener, operation: str, field: str, host: str) -> None:
    """Issue 10 said the next issue's input images would be fetched too: the same policy, the same answer."""
    target = launch("backend")
    port = receiver.url.split(":")[2].split("/")[0]
    body = {"key": target.body()["key"], "model_id": "tiny-sd", "prompt": "a lighthouse",
            "init_image": PNG_BASE64, "mask_image": PNG_BASE64, "num_inference_steps": 2}
    if operation == "img2img":
        del body["mask_image"]
    body[field] = f"http://{host}:{port}/image.png"
    response = target.request("POST", target.path(operation), json=body)
    in_error_shape(operation, response)
    assert error_fields(response) == [field], response.text
    assert not receiver.received
