"""img2img and inpaint jobs in the backend's store: the operation and the input images are kept, so a job
queued when a server stops runs from its own init image on the next one."""
from __future__ import annotations

import threading
from pathlib import Path

from t2i_contract.reference_backend import FakeGenerator
from t2i_contract.reference_backend.jobs import JobStore
from t2i_contract.spec import parse_inpaint
from tests.input_images import half_mask, photo, png_base64, png_bytes
from tests.support import wait_for

from .support import API, KEY, serve


def test_a_stored_inpaint_job_keeps_its_operation_and_input_images(tmp_path: Path) -> None:
    from PIL import Image

    from t2i_contract.reference_backend.operations import decode_inputs

    init, mask = photo(), half_mask((96, 64))
    request = parse_inpaint({"key": KEY, "model_id": "m", "init_image": png_base64(init),
                             "mask_image": png_base64(mask)})
    store = JobStore(tmp_path / "jobs.sqlite3")
    job_id = store.add(request, KEY, 1, "http://x", inputs={"init_image": png_bytes(init), "mask_image": png_bytes(mask)})
    assert job_id is not None
    store.close()
    job = JobStore(tmp_path / "jobs.sqlite3").get(job_id)  # as after a restart
    assert job is not None and type(job.request).__name__ == "InpaintRequest"
    images = decode_inputs(job.inputs)
    assert isinstance(images["init_image"], Image.Image)
    assert images["init_image"].tobytes() == init.tobytes()
    assert images["mask_image"].tobytes() == mask.convert("RGB").tobytes()  # as intake loads a mask


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
