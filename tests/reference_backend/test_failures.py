"""Broken assets give clear errors naming them, and the server keeps working afterwards."""
from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest
from safetensors.torch import save_file

from .support import differ, pixels, serve

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator

    from t2i_contract.reference_backend import TinyModel

    from .support import Server


@pytest.fixture(scope="module")
def broken_server(tiny: TinyModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import torch

    from t2i_contract.reference_backend.diffusion import DiffusersGenerator

    root = tmp_path_factory.mktemp("broken")
    models, loras = root / "models", root / "loras"
    shutil.copytree(tiny.models_dir, models)
    shutil.copytree(tiny.loras_dir, loras)
    (models / "broken").mkdir()
    (models / "broken" / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    (models / "garbage.safetensors").write_bytes(b"not a checkpoint")
    (loras / "garbage.safetensors").write_bytes(b"\x00" * 64)
    save_file({"something.else.weight": torch.ones(2, 2)}, str(loras / "not-a-lora.safetensors"))
    generator = DiffusersGenerator(models_dir=models, loras_dir=loras, torch_threads=1)
    with serve(generator, root / "data") as server:
        yield server


@pytest.mark.parametrize("lora", ["garbage", "not-a-lora"])
def test_an_unloadable_lora_is_a_400_naming_it_and_leaves_the_pipeline_usable(broken_server: Server, lora: str) -> None:
    base = pixels(broken_server)[0]
    response = broken_server.text2img(lora_model=f"tiny-style,{lora}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["message"].startswith(f"LoRA {lora} could not be loaded: ")
    assert body["errors"][0]["field"] == "lora_model" and body["errors"][0]["value"] == lora
    assert differ(pixels(broken_server)[0], base) == 0.0
    assert differ(pixels(broken_server, lora_model="tiny-style")[0], base) > 1.0


@pytest.mark.parametrize("model_id", ["broken", "garbage"])
def test_an_unloadable_model_is_an_error_naming_it(broken_server: Server, model_id: str) -> None:
    response = broken_server.text2img(model_id=model_id)
    assert response.status_code == 500
    body = response.json()
    assert body["message"].startswith(f"Model {model_id} could not be loaded: ")
    assert "Traceback" not in response.text
    assert broken_server.text2img().json()["status"] == "success"


def test_clip_skip_beyond_the_text_encoder_is_refused(tiny: TinyModel, tmp_path: Path) -> None:
    """A model whose CLIP has fewer layers than clip_skip asks to skip gets a 400, not a crash."""
    import json

    from t2i_contract.reference_backend.diffusion import DiffusersGenerator

    models = tmp_path / "models"
    shutil.copytree(tiny.models_dir, models)
    config_path = models / "tiny-sd" / "text_encoder" / "config.json"
    config = json.loads(config_path.read_text())
    config["num_hidden_layers"] = 3
    config_path.write_text(json.dumps(config))
    with serve(DiffusersGenerator(models_dir=models, torch_threads=1), tmp_path / "data") as server:
        response = server.text2img(clip_skip=5)
        ok = server.text2img(clip_skip=3)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "clip_skip"
    assert ok.json()["status"] == "success"
