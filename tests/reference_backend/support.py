"""Helpers for the reference backend's tests: running servers, request bodies, pixel comparison."""
from __future__ import annotations

import base64
import io
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import requests
from PIL import Image

from t2i_contract.protocol import Clock
from t2i_contract.reference_backend import BackendConfig, Generator, create_app
from t2i_contract.reference_backend.app import EXTENSION
from tests.processes import kill_tree
from tests.support import ServerThread, free_port, wait_for

API = "/api/v6/images"
KEY = "test-key"
ROOT = Path(__file__).resolve().parents[2]


class KeepOpen(Generator):
    """Wraps the shared generator so that stopping one server does not close it."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner

    def generate(self, request: Any, seed: int, *inputs: Any) -> Any:
        return self.inner.generate(request, seed, *inputs)

    def check(self, request: Any) -> None:
        self.inner.check(request)

    def check_model(self, model_id: str) -> None:
        self.inner.check_model(model_id)

    def load(self, model_id: str) -> None:
        self.inner.load(model_id)


class Server:
    """A running backend: ``url``, ``post(path, body)``, and the app's JobService."""

    def __init__(self, url: str, service: Any) -> None:
        self.url = url
        self.service = service

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, json=body, timeout=60, **kwargs)

    def text2img(self, **fields: Any) -> requests.Response:
        return self.post(f"{API}/text2img", text2img_body(**fields))

    def fetch(self, job_id: int, key: str = KEY) -> requests.Response:
        return self.post(f"{API}/fetch/{job_id}", {"key": key})


def text2img_body(**fields: Any) -> dict[str, Any]:
    """A cheap valid body for the tiny model; keyword arguments override or add fields."""
    body: dict[str, Any] = {"key": KEY, "model_id": "tiny-sd", "prompt": "a red lighthouse", "width": 256,
                            "height": 256, "num_inference_steps": 3, "seed": 1234, "enhance_prompt": False}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


@contextmanager
def serve(generator: Generator, tmp_path: Path | None = None, *, clock: Clock | None = None,
          **config: Any) -> Iterator[Server]:
    """Run create_app(config, generator=..., clock=...) on a free port until the block ends."""
    if tmp_path is not None:
        config.setdefault("data_dir", tmp_path)
    config.setdefault("sync_timeout", 60.0)
    config.setdefault("webhook_backoff", 0.05)
    config.setdefault("private_urls", "allow")  # the tests' webhook receivers listen on loopback
    app = create_app(BackendConfig(**config), generator=generator, clock=clock)
    service = app.extensions[EXTENSION]
    try:
        with ServerThread(app) as thread:
            yield Server(thread.url, service)
    finally:
        service.stop()


def decode_png(data: str | bytes) -> Image.Image:
    raw = base64.b64decode(data) if isinstance(data, str) else data
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return Image.open(io.BytesIO(raw))


def pixels(server: Server, **fields: Any) -> list[np.ndarray]:
    """Generate through HTTP with base64 output and return the images as float arrays."""
    response = server.text2img(base64=True, **fields)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success", body
    return [np.asarray(decode_png(item).convert("RGB"), dtype=np.float32) for item in body["output"]]


def differ(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute pixel difference (0-255 scale)."""
    return float(np.abs(a - b).mean())


class ServeProcess:
    """A ``t2i serve`` process; ``output`` holds what it printed once it has stopped."""

    def __init__(self, url: str, process: subprocess.Popen[str]) -> None:
        self.url = url
        self.process = process
        self.output = ""


@contextmanager
def serve_process(**settings: str) -> Iterator[ServeProcess]:
    """Run ``t2i serve`` configured through T2I_SERVE_* variables; SIGTERM it when the block ends."""
    port = free_port()
    env = os.environ | {"T2I_SERVE_PORT": str(port), "T2I_SERVE_TORCH_THREADS": "1"}
    env |= {f"T2I_SERVE_{name.upper()}": value for name, value in settings.items()}
    process = subprocess.Popen([sys.executable, "-c", "from t2i_contract.spec.cli import run; run()", "serve"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    running = ServeProcess(f"http://127.0.0.1:{port}", process)
    try:
        wait_for(lambda: _answers(running), timeout=60, interval=0.2)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            running.output, _ = process.communicate(timeout=120)  # generous: two loaded cores
        except subprocess.TimeoutExpired:
            kill_tree(process)  # never left running, whatever happened
            raise


def _answers(running: ServeProcess) -> bool:
    if running.process.poll() is not None:
        raise AssertionError(f"t2i serve exited with {running.process.returncode}: {running.process.stdout.read()}")
    try:
        return requests.get(running.url + "/", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False
