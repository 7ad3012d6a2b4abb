"""IP-Adapter: a local adapter (``--ip-adapters DIR``), a reference image, and its weight.

``DIR/<ip_adapter_id>/`` holds the adapter's weights ``<id>.safetensors`` (the
``image_proj.*`` / ``ip_adapter.*`` layout of the published h94/IP-Adapter files) and
its ``image_encoder/`` (a ``CLIPVisionModelWithProjection`` folder). The ids are the
spec's enum; the suffix says the family: ``_sd15`` for SD 1.x, ``_sdxl`` and
``_sdxl_vit-h`` for SDXL. Nothing is downloaded: diffusers' ``load_ip_adapter`` is
called on the local folder with ``local_files_only=True``.

Requests:

- ``ip_adapter_id`` without ``ip_adapter_image`` (or the other way round, or a
  ``ip_adapter_scale`` alone) is a 400 naming the missing field;
- an adapter not in the folder, or one for another family than the model's, is a
  400 naming the adapter, its family and the model's; FLUX has no adapter in the
  spec's enum, so any ``ip_adapter_id`` on a FLUX model is a 400;
- the image is loaded at intake by the protocol layer, like ``init_image``, once,
  under the URL policy of the process that accepted the request and within the
  spec's limits (an unusable image is a 400 naming ``ip_adapter_image``); it is
  stored with the job and reaches the generator in its ``inputs``
  (:func:`reference_image`): a job never fetches at run time;
- ``ip_adapter_scale`` defaults to ``DEFAULT_SCALE`` (diffusers' default) and is
  passed to ``set_ip_adapter_scale``.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .errors import UnsupportedError
from .ids import _inside, check_id

if TYPE_CHECKING:
    from PIL.Image import Image

    from t2i_contract.spec import Text2ImgRequest

    from .families import Family

__all__ = ["DEFAULT_SCALE", "adapter_family", "adapter_scale", "apply_ip_adapter", "check_ip_fields",
           "reference_image", "resolve_ip_adapter"]

DEFAULT_SCALE = 1.0
IMAGE_ENCODER = "image_encoder"
_SUFFIXES = (("_sdxl_vit-h", "sdxl"), ("_sdxl", "sdxl"), ("_sd15", "sd1"))


def adapter_family(adapter_id: str) -> str | None:
    """The family an adapter id names by its suffix, or None."""
    return next((family for suffix, family in _SUFFIXES if adapter_id.endswith(suffix)), None)


def resolve_ip_adapter(folder: Path | None, adapter_id: str) -> Path:
    """``folder/<id>/`` with its weights and image encoder, or a 400 saying what is missing."""
    check_id(adapter_id, "ip_adapter_id")
    if folder is None:
        raise UnsupportedError(f"IP-Adapter {adapter_id} is not available: this server was started without an "
                               f"IP-Adapter folder (t2i serve --ip-adapters DIR)",
                               field="ip_adapter_id", value=adapter_id, rule="exists")
    directory = folder / adapter_id
    weights = directory / f"{adapter_id}.safetensors"
    if not weights.is_file() or not (directory / IMAGE_ENCODER / "config.json").is_file():
        present = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        raise UnsupportedError(
            f"IP-Adapter {adapter_id} is not installed here: {folder}/{adapter_id}/ needs {adapter_id}.safetensors "
            f"and {IMAGE_ENCODER}/; installed: {', '.join(present) or 'none'}",
            field="ip_adapter_id", value=adapter_id, rule="exists")
    return _inside(folder, directory, "ip_adapter_id", adapter_id)


def check_ip_fields(request: Text2ImgRequest, family: Family, folder: Path | None) -> Path | None:
    """The adapter folder a request uses (None without IP-Adapter), or a 400 for an unusable combination."""
    adapter_id = request.ip_adapter_id
    if adapter_id is None:
        for name in ("ip_adapter_image", "ip_adapter_scale"):
            if getattr(request, name) is not None:
                raise UnsupportedError(f"{name} needs ip_adapter_id, which names the IP-Adapter to use",
                                       field="ip_adapter_id", value=None, rule="required")
        return None
    if request.ip_adapter_image is None:
        raise UnsupportedError(f"ip_adapter_id {adapter_id} needs ip_adapter_image, the reference image",
                               field="ip_adapter_image", value=None, rule="required")
    wanted = adapter_family(adapter_id)
    if family.name == "flux":
        raise UnsupportedError(f"IP-Adapter {adapter_id} cannot run on model {request.model_id} (FLUX.1): this "
                               f"backend runs IP-Adapters for SD 1.x and SDXL models",
                               field="ip_adapter_id", value=adapter_id, rule="family")
    if wanted is not None and wanted != family.name:
        raise UnsupportedError(
            f"IP-Adapter {adapter_id} is made for {'SDXL' if wanted == 'sdxl' else 'SD 1.5'} (family {wanted}), "
            f"but model {request.model_id} is {family.title} (family {family.name})",
            field="ip_adapter_id", value=adapter_id, rule="family")
    return resolve_ip_adapter(folder, adapter_id)


def reference_image(request: Text2ImgRequest, inputs: Mapping[str, Image] | None) -> Image:
    """The request's IP-Adapter image, as loaded at intake and stored with the job; a 400 if it is not there.

    Only a job stored by a version that fetched the image at run time lacks it.
    """
    image = (inputs or {}).get("ip_adapter_image")
    if image is None:
        raise UnsupportedError("ip_adapter_image was not stored with this job (it was accepted by an older "
                               "version); submit the request again", field="ip_adapter_image",
                               value=request.ip_adapter_image, rule="stored")
    return image


def adapter_scale(request: Text2ImgRequest) -> float:
    """The request's ``ip_adapter_scale``, or the default."""
    return DEFAULT_SCALE if request.ip_adapter_scale is None else request.ip_adapter_scale


def apply_ip_adapter(pipe: Any, current: str | None, adapter: Path | None, scale: float) -> str | None:
    """Load, switch or unload the pipeline's adapter; return the id now loaded."""
    wanted = adapter.name if adapter is not None else None
    if current != wanted:
        if current is not None:
            pipe.unload_ip_adapter()
        if adapter is not None:
            pipe.load_ip_adapter(str(adapter), subfolder="", weight_name=f"{adapter.name}.safetensors",
                                 image_encoder_folder=IMAGE_ENCODER, local_files_only=True)
    if adapter is not None:
        pipe.set_ip_adapter_scale(scale)
    return wanted
