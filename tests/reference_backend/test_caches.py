"""Bounded caches: pipelines and LoRA adapters are evicted least recently used first, without changing results."""
from __future__ import annotations

import json
import re
import shutil
from typing import TYPE_CHECKING

import pytest

from .support import KEY, differ, pixels, serve

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator

    from t2i_contract.reference_backend import TinyModel

    from .support import Server


@pytest.fixture(scope="module")
def small_cache_server(tiny: TinyModel, tmp_path_factory: pytest.TempPathFactory,
                       ) -> Iterator[tuple[Server, DiffusersGenerator]]:
    from t2i_contract.reference_backend.diffusion import DiffusersGenerator

    root = tmp_path_factory.mktemp("caches")
    models = root / "models"
    shutil.copytree(tiny.models_dir, models)
    shutil.copytree(models / "tiny-sd", models / "tiny-sd-copy")
    generator = DiffusersGenerator(models_dir=models, loras_dir=tiny.loras_dir, max_loaded_models=1, max_loras=2,
                                   torch_threads=1)
    with serve(generator, root / "data") as server:
        yield server, generator


def test_only_max_loaded_models_pipelines_stay_loaded(small_cache_server: tuple[Server, DiffusersGenerator]) -> None:
    server, generator = small_cache_server
    first = pixels(server)[0]
    copy = pixels(server, model_id="tiny-sd-copy")[0]
    assert list(generator._models) == ["tiny-sd-copy"]
    assert differ(first, copy) == 0.0, "the copy holds the same weights"
    assert differ(pixels(server)[0], first) == 0.0, "a reloaded pipeline gives the same image"


def test_lora_adapters_beyond_max_loras_are_evicted_and_reloaded_correctly(small_cache_server: tuple[Server, DiffusersGenerator]) -> None:
    server, generator = small_cache_server
    style = pixels(server, lora_model="tiny-style")[0]
    pixels(server, lora_model="tiny-detail,tiny-kohya")
    adapters = generator._models["tiny-sd"].adapters
    assert len(adapters) == 2 and "tiny-style" not in adapters
    assert differ(pixels(server, lora_model="tiny-style")[0], style) == 0.0


def test_public_url_is_the_base_of_links(tmp_path: Path) -> None:
    from t2i_contract.reference_backend import FakeGenerator

    with serve(FakeGenerator(("tiny-sd",)), tmp_path, public_url="https://images.example.com/") as server:
        body = server.text2img().json()
    # the image's name is an unguessable token (protocol.ownership.ImageNames), under the public base
    assert re.fullmatch(r"https://images\.example\.com/images/[0-9a-f]{32}-0\.png", body["output"][0]), body["output"]


def test_the_vendors_example_body_runs_once_its_ids_name_local_assets(tiny_server: Server, repo_root: Path) -> None:
    body = json.loads((repo_root / "examples" / "upstream-example.json").read_text())
    missing = tiny_server.post("/api/v6/images/text2img", body)
    assert missing.status_code == 404 and missing.json()["message"] == "Model not found: f222-diffusion"
    body |= {"key": KEY, "model_id": "tiny-sd", "lora_model": "tiny-style,tiny-kohya",
             "width": "256", "height": "256"}
    answer = tiny_server.post("/api/v6/images/text2img", body).json()
    assert answer["status"] == "success", answer
    meta = answer["meta"]
    assert meta["num_inference_steps"] == 20 and meta["lora_strength"] == [0.45, 0.55]
    assert meta["scheduler"] == "UniPCMultistepScheduler" and meta["safety_checker"] is True
