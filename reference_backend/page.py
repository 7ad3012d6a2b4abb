"""The backend's page at ``/``, and ``GET /models``: what the server holds.

    GET /         a form with every field of the text2img request, read from the spec
    GET /models   {"models": [...], "loras": [...], "vaes": [...]}: the ids this server can use

The form is built in the browser from ``spec.request_fields("text2img")`` (name,
type, enum, default, range, description), so a field the spec adds appears without
touching this module; enums become menus, booleans a default/true/false menu, and
``model_id``, ``lora_model`` and ``vae`` offer the ids of ``GET /models``. Only the
fields the user fills are sent, so the spec's defaults apply to the rest.

The page asks for an asynchronous answer (``Prefer: respond-async``, the user can
untick it) and polls ``fetch_result`` while the answer is ``processing``, showing
the ``eta`` and a progress bar estimated from it; then the images. It uses only the
public API, so it doubles as a worked example of a client. It is plain HTML
(``static/page.html``), served by the app, with nothing fetched from elsewhere.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask, Response

from t2i_contract.protocol import json_bytes
from t2i_contract.spec import Spec

from .ids import SAFE_ID, WEIGHTS_SUFFIX

__all__ = ["available", "page_fields", "register_page"]

PAGE = Path(__file__).with_name("static") / "page.html"
# The few keywords of a field's schema the form uses.
_KEYWORDS = ("type", "enum", "minimum", "maximum", "description", "deprecated", "x-t2i-clamp-maximum")
# Values that make the first click give a picture quickly on the tiny models; the rest is the spec's default.
SUGGESTED = {"key": "local-key", "prompt": "a lighthouse at dusk", "width": 256, "height": 256,
             "num_inference_steps": 4}


def page_fields(spec: Spec) -> list[dict[str, Any]]:
    """Every field of the text2img request as the form shows it."""
    fields = []
    for field in spec.request_fields("text2img"):
        schema = {name: field.schema[name] for name in _KEYWORDS if name in field.schema}
        types = schema.get("type", "string")
        schema["type"] = next((t for t in ([types] if isinstance(types, str) else types) if t != "null"), "string")
        fields.append({"name": field.name, "required": field.required,
                       "default": field.default if field.has_default else None, **schema})
    return fields


def _ids(folder: Path | None, kind: str) -> list[str]:
    """The ids in one asset folder that ``ids.resolve_*`` would accept."""
    if folder is None or not folder.is_dir():
        return []
    found = set()
    for path in folder.iterdir():
        if kind != "vae" and path.is_file() and path.name.endswith(WEIGHTS_SUFFIX):
            found.add(path.name[: -len(WEIGHTS_SUFFIX)])
        elif kind == "model" and (path / "model_index.json").is_file() and not path.name.endswith(".config"):
            found.add(path.name)
        elif kind == "vae" and (path / "config.json").is_file():
            found.add(path.name)
    return sorted(name for name in found if SAFE_ID.fullmatch(name) and ".." not in name)


def available(config: Any) -> dict[str, list[str]]:
    """The model, LoRA and VAE ids a backend with this config holds."""
    return {"models": _ids(config.models_dir, "model"), "loras": _ids(config.loras_dir, "lora"),
            "vaes": _ids(config.vaes_dir, "vae")}


def register_page(app: Flask, spec: Spec, text2img_path: str, config: Any) -> None:
    page_config = {"fields": page_fields(spec), "suggested": SUGGESTED, "text2img": text2img_path}
    # "</script>" in a description cannot end the script early: "<" is escaped in the JSON
    html = PAGE.read_text("utf-8").replace("__CONFIG__", json.dumps(page_config).replace("<", "\\u003c"))

    @app.get("/")
    def index() -> Response:
        return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})

    @app.get("/models")
    def models() -> Response:
        return Response(json_bytes(available(config)), mimetype="application/json",
                        headers={"Cache-Control": "no-store"})
