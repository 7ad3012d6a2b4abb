"""model_reload on the backend: processing while a slow load runs past the sync wait, then success on the
next call; a load that fails is an ``error`` answer. And an img2img job keeps its input images in the store,
so a job queued when a server stops runs from them on the next one."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import pytest

from t2i_contract.reference_backend import FakeGenerator
from t2i_contract.reference_backend.jobs import JobStore
from t2i_contract.spec import load_spec, parse_inpaint
from tests.input_images import half_mask, photo, png_base64
from tests.support import wait_for

from .support import API, KEY, Server, serve

RELOAD = f"{API}/model_reload"


class SlowLoads(FakeGenerator):
    """Loads wait for ``gate``; a load of ``broken`` fails."""

    def __init__(self) -> None:
        super().__init__(models=("fake-model", "broken"))
        self.gate = threading.Event()
        self.loads: list[str] = []

    def load(self, model_id: str) -> None:
        self.check_model(model_id)
        self.loads.append(model_id)
        if model_id == "broken":
            raise RuntimeError("the weights are not readable")
        self.gate.wait()


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[tuple[Server, SlowLoads]]:
    generator = SlowLoads()
    with serve(generator, tmp_path, sync_timeout=0.0) as server:
        yield server, generator
    generator.gate.set()


def conforms(body: dict[str, object]) -> None:
    assert load_spec().responses.check("modelReload", 200, body) == []


def settled(server: Server, model_id: str) -> dict[str, object]:
    """model_reload called until it no longer answers processing (polled, generous deadline)."""

    def reported() -> dict[str, object] | None:
        body = server.post(RELOAD, {"key": KEY, "model_id": model_id}).json()
        return body if body["status"] != "processing" else None

    return wait_for(reported, 60.0)


def test_a_load_longer_than_the_sync_wait_is_processing_then_success(slow: tuple[Server, SlowLoads]) -> None:
    server, generator = slow
    first = server.post(RELOAD, {"key": KEY, "model_id": "fake-model"}).json()
    assert first["status"] == "processing" and first["eta"] > 0
    conforms(first)
    again = server.post(RELOAD, {"key": KEY, "model_id": "fake-model"}).json()
    assert again["status"] == "processing"
    assert generator.loads == ["fake-model"]  # a load in progress is not started twice
    generator.gate.set()
    final = settled(server, "fake-model")
    assert final["status"] == "success" and "fake-model" in str(final["message"])
    conforms(final)
    assert generator.loads == ["fake-model"]


def test_a_load_that_fails_is_an_error_answer_saying_why(slow: tuple[Server, SlowLoads]) -> None:
    server, _ = slow
    final = settled(server, "broken")
    assert final["status"] == "error" and "not readable" in str(final["message"])
    conforms(final)


def test_an_unknown_model_is_a_404(slow: tuple[Server, SlowLoads]) -> None:
    server, _ = slow
    response = server.post(RELOAD, {"key": KEY, "model_id": "nope"})
    assert response.status_code == 404 and response.json()["message"] == "Model not found: nope"


def test_a_stored_inpaint_job_keeps_its_operation_and_input_images(tmp_path: Path) -> None:
    from PIL import Image

    from t2i_contract.reference_backend.operations import decode_inputs

    init, mask = photo(), half_mask((96, 64))
    request = parse_inpaint({"key": KEY, "model_id": "m", "init_image": png_base64(init),
                             "mask_image": png_base64(mask)})
    store = JobStore(tmp_path / "jobs.sqlite3")
    job_id = store.add(request, KEY, 1, "http://x", inputs={"init_image": init, "mask_image": mask})
    assert job_id is not None
    store.close()
    job = JobStore(tmp_path / "jobs.sqlite3").get(job_id)  # as after a restart
    assert job is not None and type(job.request).__name__ == "InpaintRequest"
    images = decode_inputs(job.inputs)
    assert isinstance(images["init_image"], Image.Image)
    assert images["init_image"].tobytes() == init.tobytes() and images["mask_image"].tobytes() == mask.tobytes()


def test_a_queued_img2img_job_runs_from_its_stored_init_image_after_a_restart(tmp_path: Path) -> None:
    import numpy as np

    from .support import decode_png

    init = photo((80, 72))
    held = FakeGenerator(gate=threading.Event())  # never opened: the job stays queued when this server stops
    body = {"key": KEY, "model_id": "fake-model", "init_image": png_base64(init), "strength": 0.0, "base64": True}
    with serve(held, tmp_path) as first:
        job = first.post(f"{API}/img2img", body, headers={"Prefer": "respond-async"}).json()["id"]
    assert held.gate is not None
    held.gate.set()  # the stopped server's worker ends; it stores nothing once stopping
    with serve(FakeGenerator(), tmp_path) as second:  # the same data folder: the same job store

        def done() -> dict[str, object] | None:
            answer = second.fetch(job).json()
            return answer if answer["status"] == "success" else None

        answer = wait_for(done, 60.0)
    image = decode_png(str(answer["output"][0])).convert("RGB")  # type: ignore[index]
    assert np.array_equal(np.asarray(image), np.asarray(init))  # strength 0: the init image itself
