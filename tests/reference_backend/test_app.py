"""The HTTP layer and the job queue, over real HTTP, with the cheap deterministic FakeGenerator."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
import requests

from t2i_contract.protocol import ManualClock
from t2i_contract.reference_backend import FakeGenerator
from t2i_contract.spec import load_spec
from tests.support import WebhookListener, wait_for

from .support import API, KEY, decode_png, serve, text2img_body

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator

    from t2i_contract.spec import Text2ImgRequest

    from .support import Server

CHECK = load_spec().responses


def fake(**kwargs: Any) -> FakeGenerator:
    return FakeGenerator(("tiny-sd",), **kwargs)


def conforms(operation: str, response: requests.Response) -> dict[str, Any]:
    body = response.json()
    problems = CHECK.check(operation, response.status_code, body)
    assert problems == [], problems
    return body


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    with serve(fake(), tmp_path) as running:
        yield running


@pytest.fixture()
def gate() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture()
def slow_server(tmp_path: Path, gate: threading.Event) -> Iterator[Server]:
    """sync_timeout 0: every text2img answers processing; jobs wait until the gate opens."""
    with serve(fake(gate=gate), tmp_path, sync_timeout=0.0) as running:
        yield running
        gate.set()  # let the worker go before the server stops


def test_finished_in_time_answers_success_conforming_to_the_spec(server: Server) -> None:
    body = conforms("text2img", server.text2img(track_id="t-1"))
    assert body["status"] == "success"
    assert body["meta"]["seed"] == 1234 and body["meta"]["track_id"] == "t-1"
    assert "key" not in body["meta"]
    assert body["output"] == body["proxy_links"]
    image = requests.get(body["output"][0], timeout=10)
    assert image.headers["Content-Type"] == "image/png"
    assert decode_png(image.content).size == (256, 256)


def test_slow_job_answers_processing_then_both_fetch_forms_give_success(slow_server: Server, gate: threading.Event) -> None:
    body = conforms("text2img", slow_server.text2img(samples=2))
    assert body["status"] == "processing"
    assert body["eta"] > 0 and body["output"] == []
    job_id = body["id"]
    assert body["fetch_result"] == f"{slow_server.url}{API}/fetch/{job_id}"
    assert len(body["future_links"]) == 2
    polled = conforms("fetchById", requests.post(body["fetch_result"], json={"key": KEY}, timeout=10))
    assert polled["status"] == "processing" and polled["id"] == job_id
    gate.set()
    done = wait_for(lambda: slow_server.fetch(job_id).json()["status"] == "success" and slow_server.fetch(job_id))
    by_id = conforms("fetchById", done)
    by_body = conforms("fetch", slow_server.post(f"{API}/fetch", {"key": KEY, "request_id": str(job_id)}))
    assert by_id == by_body
    assert by_id["output"] == body["future_links"]
    assert all(requests.get(url, timeout=10).status_code == 200 for url in by_id["output"])


@pytest.mark.parametrize("prefer", ["respond-async", "status=processing, eta=1", "wait=5; respond-async"])
def test_prefer_respond_async_answers_processing_at_once(server: Server, prefer: str) -> None:
    response = server.post(f"{API}/text2img", text2img_body(), headers={"Prefer": prefer})
    body = conforms("text2img", response)
    assert body["status"] == "processing"
    assert wait_for(lambda: server.fetch(body["id"]).json()["status"] == "success")


def test_unrelated_prefer_header_changes_nothing(server: Server) -> None:
    response = server.post(f"{API}/text2img", text2img_body(), headers={"Prefer": "return=minimal"})
    assert response.json()["status"] == "success"


class Rendezvous(FakeGenerator):
    """Each generation waits until ``parties`` generations are running at once (or fails after 60 s)."""

    def __init__(self, parties: int) -> None:
        super().__init__(("tiny-sd",))
        self.barrier = threading.Barrier(parties)

    def generate(self, request: Text2ImgRequest, seed: int) -> Any:
        self.barrier.wait(60)
        return super().generate(request, seed)


def test_two_workers_run_two_jobs_at_once(tmp_path: Path) -> None:
    with serve(Rendezvous(2), tmp_path, generation_threads=2, sync_timeout=0.0) as server:
        ids = [server.text2img().json()["id"] for _ in range(2)]
        finished = wait_for(lambda: all(server.fetch(i).json()["status"] != "processing" for i in ids), timeout=90)
        assert finished and [server.fetch(i).json()["status"] for i in ids] == ["success", "success"]


def test_fetch_never_starts_a_generation(server: Server) -> None:
    generator = server.service.generator
    job_id = server.text2img().json()["id"]
    calls = len(generator.calls)
    for _ in range(3):
        assert server.fetch(job_id).json()["status"] == "success"
    assert len(generator.calls) == calls


def test_jobs_run_first_in_first_out(slow_server: Server, gate: threading.Event) -> None:
    ids = [slow_server.text2img(prompt=f"p{i}").json()["id"] for i in range(3)]
    assert ids == sorted(ids)
    gate.set()
    wait_for(lambda: all(slow_server.fetch(i).json()["status"] == "success" for i in ids))
    prompts = [request.prompt for request, _ in slow_server.service.generator.calls]
    assert prompts == ["p0", "p1", "p2"]


def test_eta_grows_with_the_queue(slow_server: Server) -> None:
    etas = [slow_server.text2img(width=512, height=512, num_inference_steps=20).json()["eta"] for _ in range(3)]
    assert etas[0] < etas[1] < etas[2]
    small = slow_server.text2img(width=512, height=256, num_inference_steps=10).json()["eta"]  # a quarter
    assert etas[2] < small < etas[2] + 2.0, "a small job adds a little to the wait"


def test_base64_output_is_png_and_links_stay_urls(server: Server) -> None:
    body = conforms("text2img", server.text2img(base64=True, samples=2))
    assert [decode_png(item).size for item in body["output"]] == [(256, 256)] * 2
    assert all(link.startswith("http://") for link in body["proxy_links"])


def test_temp_images_expire(tmp_path: Path) -> None:
    clock = ManualClock()
    with serve(fake(), tmp_path, temp_ttl=2.0, clock=clock) as server:
        body = server.text2img(temp=True).json()
        url, job_id = body["output"][0], body["id"]
        assert requests.get(url, timeout=10).status_code == 200
        keep = server.text2img(temp=False).json()
        clock.advance(1.9)
        assert server.fetch(job_id).status_code == 200
        clock.advance(0.2)
        gone = server.fetch(job_id)
        assert gone.status_code == 404 and "expired" in conforms("fetchById", gone)["message"]
        assert requests.get(url, timeout=10).status_code == 404
        wait_for(lambda: not (tmp_path / "images" / url.rsplit("/", 1)[-1]).exists(), timeout=5)
        assert server.fetch(keep["id"]).json()["status"] == "success"


def test_webhook_is_retried_until_delivered(tmp_path: Path) -> None:
    with WebhookListener(status_codes=[500, 503]) as hook, serve(fake(), tmp_path) as server:
        body = server.text2img(webhook=hook.url, track_id="job-7").json()
        assert body["webhook_status"] == "pending"
        received = hook.wait(3)
        payloads = [r["json"] for r in received]
        assert all(p == payloads[0] for p in payloads), "every retry sends the same payload"
        assert CHECK.check_webhook(payloads[0]) == []
        assert payloads[0]["status"] == "success" and payloads[0]["id"] == body["id"]
        assert payloads[0]["track_id"] == "job-7" and payloads[0]["output"] == body["output"]
        wait_for(lambda: server.fetch(body["id"]).json()["webhook_status"].startswith("delivered"))
        assert server.fetch(body["id"]).json()["webhook_status"] == "delivered (HTTP 200 on attempt 3 of 3)"


def test_webhook_gives_up_after_the_retries(tmp_path: Path) -> None:
    with WebhookListener(status_codes=[500] * 10) as hook, serve(fake(), tmp_path, webhook_attempts=2) as server:
        job_id = server.text2img(webhook=hook.url).json()["id"]
        hook.wait(2)
        wait_for(lambda: server.fetch(job_id).json()["webhook_status"].startswith("failed"))
        assert server.fetch(job_id).json()["webhook_status"] == "failed after 2 attempts: HTTP 500"
        assert len(hook.received) == 2


def test_failed_generation_is_an_error_everywhere(tmp_path: Path) -> None:
    with WebhookListener() as hook, serve(fake(fail_prompt="boom"), tmp_path) as server:
        response = server.text2img(prompt="boom", webhook=hook.url, track_id="t")
        assert response.status_code == 500
        body = conforms("text2img", response)
        assert body["message"] == "Internal server error. Please try again."
        fetched = server.fetch(body["id"])
        assert fetched.status_code == 200 and conforms("fetchById", fetched)["status"] == "error"
        payload = hook.wait(1)[0]["json"]
        assert payload == {"status": "failed", "id": body["id"], "message": body["message"], "track_id": "t"}
        assert CHECK.check_webhook(payload) == []
        assert "Traceback" not in response.text


def test_keys_are_required_when_configured(tmp_path: Path) -> None:
    with serve(fake(), tmp_path, keys=("alpha", "beta")) as server:
        for key in (None, "", "gamma", "alph"):
            response = server.post(f"{API}/text2img", text2img_body(key=key))
            assert response.status_code == 401
            answer = conforms("text2img", response)
            assert answer["message"] == "Invalid API key" and answer["errors"][0]["field"] == "key"
        ok = server.post(f"{API}/text2img", text2img_body(key="alpha"))
        assert ok.json()["status"] == "success"
        job_id = ok.json()["id"]
        assert server.fetch(job_id, key="nope").status_code == 401
        assert server.fetch(job_id, key="beta").status_code == 404, "another key does not see this generation"
        assert server.fetch(job_id, key="alpha").json()["status"] == "success"


def test_queue_limit_answers_429_with_retry_after(tmp_path: Path, gate: threading.Event) -> None:
    with serve(fake(gate=gate), tmp_path, sync_timeout=0.0, max_queued=2, retry_after=7) as server:
        assert server.text2img().status_code == 200
        assert server.text2img().status_code == 200
        response = server.text2img()
        assert response.status_code == 429 and response.headers["Retry-After"] == "7"
        body = conforms("text2img", response)
        assert body["message"] == "Rate limit exceeded. Maximum 2 queued requests allowed."
        assert body["retry_after"] == 7 and len(body["errors"]) == 1
        assert server.text2img(key="someone-else").status_code == 200, "the limit is per key"
        gate.set()


@pytest.mark.parametrize(("raw", "field"), [
    (b"not json", ""), (b"[1, 2]", ""), (b'{"key": "k", "prompt": "x"}', "model_id"),
    (b'{"key": "k", "model_id": "tiny-sd", "prompt": "x", "width": "wide"}', "width"),
    (b'{"key": "k", "model_id": "../etc", "prompt": "x"}', "model_id"),
], ids=["not-json", "array", "missing-model", "bad-width", "path-model-id"])
def test_bad_bodies_get_400_naming_the_field(server: Server, raw: bytes, field: str) -> None:
    response = requests.post(f"{server.url}{API}/text2img", data=raw, timeout=10)
    assert response.status_code == 400
    body = conforms("text2img", response)
    assert body["errors"][0]["field"] == field


@pytest.mark.parametrize("path_id", ["abc", "-1", "1.5"])
def test_fetch_with_a_bad_path_id_is_a_400(server: Server, path_id: str) -> None:
    response = server.post(f"{API}/fetch/{path_id}", {"key": KEY})
    assert response.status_code == 400
    assert conforms("fetchById", response)["errors"][0]["field"] == "id"


def test_fetch_of_an_unknown_generation_is_a_404(server: Server) -> None:
    response = server.fetch(987654)
    assert response.status_code == 404
    answer = conforms("fetchById", response)
    assert answer["message"].startswith("Generation 987654 not found")
    assert answer["errors"][0]["field"] == "request_id"


@pytest.mark.parametrize("name", ["..%2fjobs.sqlite3", "jobs.sqlite3", "1-0.png.part", "99-0.png", "%2e%2e"])
def test_image_route_serves_only_generated_images(server: Server, name: str) -> None:
    server.text2img()
    response = requests.get(f"{server.url}/images/{name}", timeout=10)
    assert response.status_code == 404
    assert response.json()["status"] == "error"


def test_unknown_routes_and_methods_answer_in_the_error_shape(server: Server) -> None:
    wrong = requests.get(f"{server.url}{API}/text2img", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["status"] == "error"
    assert "POST" in wrong.headers["Allow"] and wrong.json()["errors"][0]["rule"] == "method"
    missing = requests.post(f"{server.url}/api/v6/images/nothing", json={}, timeout=10)
    assert missing.status_code == 404 and missing.json()["status"] == "error"


def test_index_page_offers_a_form(server: Server) -> None:
    page = requests.get(server.url + "/", timeout=10)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "/api/v6/images/text2img" in page.text and "<form" in page.text


def test_an_unexpected_exception_is_a_500_in_the_error_shape(tmp_path: Path) -> None:
    class Exploding(FakeGenerator):
        def check(self, request: Text2ImgRequest) -> None:
            raise RuntimeError("secret internal detail")

    with serve(Exploding(("tiny-sd",)), tmp_path) as server:
        response = server.text2img()
    assert response.status_code == 500
    assert conforms("text2img", response)["message"] == "Internal server error. Please try again."
    assert "secret" not in response.text


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost/hook", "http://0x7f000001/hook",
                                 "http://[::1]/hook", "http://169.254.169.254/latest"])
def test_a_webhook_to_a_private_address_is_refused_by_default_naming_the_flag(tmp_path: Path, url: str) -> None:
    with serve(fake(), tmp_path, private_urls="deny") as server:
        response = server.text2img(webhook=url)
        assert response.status_code == 400
        answer = conforms("text2img", response)
        assert answer["errors"][0]["field"] == "webhook"
        assert "--private-urls allow" in answer["message"] or "--url-allow" in answer["message"]
        assert server.service.store.waiting() == 0 and server.service.store.get(1) is None  # nothing stored


def test_max_queued_holds_when_many_requests_arrive_at_once(tmp_path: Path, gate: threading.Event) -> None:
    with serve(fake(gate=gate), tmp_path, sync_timeout=0.0, max_queued=3) as server:
        start = threading.Barrier(32)
        statuses: list[int] = []

        def one() -> None:
            start.wait(30)
            statuses.append(server.text2img().status_code)

        threads = [threading.Thread(target=one) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(statuses) == [200] * 3 + [429] * 29
        assert server.service.store.waiting(KEY) == 3
        gate.set()
