"""The safety checker: a pluggable classifier, four treatments, and an honest note without one.

The classifier here is a stub that flags chosen images by index, plugged into the
real diffusers generator on the tiny model and driven over HTTP.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from t2i_contract.reference_backend.safety import NO_CHECKER_NOTE, check_images, treat

from .support import decode_png, differ, pixels, serve, text2img_body

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator

    from t2i_contract.reference_backend import TinyModel

    from .support import Server


class StubClassifier:
    """Flags the images whose index is in ``flagged``; records what it saw."""

    def __init__(self, flagged: set[int]) -> None:
        self.flagged = flagged
        self.seen: list[int] = []

    def classify(self, images: list[Image.Image]) -> list[bool]:
        self.seen.append(len(images))
        return [index in self.flagged for index in range(len(images))]


@pytest.fixture(scope="module")
def stub() -> StubClassifier:
    return StubClassifier({1})


@pytest.fixture(scope="module")
def checked_server(tiny: TinyModel, stub: StubClassifier,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from t2i_contract.reference_backend.diffusion import DiffusersGenerator

    generator = DiffusersGenerator(models_dir=tiny.models_dir, loras_dir=tiny.loras_dir, classifier=stub,
                                   torch_threads=1)
    with serve(generator, tmp_path_factory.mktemp("safety")) as server:
        yield server


@pytest.fixture(scope="module")
def unchecked(checked_server: Server) -> list[np.ndarray]:
    return pixels(checked_server, samples=2)


def _is_black(image: np.ndarray) -> bool:
    return float(image.max()) == 0.0


def _roughness(image: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels: low for blurred or flat images."""
    return float(np.abs(np.diff(image, axis=1)).mean())


@pytest.mark.parametrize("kind", ["blur", "pixelate", "black", "sensitive_content_text"])
def test_flagged_image_is_treated_and_reported(checked_server: Server, unchecked: list[np.ndarray], kind: str) -> None:
    response = checked_server.text2img(samples=2, safety_checker=True, safety_checker_type=kind, base64=True)
    body = response.json()
    assert body["nsfw_content_detected"] is True
    assert body["meta"]["nsfw"] == [False, True]
    clean, flagged = (np.asarray(decode_png(item).convert("RGB"), dtype=np.float32) for item in body["output"])
    assert differ(clean, unchecked[0]) == 0.0, "an image that was not flagged must stay untouched"
    assert differ(flagged, unchecked[1]) > 1.0
    assert flagged.shape == unchecked[1].shape
    if kind == "black":
        assert _is_black(flagged)
    else:
        assert not _is_black(flagged)
    if kind == "blur":
        assert _roughness(flagged) < _roughness(unchecked[1]) / 3
    if kind == "pixelate":
        block = flagged[:8, :8]
        assert (block == block[0, 0]).all(), "a pixelated 8x8 corner is one colour"


def test_sensitive_content_text_writes_white_text_on_a_dark_band(checked_server: Server) -> None:
    body = checked_server.text2img(samples=2, safety_checker=True, base64=True).json()
    flagged = np.asarray(decode_png(body["output"][1]).convert("RGB"))
    band = flagged[112:144]  # 256 // 8 = 32 rows, centred
    assert (band.min(axis=2) > 200).any(), "white text pixels in the band"
    assert (band.max(axis=2) == 0).mean() > 0.5, "the band is mostly black"
    assert (flagged[:100].max(axis=2) > 0).mean() > 0.9, "above the band the (blurred) image shows"


def test_without_safety_checker_nothing_is_classified(checked_server: Server, stub: StubClassifier) -> None:
    before = len(stub.seen)
    body = checked_server.text2img(samples=2).json()
    assert body["nsfw_content_detected"] is False
    assert len(stub.seen) == before


def test_without_a_configured_classifier_the_response_says_so(tiny_server: Server) -> None:
    body = tiny_server.text2img(safety_checker=True).json()
    assert body["status"] == "success"
    assert body["nsfw_content_detected"] is False
    assert NO_CHECKER_NOTE in body["meta"]["notes"]


def test_treatments_unit() -> None:
    image = Image.linear_gradient("L").convert("RGB").resize((256, 256))
    for kind in ("blur", "pixelate", "black", "sensitive_content_text"):
        assert treat(image, kind).size == image.size
    with pytest.raises(ValueError, match="unknown safety_checker_type"):
        treat(image, "sepia")


def test_a_classifier_returning_the_wrong_count_is_an_error() -> None:
    from t2i_contract.spec import parse_text2img

    request = parse_text2img(text2img_body(safety_checker=True))
    image = Image.new("RGB", (8, 8))

    class Broken:
        def classify(self, images: list[Image.Image]) -> list[bool]:
            return [True, True]

    with pytest.raises(RuntimeError, match="2 flags for 1 images"):
        check_images([image], request, Broken())


def test_diffusers_safety_checker_is_used_when_the_model_folder_has_one(tiny: TinyModel, tmp_path: Path) -> None:
    """A model folder with safety_checker/ and feature_extractor/ gets diffusers' checker."""
    import shutil

    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    from t2i_contract.reference_backend.diffusion import DiffusersGenerator
    from t2i_contract.reference_backend.safety import DiffusersSafetyClassifier

    models = tmp_path / "models"
    shutil.copytree(tiny.models_dir, models)
    config = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1,
                     "vocab_size": 100, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"hidden_size": 16, "intermediate_size": 16, "num_attention_heads": 2,
                       "num_hidden_layers": 1, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    checker = StableDiffusionSafetyChecker(config)
    checker.concept_embeds_weights.data.fill_(-10.0)  # every image scores above every threshold
    checker.save_pretrained(str(models / "tiny-sd" / "safety_checker"))
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        str(models / "tiny-sd" / "feature_extractor"))
    generator = DiffusersGenerator(models_dir=models, torch_threads=1)
    with serve(generator, tmp_path / "data") as server:
        body = server.text2img(safety_checker=True, safety_checker_type="black", base64=True).json()
        assert isinstance(generator._models["tiny-sd"].classifier, DiffusersSafetyClassifier)
    assert body["nsfw_content_detected"] is True
    assert _is_black(np.asarray(decode_png(body["output"][0])))
    assert NO_CHECKER_NOTE not in body["meta"]["notes"]
