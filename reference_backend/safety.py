"""The pluggable NSFW classifier, and the four treatments of a flagged image.

A :class:`SafetyClassifier` takes images and returns one flag per image. The
diffusers implementation wraps ``StableDiffusionSafetyChecker`` and its
``CLIPImageProcessor`` from a model folder's ``safety_checker/`` and
``feature_extractor/`` subfolders; tests pass a stub. When ``safety_checker`` is on
and no classifier is configured, :func:`check_images` flags nothing and adds a note
saying so, rather than pretending the images were checked.

Treatments (``safety_checker_type``):

- ``blur``: Gaussian blur with a radius of 1/12 of the longer side;
- ``pixelate``: down to 1/32 of the size with box filtering, back up with nearest;
- ``black``: an all-black image of the same size (the vendor's "blank image");
- ``sensitive_content_text``: heavy blur, then a dark band with the words
  "Sensitive content" across the middle.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from PIL.Image import Image

    from t2i_contract.spec import Text2ImgRequest

__all__ = ["NO_CHECKER_NOTE", "SENSITIVE_TEXT", "DiffusersSafetyClassifier", "SafetyClassifier",
           "check_images", "treat"]

SENSITIVE_TEXT = "Sensitive content"
NO_CHECKER_NOTE = ("safety_checker: no NSFW classifier is configured for this model "
                   "(its folder has no safety_checker/), so the images were not checked")


class SafetyClassifier(Protocol):
    def classify(self, images: list[Image]) -> list[bool]:
        """One flag per image: True when it should be treated."""


def treat(image: Image, kind: str) -> Image:
    """Apply one of the four ``safety_checker_type`` treatments to a flagged image."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFilter

    width, height = image.size
    if kind == "black":
        return PILImage.new("RGB", image.size, (0, 0, 0))
    if kind == "blur":
        return image.filter(ImageFilter.GaussianBlur(radius=max(width, height) / 12))
    if kind == "pixelate":
        small = image.resize((max(1, width // 32), max(1, height // 32)), PILImage.Resampling.BOX)
        return small.resize(image.size, PILImage.Resampling.NEAREST)
    if kind == "sensitive_content_text":
        covered = image.filter(ImageFilter.GaussianBlur(radius=max(width, height) / 8)).convert("RGB")
        draw = ImageDraw.Draw(covered)
        band = max(24, height // 8)
        top = (height - band) // 2
        draw.rectangle((0, top, width, top + band), fill=(0, 0, 0))
        text_box = draw.textbbox((0, 0), SENSITIVE_TEXT)
        text_w, text_h = text_box[2] - text_box[0], text_box[3] - text_box[1]
        draw.text(((width - text_w) // 2, top + (band - text_h) // 2), SENSITIVE_TEXT, fill=(255, 255, 255))
        return covered
    raise ValueError(f"unknown safety_checker_type {kind!r}")


def check_images(images: list[Image], request: Text2ImgRequest,
                 classifier: SafetyClassifier | None) -> tuple[list[Image], list[bool], list[str]]:
    """Run the classifier when the request asks for it and treat flagged images."""
    if not request.safety_checker:
        return images, [False] * len(images), []
    if classifier is None:
        return images, [False] * len(images), [NO_CHECKER_NOTE]
    flags = [bool(f) for f in classifier.classify(images)]
    if len(flags) != len(images):
        raise RuntimeError(f"the safety classifier returned {len(flags)} flags for {len(images)} images")
    treated = [treat(image, request.safety_checker_type) if flag else image for image, flag in zip(images, flags)]
    return treated, flags, []


class DiffusersSafetyClassifier:
    """diffusers' ``StableDiffusionSafetyChecker`` loaded from a model folder."""

    def __init__(self, checker: Any, feature_extractor: Any, device: str) -> None:
        self.checker = checker
        self.feature_extractor = feature_extractor
        self.device = device

    @classmethod
    def from_model_folder(cls, folder: Path, device: str) -> DiffusersSafetyClassifier | None:
        """The folder's checker, or None when it has no ``safety_checker/`` subfolder."""
        if not (folder / "safety_checker").is_dir() or not (folder / "feature_extractor").is_dir():
            return None
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
        from transformers import CLIPImageProcessor

        checker = StableDiffusionSafetyChecker.from_pretrained(str(folder / "safety_checker"), local_files_only=True)
        extractor = CLIPImageProcessor.from_pretrained(str(folder / "feature_extractor"), local_files_only=True)
        return cls(checker.to(device).eval(), extractor, device)

    def classify(self, images: list[Image]) -> list[bool]:
        import numpy as np
        import torch

        inputs = self.feature_extractor(images, return_tensors="pt").to(self.device)
        arrays = np.stack([np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0 for image in images])
        with torch.no_grad():
            _, flags = self.checker(images=arrays, clip_input=inputs.pixel_values.to(self.checker.dtype))
        return [bool(f) for f in flags]
