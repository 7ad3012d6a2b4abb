"""The outbound client against real servers on 127.0.0.1, let through by the allow-list.

Deadlines are asserted by the error they raise, never by elapsed time: a stalling
server holds its connection on an Event, and an injected clock makes "time passes
while bytes keep coming" deterministic.
"""
from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pytest

from t2i_contract.protocol.outbound import WEBHOOK_REPLY_BYTES, fetch, json_poster, post_json
from t2i_contract.protocol.outbound_errors import (
    HttpStatusError, RedirectRefused, TooLarge, TooSlow, Unreachable, UrlRefused,
)
from t2i_contract.protocol.urls import UrlPolicy
from tests.protocol.outbound_servers import RawServer, closed_port, routes_app
from tests.support import ServerThread

LOCAL = UrlPolicy(allow=("127.0.0.1",))
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"


@pytest.fixture(scope="module")
def requests_seen() -> list[dict]:
    return []


@pytest.fixture
def seen(requests_seen: list[dict]) -> list[dict]:
    requests_seen.clear()
    return requests_seen


@pytest.fixture(scope="module")
def server(requests_seen: list[dict]) -> Iterator[ServerThread]:
    routes = {
        "/hook": (200, {}, b"thanks"),
        "/big": (200, {}, b"x" * (WEBHOOK_REPLY_BYTES + 10)),
        "/image": (200, {"Content-Type": "image/png"}, b"\x89PNG" + b"0" * 996),
        "/moved": (307, {"Location": "http://127.0.0.1:1/internal"}, b""),
        "/error": (503, {}, b"busy"),
    }
    with ServerThread(routes_app(routes, requests_seen)) as running:
        yield running


def test_post_json_delivers_the_payload_with_json_content_type(server: ServerThread, seen: list[dict]) -> None:
    reply = post_json(server.url + "/hook", {"id": 7, "status": "success"}, policy=LOCAL)
    assert (reply.status, reply.body, reply.address) == (200, b"thanks", "127.0.0.1")
    assert json.loads(seen[0]["body"]) == {"id": 7, "status": "success"}
    assert seen[0]["headers"]["Content-Type"] == "application/json"


def test_a_policy_refusal_sends_nothing(server: ServerThread, seen: list[dict]) -> None:
    with pytest.raises(UrlRefused, match="--private-urls allow"):
        post_json(server.url + "/hook", {"id": 1}, policy=UrlPolicy())
    assert seen == []


def test_a_307_is_reported_and_not_followed(server: ServerThread, seen: list[dict]) -> None:
    with pytest.raises(RedirectRefused) as caught:
        post_json(server.url + "/moved", {"id": 1}, policy=LOCAL)
    assert (caught.value.status, caught.value.location) == (307, "http://127.0.0.1:1/internal")
    assert [r["path"] for r in seen] == ["/moved"]


def test_a_non_2xx_answer_is_an_http_status_error(server: ServerThread) -> None:
    with pytest.raises(HttpStatusError) as caught:
        post_json(server.url + "/error", {"id": 1}, policy=LOCAL)
    assert caught.value.status == 503 and "HTTP 503" in str(caught.value)


def test_the_webhook_poster_returns_every_status_and_raises_on_refusal(server: ServerThread) -> None:
    post = json_poster(LOCAL)
    assert [post(server.url + path, {"id": 1}, 5.0) for path in ("/hook", "/error", "/moved")] == [200, 503, 307]
    with pytest.raises(UrlRefused):
        json_poster(UrlPolicy())(server.url + "/hook", {"id": 1}, 5.0)


def test_a_webhook_reply_is_read_only_up_to_its_limit(server: ServerThread) -> None:
    reply = post_json(server.url + "/big", {"id": 1}, policy=LOCAL)
    assert reply.truncated and len(reply.body) == WEBHOOK_REPLY_BYTES


def test_fetch_returns_the_body_within_the_limit(server: ServerThread) -> None:
    assert fetch(server.url + "/image", policy=LOCAL, max_bytes=1000).body.startswith(b"\x89PNG")


def test_fetch_refuses_a_body_over_the_limit_by_content_length(server: ServerThread) -> None:
    with pytest.raises(TooLarge, match="Content-Length 1000"):
        fetch(server.url + "/image", policy=LOCAL, max_bytes=999, field="init_image")


def test_fetch_refuses_a_chunked_body_over_the_limit() -> None:
    def chunked(send: Callable[[bytes], None], srv: RawServer) -> None:
        send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(20):
            send(b"64\r\n" + b"y" * 100 + b"\r\n")
        send(b"0\r\n\r\n")

    with RawServer(chunked) as raw, pytest.raises(TooLarge) as caught:
        fetch(raw.url + "/x", policy=LOCAL, max_bytes=1500)
    assert "Content-Length" not in str(caught.value)


def test_a_closed_port_is_unreachable() -> None:
    with pytest.raises(Unreachable, match="connection refused"):
        fetch(f"http://127.0.0.1:{closed_port()}/x", policy=LOCAL, field="init_image")


def test_an_answer_that_is_not_http_is_unreachable() -> None:
    with RawServer(lambda send, srv: send(b"SSH-2.0-OpenSSH_9.6\r\n")) as raw, pytest.raises(Unreachable) as caught:
        fetch(raw.url + "/x", policy=LOCAL)
    assert "not valid HTTP" in str(caught.value)


@pytest.mark.parametrize("sent", [b"", b"HTTP/1.1 200 OK\r\n", HEAD + b"x"],
                         ids=["nothing", "half-a-head", "one-body-byte"])
def test_a_stalled_receiver_is_cut_at_the_deadline(sent: bytes) -> None:
    def stall(send: Callable[[bytes], None], srv: RawServer) -> None:
        send(sent)
        srv.answered.set()
        srv.release.wait()

    with RawServer(stall) as raw:
        with pytest.raises(TooSlow) as caught:
            post_json(raw.url + "/hook", {"id": 1}, policy=LOCAL, deadline=1.0)
        assert raw.answered.wait(10), "the server never got to its answer"
    assert "longer than 1 s" in str(caught.value) and caught.value.field == "webhook"


def test_the_deadline_covers_the_whole_answer_not_each_read() -> None:
    """Bytes keep arriving (each read succeeds), but the clock says a second passes per read."""
    def trickle(send: Callable[[bytes], None], srv: RawServer) -> None:
        send(HEAD)
        while not srv.release.is_set():
            send(b"z")

    ticks = iter(range(10**6))
    with RawServer(trickle) as raw, pytest.raises(TooSlow):
        fetch(raw.url + "/slow", policy=LOCAL, deadline=5, clock=lambda: float(next(ticks)))


def test_the_connection_goes_to_the_checked_address_with_the_original_host() -> None:
    """DNS rebinding: a second lookup would answer 127.0.0.2, which the policy refuses and nothing serves."""
    answers = iter([["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return next(answers)

    policy = UrlPolicy(allow=("127.0.0.1/32",), resolver=rebinding)
    seen: list[dict] = []
    with ServerThread(routes_app({"/hook": (204, {}, b"")}, seen)) as running:
        reply = post_json(f"http://hooks.example:{running.port}/hook", {"id": 3}, policy=policy)
    assert (reply.status, reply.address, calls) == (204, "127.0.0.1", ["hooks.example"])
    assert seen[0]["headers"]["Host"] == f"hooks.example:{running.port}"


def _self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("name, ok", [("cdn.example", True), ("other.example", False)])
def test_https_sends_the_original_name_as_sni_and_verifies_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              name: str, ok: bool) -> None:
    import ssl

    cert, key = _self_signed(tmp_path, "cdn.example")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server_context.sni_callback = lambda sock, server_name, ctx: sni.append(server_name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(65536)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (ssl.SSLError, OSError):
            pass  # the client refused the certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    policy = UrlPolicy(allow=("127.0.0.1",), resolver=lambda host, p: ["127.0.0.1"])
    try:
        if ok:
            assert fetch(f"https://{name}:{port}/i.png", policy=policy).body == b"ok"
        else:
            with pytest.raises(Unreachable, match="TLS"):
                fetch(f"https://{name}:{port}/i.png", policy=policy)
    finally:
        thread.join(timeout=10)
        listener.close()
    assert sni == [name]


def test_a_resolver_that_does_not_answer_is_cut_at_the_deadline() -> None:
    answer = threading.Event()

    def hanging(host: str, port: int) -> Sequence[str]:
        answer.wait()
        return ["127.0.0.1"]

    try:
        with pytest.raises(TooSlow, match="did not resolve"):
            fetch("http://slow-dns.example/i.png", policy=UrlPolicy(allow=("127.0.0.1",), resolver=hanging),
                  deadline=0.2)
    finally:
        answer.set()


def test_the_system_resolver_reads_an_address_without_dns() -> None:
    from t2i_contract.protocol.urls import system_resolver

    assert system_resolver("127.0.0.1", 80) == ("127.0.0.1",)
