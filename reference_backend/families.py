"""Model families: which one a model folder or single file is, and what each runs with.

A diffusers folder names its pipeline in ``model_index.json`` (``_class_name``); a
single ``.safetensors`` file is told apart by its keys, as diffusers'
``from_single_file`` does:

==========  =======================================  ===============================================
family      model_index.json ``_class_name``         single-file keys
==========  =======================================  ===============================================
``sd1``     StableDiffusionPipeline, cross-attention  ``model.diffusion_model.*`` with a CLIP-L
            width 768 (or any width but 1024)         ``cond_stage_model.transformer.*``
``sd2``     StableDiffusionPipeline, width 1024       ``cond_stage_model.model.*`` (OpenCLIP)
``sdxl``    StableDiffusionXLPipeline (Pony too:      ``conditioner.embedders.1.*``
            Pony Diffusion is an SDXL fine-tune)
``flux``    FluxPipeline; ``dev`` with the distilled  ``double_blocks.*`` (BFL layout), ``guidance_in``
            guidance input, ``schnell`` without       for dev
==========  =======================================  ===============================================

Each :class:`Family` names the diffusers pipeline classes it runs with, per task,
so img2img and inpaint are a new entry here rather than a new code path.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import BackendError, GenerationError, UnsupportedError

__all__ = ["FAMILIES", "Family", "detect_family", "family_of_single_file"]


@dataclass(frozen=True, slots=True)
class Family:
    """One model family and the diffusers pipelines that serve it."""

    name: str
    title: str
    pipelines: dict[str, str]
    """operation -> diffusers pipeline class name (``text2img``, ``img2img``, ``inpaint``)."""
    cross_attention_dim: int | None = None
    """The UNet's text width in the released base model, for telling LoRAs apart by shape."""
    size_multiple: int = 8

    @property
    def text2img(self) -> str:
        return self.pipelines["text2img"]


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("sd1", "SD 1.x", {"text2img": "StableDiffusionPipeline", "img2img": "StableDiffusionImg2ImgPipeline",
                             "inpaint": "StableDiffusionInpaintPipeline"}, cross_attention_dim=768),
    Family("sd2", "SD 2.x", {"text2img": "StableDiffusionPipeline", "img2img": "StableDiffusionImg2ImgPipeline",
                             "inpaint": "StableDiffusionInpaintPipeline"}, cross_attention_dim=1024),
    Family("sdxl", "SDXL (Pony included)",
           {"text2img": "StableDiffusionXLPipeline", "img2img": "StableDiffusionXLImg2ImgPipeline",
            "inpaint": "StableDiffusionXLInpaintPipeline"}, cross_attention_dim=2048),
    Family("flux", "FLUX.1", {"text2img": "FluxPipeline", "img2img": "FluxImg2ImgPipeline",
                              "inpaint": "FluxInpaintPipeline"}, size_multiple=16),
)}
_BY_PIPELINE = {"StableDiffusionXLPipeline": "sdxl", "StableDiffusionXLInpaintPipeline": "sdxl",
                "FluxPipeline": "flux"}
_SD_PIPELINES = ("StableDiffusionPipeline", "StableDiffusionInpaintPipeline")


def _sd_family(cross_attention_dim: int | None) -> Family:
    return FAMILIES["sd2" if cross_attention_dim == FAMILIES["sd2"].cross_attention_dim else "sd1"]


def detect_family(path: Path) -> tuple[Family, str]:
    """The family of a model folder or single file, and its variant (``dev``/``schnell`` for FLUX, else "").

    Files that cannot be read as what they claim to be are a :class:`GenerationError`
    naming the model, as a pipeline that fails to load is.
    """
    try:
        return _detect(path)
    except BackendError:
        raise
    except Exception as exc:  # JSON, safetensors and OS errors alike: the message is what matters
        model_id = path.stem if path.is_file() else path.name
        raise GenerationError(f"Model {model_id} could not be loaded: {exc}", field="model_id", value=model_id,
                              rule="loadable") from exc


def _detect(path: Path) -> tuple[Family, str]:
    if path.is_file():
        return family_of_single_file(path)
    index = json.loads((path / "model_index.json").read_text())
    pipeline = index.get("_class_name", "")
    if pipeline in _BY_PIPELINE:
        family = FAMILIES[_BY_PIPELINE[pipeline]]
        variant = ""
        if family.name == "flux":
            config = json.loads((path / "transformer" / "config.json").read_text())
            variant = "dev" if config.get("guidance_embeds") else "schnell"
        return family, variant
    if pipeline in _SD_PIPELINES:
        unet = path / "unet" / "config.json"
        width = json.loads(unet.read_text()).get("cross_attention_dim") if unet.is_file() else None
        return _sd_family(width), ""
    raise UnsupportedError(
        f"model {path.name} is a {pipeline or 'pipeline without _class_name'}; this backend runs "
        f"{', '.join(sorted({f.text2img for f in FAMILIES.values()}))}",
        field="model_id", value=path.name, rule="supported")


def family_of_single_file(path: Path) -> tuple[Family, str]:
    """Tell a single checkpoint's family from its tensor names (the header only is read)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        keys = list(handle.keys())
    if any(k.startswith(("double_blocks.", "model.diffusion_model.double_blocks.")) for k in keys):
        variant = "dev" if any("guidance_in." in k for k in keys) else "schnell"
        return FAMILIES["flux"], variant
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return FAMILIES["sdxl"], ""
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        return FAMILIES["sd2"], ""
    if any(k.startswith("model.diffusion_model.") for k in keys):
        return FAMILIES["sd1"], ""
    raise UnsupportedError(f"model {path.stem}: its keys match no family this backend runs (SD 1.x/2.x, SDXL, "
                           f"FLUX.1)", field="model_id", value=path.stem, rule="supported")
