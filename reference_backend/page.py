"""The backend's page at ``/``, and ``GET /models``: what the server holds.

    GET /         a tab per operation of the API (text2img, img2img, inpaint, model_reload), read from the spec
    GET /models   {"models": [...], "loras": [...], "vaes": [...], "families": {"models": {id: family},
                  "loras": {id: family or null}}}: the ids this server can use, and the family of each

The forms are built in the browser from the spec: one tab per operation whose
``x-t2i-operation`` role is ``generate`` or ``reload``, named by the last segment of
its path, with every field of its request (``spec.request_fields``: name, type,
enum, default, range, description), so a field or an operation the spec adds
appears without touching this module. Enums become menus, booleans a
default/true/false menu; ``model_id`` is a menu of the models of ``GET /models``,
and the LoRA buttons offer the LoRAs of the chosen model's family (a LoRA whose
family its file does not tell is offered for every model; the server has the last
word). An input image (``x-t2i-input-image``) is a URL, which the server fetches
under its URL policy, or a file the user picks, sent in base64 as a ``data:`` URI;
the operation's mask (its ``x-t2i-operation`` semantics ``mask``) is drawn with a
brush on the image, and sent as a black PNG of the image's size, white where drawn.
Only the fields the user fills are sent, so the spec's defaults apply to the rest.

The page asks for an asynchronous answer (``Prefer: respond-async``, the user can
untick it) and polls ``fetch_result`` while the answer is ``processing`` (a
model_reload is called again), showing the ``eta`` and a progress bar estimated
from it; then the images, beside the form. It uses only the public API, so it
doubles as a worked example of a client. It is plain HTML and JavaScript
(``static/page.html``, ``static/page.js``), served by the app, with nothing
fetched from elsewhere and nothing to build.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from flask import Flask, Response

from t2i_contract.protocol import json_bytes
from t2i_contract.spec import Spec
from t2i_contract.wire.routes import route_table

from .ids import SAFE_ID, WEIGHTS_SUFFIX

__all__ = ["available", "families", "page_fields", "page_operations", "register_page"]

STATIC = Path(__file__).with_name("static")
PAGE = STATIC / "page.html"
SCRIPT = STATIC / "page.js"
# The few keywords of a field's schema the form uses.
_KEYWORDS = ("type", "enum", "minimum", "maximum", "description", "deprecated", "x-t2i-clamp-maximum",
             "x-t2i-image")
# The operations that get a tab: those a person calls with a request body of fields.
_ROLES = ("generate", "reload")
# Values that make the first click give a picture quickly on the tiny models; the rest is the spec's default.
SUGGESTED = {"key": "local-key", "prompt": "a lighthouse at dusk", "width": 256, "height": 256,
             "num_inference_steps": 4}


def page_fields(spec: Spec, operation: str = "text2img") -> list[dict[str, Any]]:
    """Every field of ``operation``'s request as the form shows it."""
    images = set(spec.input_image_fields(operation))
    fields = []
    for field in spec.request_fields(operation):
        schema = {name: field.schema[name] for name in _KEYWORDS if name in field.schema}
        types = schema.get("type", "string")
        schema["type"] = next((t for t in ([types] if isinstance(types, str) else types) if t != "null"), "string")
        fields.append({"name": field.name, "required": field.required, "image": field.name in images,
                       "default": field.default if field.has_default else None, **schema})
    return fields


def page_operations(spec: Spec) -> list[dict[str, Any]]:
    """The page's tabs: each operation a person calls with fields, its path, fields and mask field."""
    tabs = []
    routes = route_table(spec)
    for operation_id, path, _method, operation in spec.operations():
        described = (operation or {}).get("x-t2i-operation") or {}
        if described.get("role") not in _ROLES or routes[operation_id].params:
            continue
        semantics = described.get("semantics") or {}
        tabs.append({"id": operation_id, "tab": path.rstrip("/").rsplit("/", 1)[-1], "path": path,
                     "role": described["role"], "mask": semantics.get("mask"),
                     "fields": page_fields(spec, operation_id)})
    return tabs


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


def families(config: Any, held: dict[str, list[str]]) -> dict[str, dict[str, str | None]]:
    """The family (``families.FAMILIES``) of each model and LoRA held, None where its files do not tell.

    Read as the generator reads it before loading anything (``detect_family``,
    ``lora_family``: configs and safetensors headers only), so listing is cheap.
    """
    from .families import detect_family
    from .ids import resolve_lora, resolve_model
    from .loras import lora_family

    def model(model_id: str) -> str | None:
        try:
            return detect_family(resolve_model(config.models_dir, model_id))[0].name
        except Exception:  # a model the backend cannot run: listed, its family unknown (a request says why)
            return None

    def lora(lora_id: str) -> str | None:
        try:
            return lora_family(resolve_lora(config.loras_dir, lora_id))[0]
        except Exception:
            return None

    return {"models": {m: model(m) for m in held["models"]}, "loras": {name: lora(name) for name in held["loras"]}}


def register_page(app: Flask, spec: Spec, text2img_path: str, config: Any,
                  held: Callable[[], dict[str, list[str]]] | None = None) -> None:
    """``GET /``, ``GET /page.js`` and ``GET /models``; ``text2img_path`` is where this app serves text2img.

    ``held`` lists the ids ``GET /models`` answers (default: the folders', :func:`available`; an API process
    of the distributed mode: its live workers')."""
    tabs = page_operations(spec)
    prefix = text2img_path.removesuffix(route_table(spec)["text2img"].path)  # "" unless served under a prefix
    for tab in tabs:
        tab["path"] = prefix + tab["path"]
    page_config = {"operations": tabs, "suggested": SUGGESTED}
    # "</script>" in a description cannot end the script early: "<" is escaped in the JSON
    html = PAGE.read_text("utf-8").replace("__CONFIG__", json.dumps(page_config).replace("<", "\\u003c"))
    script = SCRIPT.read_text("utf-8")

    @app.get("/")
    def index() -> Response:
        return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})

    @app.get("/page.js")
    def page_script() -> Response:
        return Response(script, mimetype="text/javascript", headers={"Cache-Control": "no-store"})

    @app.get("/models")
    def models() -> Response:
        ids: dict[str, Any] = held() if held is not None else available(config)
        ids["families"] = families(config, ids)
        return Response(json_bytes(ids), mimetype="application/json", headers={"Cache-Control": "no-store"})
