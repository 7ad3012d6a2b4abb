"""``t2i serve`` on tiny models answers ``GET /healthz`` and ``GET /readyz`` (issue 21, item 8), as users run it.

Ready means: the models folder holds a model, the job store and the image folder can be written, and
the generation threads run. The probes answer while a request holds one of the HTTP threads (an
img2img whose init image trickles in from a URL that never finishes), and a probe that fails is named.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import requests

from t2i_contract.reference_backend.tiny import TinyModel
from tests.hardening.conftest import Trickle
from tests.held_request import while_an_input_trickles
from tests.processes import running
from tests.support import free_port

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
    with Trickle() as trickle, running("serve", flags, tmp_path / "serve.log", port, ready="/healthz") as serve:
        ready = requests.get(serve.url + "/readyz", timeout=TIMEOUT)
        busy, in_flight, answer = while_an_input_trickles(
            serve.url, trickle, lambda: requests.get(serve.url + "/readyz", timeout=TIMEOUT), model_id=tiny.model_id)
        shutil.rmtree(models / tiny.model_id)
        unready = requests.get(serve.url + "/readyz", timeout=TIMEOUT)
        live = requests.get(serve.url + "/healthz", timeout=TIMEOUT)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"models": "ok", "store": "ok", "images": "ok", "threads": "ok"}
    assert busy.status_code == 200 and in_flight, "readyz answered only after the held img2img had finished"
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "init_image"
    assert unready.status_code == 503 and unready.json()["failing"] == ["models"]
    assert f"no model in {models}" in unready.json()["message"]
    assert live.status_code == 200 and live.json()["status"] == "ok"
