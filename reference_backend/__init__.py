"""The reference backend: the text2img contract implemented with diffusers.

Public surface: :func:`create_app` and :class:`BackendConfig` to serve;
:class:`Generator`, :class:`GenerationResult` and :class:`FakeGenerator` for the
seam between serving and image making (:class:`DiffusersGenerator` lives in
``reference_backend.diffusion`` and imports torch on use); :func:`make_tiny_model`
for a model to start with. torch, diffusers, transformers and peft are imported
lazily, only when a diffusers generator or the tiny model is built.
"""
from __future__ import annotations

from .app import create_app
from .config import BackendConfig
from .errors import BackendError
from .generator import FakeGenerator, GenerationResult, Generator
from .safety import SafetyClassifier
from .tiny import TinyModel, make_tiny_model

__all__ = [
    "BackendConfig",
    "BackendError",
    "FakeGenerator",
    "GenerationResult",
    "Generator",
    "SafetyClassifier",
    "TinyModel",
    "create_app",
    "make_tiny_model",
]
