"""Issue 18, item 6: what the mock keeps is bounded in bytes, and input images are kept as sent.

Reproduced before the fixes: 300 text2img calls with 1 MB prompts took 318 MB of the mock's
store (in memory, on /dev/shm), bounded only by ``--max-jobs`` (100,000); 20 inpaint calls
carrying a noisy 2048x2048 JPEG (14.4 MB sent) stored 280 MB, because input images were
re-encoded as PNG. Sizes here are those of the store's files on disk.
"""
from __future__ import annotations

import base64
import io
import os
from pathlib import Path

from PIL import Image

from .conftest import Launch

MIB = 1024 * 1024


def _store_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir() if path.is_file())


def _noisy_jpeg(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_the_job_store_stays_within_its_byte_bound_oldest_jobs_first(launch: Launch, tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    bound = 4 * MIB
    target = launch("mock", keys=(), db_path=folder / "mock.sqlite3", max_store_bytes=bound, journal_bytes=MIB,
                    max_body=2 * MIB)
    ids = []
    for n in range(40):  # 40 half-MiB prompts: 20 MiB sent
        answer = target.text2img(target.body(key="k", prompt=f"{n} " + "x" * (MIB // 2)))
        assert answer.status_code == 200, answer.text[:300]
        ids.append(answer.json()["id"])
    assert _store_bytes(folder) < 3 * (bound + MIB), f"the store holds {_store_bytes(folder)} bytes"
    assert target.fetch_by_id(ids[-1], key="k").status_code == 200  # the newest are kept
    assert target.fetch_by_id(ids[0], key="k").status_code == 404  # the oldest went first


def test_input_images_are_kept_as_sent_not_re_encoded_larger(launch: Launch, tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    target = launch("mock", keys=(), db_path=folder / "mock.sqlite3", journal_bytes=1024 * 1024)
    image = base64.b64encode(_noisy_jpeg(1024)).decode("ascii")
    before = _store_bytes(folder)
    sent = 0
    for _ in range(4):
        body = {"key": "k", "model_id": "m", "prompt": "p", "init_image": image, "mask_image": image}
        answer = target.request("POST", target.path("inpaint"), json=body)
        assert answer.status_code == 200, answer.text[:300]
        sent += 2 * len(image)
    grown = _store_bytes(folder) - before
    assert grown < 1.5 * sent, f"{sent} bytes of images sent, the store grew by {grown}"


def test_a_finished_backend_job_no_longer_keeps_its_input_images(launch: Launch, tmp_path: Path) -> None:
    import sqlite3

    target = launch("backend")
    image = base64.b64encode(_noisy_jpeg(256)).decode("ascii")
    body = {"key": target.body()["key"], "model_id": "tiny-sd", "prompt": "p", "num_inference_steps": 1,
            "init_image": image}
    answer = target.request("POST", target.path("img2img"), json=body)
    assert answer.status_code == 200 and answer.json()["status"] == "success", answer.text[:300]
    stores = list(tmp_path.glob("backend-*/**/*.sqlite3"))
    assert stores, list(tmp_path.rglob("*"))
    with sqlite3.connect(stores[0]) as db:
        (stored,) = db.execute("SELECT request FROM jobs WHERE id = ?", (answer.json()["id"],)).fetchone()
    # the request's meta echoes the image sent inline (the answers show it): once, never a re-encoded copy
    assert len(stored) < 1.5 * len(image), f"the finished job still keeps {len(stored)} bytes"
