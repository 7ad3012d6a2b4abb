"""The contract of the Multi LoRA text-to-image API.

The OpenAPI document (``text2img.yaml``) and everything derived from it: loading,
wire coercion, fast validation, the typed normalised request and response
validation. This package imports nothing else of the toolkit's.
"""
from __future__ import annotations

from .body import parse_json_body
from .errors import (
    BodyError,
    Problem,
    RequestError,
    SpecError,
    SpecLoadError,
    ValidationError,
    error_body,
)
from .facts import RequestField
from .loader import SPEC_PATH, Spec, load_spec
from .request import FetchRequest, Text2ImgRequest, parse_fetch, parse_text2img

__all__ = [
    "SPEC_PATH",
    "BodyError",
    "FetchRequest",
    "Problem",
    "RequestError",
    "RequestField",
    "Spec",
    "SpecError",
    "SpecLoadError",
    "Text2ImgRequest",
    "ValidationError",
    "error_body",
    "load_spec",
    "parse_fetch",
    "parse_json_body",
    "parse_text2img",
]
