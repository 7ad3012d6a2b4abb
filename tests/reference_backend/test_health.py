"""``t2i serve`` on tiny models answers ``GET /healthz`` and ``GET /readyz`` (issue 21, item 8), as users run it.

Ready means: the models folder holds a model, the job store and the image folder can be written, and
the generation threads run. The probes answer while a request holds one of the HTTP threads (an
img2img whose init image trickles in from a URL that never finishes), and a probe that fails is named.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import requests

from t2i_contract.reference_backend.tiny import TinyModel
from tests.hardening.conftest import Trickle
from tests.processes import running
from tests.support import free_port, wait_for

from .support import API

TIMEOUT = 120.0  # a guard against a hung server, never a claim about speed


def test_serve_is_ready_answers_while_a_request_is_held_and_names_a_missing_model(tiny: TinyModel,
                                                                                  tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    # hard links, not a copy of the weights (a symlinked model is refused: ids may not lead out of the folder)
    shutil.copytree(tiny.models_dir / tiny.model_id, models / tiny.model_id, copy_function=os.link)
    port = free_port()
    flags = ["--models", str(models), "--port", str(port), "--data", str(tmp_path / "data"),
             "--private-urls", "allow", "--webhook-timeout", "600"]
    outcome: dict[str, Any] = {}
    with Trickle() as trickle, running("serve", flags, tmp_path / "serve.log", port, ready="/healthz") as serve:
        ready = requests.get(serve.url + "/readyz", timeout=TIMEOUT)

        def img2img() -> None:
            body = {"key": "k", "model_id": tiny.model_id, "prompt": "p", "init_image": trickle.url}
            outcome["answer"] = requests.post(f"{serve.url}{API}/img2img", json=body, timeout=TIMEOUT)

        caller = threading.Thread(target=img2img, daemon=True)
        caller.start()
        try:
            wait_for(lambda: trickle.connections >= 1, timeout=TIMEOUT, interval=0.02)  # the fetch is in flight
            busy = requests.get(serve.url + "/readyz", timeout=TIMEOUT)
            in_flight = caller.is_alive()
        finally:
            trickle.stop.set()  # the image server hangs up: the img2img ends
            caller.join(TIMEOUT)
        shutil.rmtree(models / tiny.model_id)
        unready = requests.get(serve.url + "/readyz", timeout=TIMEOUT)
        live = requests.get(serve.url + "/healthz", timeout=TIMEOUT)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"models": "ok", "store": "ok", "images": "ok", "threads": "ok"}
    assert busy.status_code == 200 and in_flight, "readyz answered only after the held img2img had finished"
    assert outcome["answer"].status_code == 400 and outcome["answer"].json()["errors"][0]["field"] == "init_image"
    assert unready.status_code == 503 and unready.json()["failing"] == ["models"]
    assert f"no model in {models}" in unready.json()["message"]
    assert live.status_code == 200 and live.json()["status"] == "ok"
