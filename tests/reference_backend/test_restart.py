"""A restart loses no accepted job: what a crashed server was running, or had queued, the next one runs.

The first server runs in a process of its own and is killed with SIGKILL, a real crash, while its
generator is provably inside a generation: the generator prints which job it started and then
blocks for good, so that generation can never finish there. The second server, in this process,
runs the tiny diffusers model behind a generator that records every call. So the test sees that
the second server's worker made the interrupted job's images and the queued job's, with the
seeds and prompts they were accepted with, and that it ran nothing that had already finished.
A webhook caught between two attempts is resumed by the next server at the next attempt; the
first server's clock stands still, so its own retry can never come due.
"""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from t2i_contract.protocol import ManualClock
from t2i_contract.reference_backend import FakeGenerator, Generator
from tests.servers.checks import webhook_status_form, webhook_status_pattern
from tests.support import ServerThread, WebhookListener, wait_for

from .support import API, KEY, ROOT, Server, decode_png, serve, text2img_body

if TYPE_CHECKING:
    from t2i_contract.reference_backend import GenerationResult
    from t2i_contract.spec import Text2ImgRequest

STALL = "interrupted"  # a prompt starting so makes the first server's generator stall for good
STARTED = "started generating: "
SERVING = "serving at "
DEADLINE = 120.0  # a guard against a hung process, never a claim about speed
ASYNC = {"Prefer": "respond-async"}


class Stalling(Generator):
    """The first server's generator: announces each job on stdout; a ``STALL`` job never ends."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner

    def check(self, request: Text2ImgRequest) -> None:
        self.inner.check(request)

    def generate(self, request: Text2ImgRequest, seed: int) -> GenerationResult:
        print(f"{STARTED}{request.prompt}", flush=True)
        if request.prompt.startswith(STALL):
            threading.Event().wait()  # until the process is killed
        return self.inner.generate(request, seed)


class Recording(Generator):
    """The second server's generator: runs the real one and records what it ran, in which process."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.calls: list[tuple[str, int, int]] = []

    def check(self, request: Text2ImgRequest) -> None:
        self.inner.check(request)

    def generate(self, request: Text2ImgRequest, seed: int) -> GenerationResult:
        self.calls.append((request.prompt, seed, os.getpid()))
        return self.inner.generate(request, seed)


def run_first_server(data_dir: str) -> None:
    """Entry point of the first server's process: serve on a free port until killed."""
    from t2i_contract.reference_backend import BackendConfig, create_app

    app = create_app(BackendConfig(data_dir=Path(data_dir)), generator=Stalling(FakeGenerator(("tiny-sd",))))
    with ServerThread(app) as server:
        print(f"{SERVING}{server.url}", flush=True)
        threading.Event().wait()


class Process:
    """A first server's process and the lines it prints, read on a thread so no read blocks the test."""

    def __init__(self, data_dir: Path) -> None:
        code = f"import sys; from {__name__} import run_first_server; run_first_server(sys.argv[1])"
        self.log = data_dir / "first-server.log"  # its stderr (request log, warnings), for failure messages
        with self.log.open("w") as log:
            self.popen = subprocess.Popen([sys.executable, "-c", code, str(data_dir)], cwd=ROOT, text=True,
                                          stdout=subprocess.PIPE, stderr=log)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix: str) -> str:
        """The rest of the next line starting with ``prefix``; fails if the process ends first."""
        while True:
            try:
                line = self.lines.get(timeout=DEADLINE)
            except queue.Empty:
                raise AssertionError(f"no line starting {prefix!r} within {DEADLINE}s: {self.seen}\n"
                                     f"{self.log.read_text()[-3000:]}") from None
            if line is None:
                raise AssertionError(f"the first server exited ({self.popen.poll()}) before {prefix!r}: {self.seen}\n"
                                     f"{self.log.read_text()[-3000:]}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix):]

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=DEADLINE)
        self._reader.join(DEADLINE)
        assert self.popen.stdout is not None
        self.popen.stdout.close()
        while not self.lines.empty():  # the reader has ended: keep what it read last
            line = self.lines.get_nowait()
            if line is not None:
                self.seen.append(line)


def _post(url: str, body: dict, headers: dict[str, str] | None = None) -> dict:
    response = requests.post(url, json=body, headers=headers, timeout=DEADLINE)
    assert response.status_code == 200, response.text
    return response.json()


def _fetch(base: str, job_id: int) -> dict:
    return _post(f"{base}{API}/fetch/{job_id}", {"key": KEY})


def _succeeded(server: Server, job_id: int) -> dict:
    """The job's success answer, polled with a generous deadline; the last answer seen if it never comes."""
    last: list[dict] = []

    def done() -> dict | None:
        last[:] = [server.fetch(job_id).json()]
        return last[0] if last[0]["status"] == "success" else None

    try:
        return wait_for(done, timeout=DEADLINE)
    except AssertionError:
        raise AssertionError(f"generation {job_id} never succeeded on the second server; last answer: {last}") from None


def test_the_job_a_crashed_server_was_running_is_run_by_the_next_one(tiny_generator: Generator,
                                                                     tmp_path: Path) -> None:
    first = Process(tmp_path)
    try:
        url = first.expect(SERVING)
        finished = _post(f"{url}{API}/text2img", text2img_body(prompt="finished before the crash"))
        assert finished["status"] == "success", finished
        finished_png = requests.get(finished["output"][0], timeout=DEADLINE).content
        assert first.expect(STARTED) == "finished before the crash"

        running = _post(f"{url}{API}/text2img", text2img_body(prompt=f"{STALL} by the crash", seed=101), ASYNC)
        assert first.expect(STARTED) == f"{STALL} by the crash"  # the worker is inside generate now
        queued = _post(f"{url}{API}/text2img", text2img_body(prompt="queued behind it", seed=102), ASYNC)
        assert [_fetch(url, job["id"])["status"] for job in (running, queued)] == ["processing", "processing"]
    finally:
        first.kill()
    assert first.popen.returncode == -signal.SIGKILL
    assert STARTED + "queued behind it" not in first.seen, "the queued job must not have started before the crash"

    recording = Recording(tiny_generator)
    with serve(recording, tmp_path) as second:
        done = {job["id"]: _succeeded(second, job["id"]) for job in (running, queued)}
        # The second server's worker ran exactly the two unfinished jobs, oldest first, as they were accepted.
        assert recording.calls == [(f"{STALL} by the crash", 101, os.getpid()), ("queued behind it", 102, os.getpid())]
        for job in (running, queued):
            result = done[job["id"]]
            assert result["meta"]["seed"] == job["meta"]["seed"] and result["meta"]["prompt"] == job["meta"]["prompt"]
            assert result["output"][0].startswith(second.url)
            assert decode_png(requests.get(result["output"][0], timeout=DEADLINE).content).size == (256, 256)
        # The finished job was left alone: same images, still served.
        again = second.fetch(finished["id"]).json()
        assert again["status"] == "success" and again["meta"]["prompt"] == "finished before the crash"
        assert requests.get(again["output"][0], timeout=DEADLINE).content == finished_png
        fresh = second.text2img(prompt="after the restart").json()
    ids = [finished["id"], running["id"], queued["id"]]
    assert len(set(ids)) == 3 and fresh["id"] > max(ids), "ids keep growing across restarts"


def _webhook_status_in(server: Server, job_id: int, state: str) -> str | None:
    """The job's webhook_status when it is in the spec's form for ``state``, else None."""
    status = server.fetch(job_id).json()["webhook_status"]
    return status if webhook_status_pattern(state).match(status) else None


def test_a_webhook_still_being_retried_at_shutdown_is_sent_after_the_restart(tmp_path: Path) -> None:
    """The first server's clock stands still, so its retry never comes due: the second server must send it."""
    generator = FakeGenerator(("tiny-sd",))
    with WebhookListener(status_codes=[503]) as hook:
        with serve(generator, tmp_path, clock=ManualClock()) as first:
            job = first.text2img(webhook=hook.url, track_id="survivor").json()
            wait_for(lambda: _webhook_status_in(first, job["id"], "retrying"))
        assert len(hook.received) == 1
        with serve(generator, tmp_path) as second:
            status = wait_for(lambda: _webhook_status_in(second, job["id"], "delivered"))
    assert webhook_status_form("delivered", status)["N"] == "2", f"the restart resumes at attempt 2: {status}"
    assert len(hook.received) == 2
    payload = hook.received[-1]["json"]
    assert payload["id"] == job["id"] and payload["track_id"] == "survivor" and payload["status"] == "success"
