"""Which model family a LoRA file was made for, read from its header before anything is loaded.

A LoRA for another family would fail deep inside peft with a shape error, or, worse,
load partly and change nothing. So ``check`` reads the file's safetensors header
(metadata and tensor names and shapes, not the tensors) and refuses a mismatch with
a 400 that names the LoRA, its family and the model's. The evidence, strongest first:

1. metadata trainers write: ``modelspec.architecture`` (sd-scripts, ai-toolkit:
   ``stable-diffusion-xl-v1-base/lora``, ``flux-1-dev/lora``...) or kohya's
   ``ss_base_model_version`` (``sdxl_base_v1-0``, ``sd_v1``, ``sd_v2``, ``flux1``);
2. key layouts only one family has: FLUX's transformer blocks (diffusers
   ``transformer.``, kohya ``lora_unet_double_blocks_``, XLabs ``double_blocks.``,
   ComfyUI ``diffusion_model.double_blocks.``), SDXL's second text encoder
   (``text_encoder_2.``, ``lora_te2_``);
3. the width of the UNet's cross-attention keys (``attn2.to_k`` input): 768 for SD
   1.x, 1024 for SD 2.x, 2048 for SDXL; when it equals the model's own width the
   LoRA is taken to fit.

A file with none of these is let through, and diffusers' own error (a 400 saying it
could not be loaded) is the answer if it does not fit.

:func:`apply_loras` keeps each pipeline's adapters loaded: a LoRA file is loaded once
with ``load_lora_weights(adapter_name=...)`` (diffusers converts kohya, XLabs and
other trainers' keys on load), and each request switches with ``set_adapters``.
"""
from __future__ import annotations

import json
import re
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from .errors import UnsupportedError
from .families import FAMILIES, Family

__all__ = ["apply_loras", "check_lora_family", "lora_family"]

_ARCHITECTURE_PREFIXES = (("stable-diffusion-xl", "sdxl"), ("stable-diffusion-v2", "sd2"),
                          ("stable-diffusion-v1", "sd1"), ("flux", "flux"))
_KOHYA_VERSIONS = (("sdxl", "sdxl"), ("sd_v2", "sd2"), ("sd_v1", "sd1"), ("flux", "flux"))
_FLUX_KEY = re.compile(r"^(transformer\.(single_)?transformer_blocks\.|lora_unet_(double|single)_blocks_|"
                       r"(diffusion_model\.)?(double|single)_blocks\.|lora_transformer_)")
_SDXL_KEY = re.compile(r"^(text_encoder_2\.|lora_te2_|te2\.)")
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the header
_CROSS_KEY = re.compile(r"attn2[._]to_k.*(lora_A|lora_down|lora\.down)\.weight$")


def _header(path: Path) -> tuple[dict[str, str], dict[str, list[int]]]:
    """Metadata and tensor shapes; empty for a file that is no safetensors (loading it will say why)."""
    try:
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(min(size, _MAX_HEADER)))
        metadata = header.pop("__metadata__", {}) or {}
        return metadata, {key: value["shape"] for key, value in header.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}, {}


@lru_cache(maxsize=256)
def _family_cached(path: str, mtime: float) -> tuple[str | None, int | None]:
    metadata, shapes = _header(Path(path))
    architecture = metadata.get("modelspec.architecture", "").lower()
    for prefix, name in _ARCHITECTURE_PREFIXES:
        if architecture.startswith(prefix):
            return name, None
    version = metadata.get("ss_base_model_version", "").lower()
    for prefix, name in _KOHYA_VERSIONS:
        if version.startswith(prefix):
            return name, None
    if any(_FLUX_KEY.match(key) for key in shapes):
        return "flux", None
    if any(_SDXL_KEY.match(key) for key in shapes):
        return "sdxl", None
    widths = {shape[-1] for key, shape in shapes.items() if _CROSS_KEY.search(key)}
    width = widths.pop() if len(widths) == 1 else None
    for family in FAMILIES.values():
        if width is not None and family.cross_attention_dim == width:
            return family.name, width
    return None, width


def lora_family(path: Path) -> tuple[str | None, int | None]:
    """(family name or None, cross-attention width when the keys told it)."""
    return _family_cached(str(path), path.stat().st_mtime)


def check_lora_family(path: Path, lora_id: str, model_id: str, family: Family, model_width: int | None) -> None:
    """Raise a 400 when the LoRA at ``path`` was made for another family than the model's."""
    name, width = lora_family(path)
    if name is None:
        if width is not None and model_width is not None and width != model_width:
            raise UnsupportedError(
                f"LoRA {lora_id} does not fit model {model_id} ({family.title}, family {family.name}): its "
                f"cross-attention layers take {width}-wide text features and the model's give {model_width}",
                field="lora_model", value=lora_id, rule="family")
        return
    if name != family.name:
        raise UnsupportedError(
            f"LoRA {lora_id} is made for {FAMILIES[name].title} (family {name}), but model {model_id} is "
            f"{family.title} (family {family.name}); use a LoRA trained for {family.title}",
            field="lora_model", value=lora_id, rule="family")


def _adapter(loaded: Any, lora_id: str, keep: set[str], resolve: Callable[[str], Path], max_loras: int) -> str:
    """The adapter name of ``lora_id`` in this pipeline, loading the file on first use."""
    name = loaded.adapters.get(lora_id)
    if name is not None:
        loaded.adapters.move_to_end(lora_id)
        return name
    path = resolve(lora_id)
    name = f"lora_{loaded.adapter_counter}"
    loaded.adapter_counter += 1
    try:
        with warnings.catch_warnings():
            # peft warns each time a second adapter joins a model; that is the point here.
            warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
            loaded.pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name)
        if not any(name in names for names in loaded.pipe.get_list_adapters().values()):
            # diffusers skips a layout it cannot convert without a word; that would ignore the LoRA
            raise ValueError(f"none of its keys match a layer of {type(loaded.pipe).__name__} "
                             f"(a key layout diffusers does not convert)")
    except Exception as exc:
        try:
            loaded.pipe.delete_adapters([name])
        except Exception:  # nothing was registered under that name
            pass
        raise UnsupportedError(f"LoRA {lora_id} could not be loaded: {exc}", field="lora_model",
                               value=lora_id, rule="loadable") from exc
    loaded.adapters[lora_id] = name
    while len(loaded.adapters) > max_loras:
        oldest = next((k for k in loaded.adapters if k not in keep), None)
        if oldest is None:
            break
        loaded.pipe.delete_adapters([loaded.adapters.pop(oldest)])
    return name


def apply_loras(loaded: Any, loras: tuple[tuple[str, float], ...], resolve: Callable[[str], Path],
                max_loras: int) -> None:
    """Make exactly ``loras`` (id, strength) active on ``loaded.pipe``; none gives the base model's output."""
    pipe = loaded.pipe
    if not loras:
        if loaded.adapters:
            pipe.disable_lora()
        return
    keep = {lora_id for lora_id, _ in loras}
    names = [_adapter(loaded, lora_id, keep, resolve, max_loras) for lora_id, _ in loras]
    pipe.enable_lora()
    pipe.set_adapters(names, adapter_weights=[strength for _, strength in loras])
