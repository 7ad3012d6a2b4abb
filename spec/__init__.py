"""The contract of the community-models image API (v6).

The OpenAPI document (``text2img.yaml``) and everything derived from it: loading,
wire coercion, fast validation, the typed normalised request and response
validation. This package imports nothing else of the toolkit's.
"""
from __future__ import annotations

from .body import parse_json_body
from .document import Document, SchemaView, escape_pointer, read_document
from .errors import (
    BodyError,
    DocumentError,
    Problem,
    RequestError,
    SpecError,
    SpecLoadError,
    ValidationError,
    error_body,
)
from .facts import RequestField
from .loader import SPEC_PATH, Spec, load_spec
from .request import (
    PARSERS,
    FetchRequest,
    GenerationRequest,
    Img2ImgRequest,
    InpaintRequest,
    ModelReloadRequest,
    Text2ImgRequest,
    parse_fetch,
    parse_img2img,
    parse_inpaint,
    parse_model_reload,
    parse_request,
    parse_text2img,
)
from .responses import ResponseChecker

__all__ = [
    "PARSERS",
    "SPEC_PATH",
    "BodyError",
    "Document",
    "DocumentError",
    "FetchRequest",
    "GenerationRequest",
    "Img2ImgRequest",
    "InpaintRequest",
    "ModelReloadRequest",
    "Problem",
    "RequestError",
    "RequestField",
    "ResponseChecker",
    "SchemaView",
    "Spec",
    "SpecError",
    "SpecLoadError",
    "Text2ImgRequest",
    "ValidationError",
    "error_body",
    "escape_pointer",
    "load_spec",
    "parse_fetch",
    "parse_img2img",
    "parse_inpaint",
    "parse_model_reload",
    "parse_request",
    "parse_json_body",
    "parse_text2img",
    "read_document",
]
