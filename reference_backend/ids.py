"""Turn a model, LoRA or VAE id from a request into a path, refusing anything that could escape.

An id must match the spec's slug pattern and must not contain ``..``; the path it
names must stay inside its folder once symlinks are resolved. Ids are never joined
to a path before they pass these checks.
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import NotFoundError, UnsafeIdError

__all__ = ["SAFE_ID", "check_id", "resolve_lora", "resolve_model", "resolve_vae"]

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
WEIGHTS_SUFFIX = ".safetensors"


def check_id(value: str, field: str) -> str:
    """Return ``value`` if it is a safe id, else raise :class:`UnsafeIdError` naming the field."""
    if not isinstance(value, str) or not SAFE_ID.fullmatch(value) or ".." in value:
        raise UnsafeIdError(
            f"{field} must be a plain id (letters, digits, '.', '_', '-'; no '..', no path), got {value!r}",
            field=field, value=value, rule="pattern",
        )
    return value


def _inside(folder: Path, candidate: Path, field: str, value: str) -> Path:
    real_folder = folder.resolve()
    real = candidate.resolve()
    if real != real_folder and real_folder not in real.parents:
        raise UnsafeIdError(f"{field} {value!r} points outside its folder", field=field, value=value, rule="pattern")
    return real


def resolve_model(folder: Path | None, model_id: str) -> Path:
    """A diffusers folder ``<id>/`` (with model_index.json) or a single file ``<id>.safetensors``."""
    check_id(model_id, "model_id")
    if folder is not None:
        directory = folder / model_id
        # <id>.config/ holds the configs of the single file <id>.safetensors; it is not a model itself
        if not model_id.endswith(".config") and (directory / "model_index.json").is_file():
            return _inside(folder, directory, "model_id", model_id)
        single = folder / (model_id + WEIGHTS_SUFFIX)
        if single.is_file():
            return _inside(folder, single, "model_id", model_id)
    raise NotFoundError(f"Model not found: {model_id}", field="model_id", value=model_id, rule="exists")


def resolve_lora(folder: Path | None, lora_id: str) -> Path:
    check_id(lora_id, "lora_model")
    if folder is not None:
        path = folder / (lora_id + WEIGHTS_SUFFIX)
        if path.is_file():
            return _inside(folder, path, "lora_model", lora_id)
    raise NotFoundError(f"LoRA not found: {lora_id}", field="lora_model", value=lora_id, rule="exists")


def resolve_vae(folder: Path | None, vae_id: str) -> Path:
    check_id(vae_id, "vae")
    if folder is not None:
        directory = folder / vae_id
        if (directory / "config.json").is_file():
            return _inside(folder, directory, "vae", vae_id)
    raise NotFoundError(f"VAE not found: {vae_id}", field="vae", value=vae_id, rule="exists")
