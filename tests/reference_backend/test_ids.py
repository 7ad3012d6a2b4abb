"""Ids from requests never escape their folders."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from t2i_contract.reference_backend import FakeGenerator
from t2i_contract.reference_backend.errors import NotFoundError, UnsafeIdError
from t2i_contract.reference_backend.ids import check_id, resolve_lora, resolve_model, resolve_vae

from .support import serve

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import TinyModel


@pytest.mark.parametrize("value", ["../x", "..", "a/b", "/etc/passwd", "a..b", ".hidden", "", "a\\b", "x" * 200])
def test_unsafe_ids_are_refused(value: object) -> None:
    with pytest.raises(UnsafeIdError) as info:
        check_id(value, "model_id")
    assert info.value.field == "model_id" and info.value.status == 400


@pytest.mark.parametrize("value", ["tiny-sd", "v1.5_final", "A1"])
def test_plain_ids_pass(value: object) -> None:
    assert check_id(value, "vae") == value


def test_resolvers_find_files_and_folders(tiny: TinyModel) -> None:
    assert resolve_model(tiny.models_dir, "tiny-sd").name == "tiny-sd"
    assert resolve_lora(tiny.loras_dir, "tiny-kohya").name == "tiny-kohya.safetensors"
    assert resolve_vae(tiny.vaes_dir, "tiny-vae").name == "tiny-vae"


def test_the_config_folder_of_a_single_file_is_not_a_model(tiny: TinyModel) -> None:
    assert (tiny.models_dir / "tiny-sd-single.config" / "model_index.json").is_file()
    with pytest.raises(NotFoundError, match="^Model not found: tiny-sd-single.config$"):
        resolve_model(tiny.models_dir, "tiny-sd-single.config")
    assert resolve_model(tiny.models_dir, "tiny-sd-single").name == "tiny-sd-single.safetensors"


def test_unknown_model_message(tiny: TinyModel) -> None:
    with pytest.raises(NotFoundError, match="^Model not found: ghost$"):
        resolve_model(tiny.models_dir, "ghost")


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.safetensors").write_bytes(b"x")
    (outside / "model").mkdir()
    (outside / "model" / "model_index.json").write_text("{}")
    loras, models = tmp_path / "loras", tmp_path / "models"
    loras.mkdir()
    models.mkdir()
    (loras / "sneaky.safetensors").symlink_to(outside / "secret.safetensors")
    (models / "sneaky").symlink_to(outside / "model")
    with pytest.raises(UnsafeIdError, match="points outside its folder"):
        resolve_lora(loras, "sneaky")
    with pytest.raises(UnsafeIdError, match="points outside its folder"):
        resolve_model(models, "sneaky")


def test_a_symlink_inside_the_folder_is_fine(tmp_path: Path) -> None:
    loras = tmp_path / "loras"
    loras.mkdir()
    (loras / "real.safetensors").write_bytes(b"x")
    (loras / "alias.safetensors").symlink_to(loras / "real.safetensors")
    assert resolve_lora(loras, "alias").name == "real.safetensors"


def test_symlinked_model_over_http_is_refused(tmp_path: Path, tiny: TinyModel) -> None:
    from t2i_contract.reference_backend.diffusion import DiffusersGenerator

    models = tmp_path / "models"
    models.mkdir()
    (models / "escape").symlink_to(tiny.models_dir / "tiny-sd")
    with serve(DiffusersGenerator(models_dir=models), tmp_path / "data") as server:
        response = server.text2img(model_id="escape")
    assert response.status_code == 400
    assert response.json()["errors"][0] == {"field": "model_id", "rule": "pattern", "value": "escape",
                                            "message": "model_id 'escape' points outside its folder"}


def test_fake_generator_knows_only_its_models() -> None:
    with pytest.raises(NotFoundError):
        FakeGenerator(("a",)).check(__import__("t2i_contract.spec", fromlist=["parse_text2img"]).parse_text2img(
            {"key": "k", "model_id": "b", "prompt": "p"}))
