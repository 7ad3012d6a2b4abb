"""Where a server lists the models it holds, and how a client reads the list.

The v6 document has no operation that lists models. The toolkit's servers answer
``GET /models`` beside the API (the reference backend: ``{"models": [...], "loras":
[...], "vaes": [...]}``, which its page reads); ``t2i test`` reads it to pick a model
when it is given no ``--model-id``. A contract pack names its own listing with
``x-t2i-operation: {role: models}`` (AUTOMATIC1111's ``/sdapi/v1/sd-models``).

:func:`model_ids` reads every form these take: ``{"models": [...]}``, OpenAI's
``{"data": [...]}``, or a bare list, whose items are ids or objects carrying one.
"""
from __future__ import annotations

from typing import Any

__all__ = ["MODELS_PATH", "model_ids"]

MODELS_PATH = "/models"
"""The path, under a toolkit server's root, of the ids it holds (``GET``)."""
_LISTS = ("models", "data")
_ID_MEMBERS = ("id", "model_id", "model_name", "name", "title")


def model_ids(body: Any) -> list[str] | None:
    """The model ids of a listing, in its order; ``None`` when ``body`` is no listing at all."""
    if isinstance(body, dict):
        body = next((body[name] for name in _LISTS if isinstance(body.get(name), list)), None)
    if not isinstance(body, list):
        return None
    ids: list[str] = []
    for item in body:
        if isinstance(item, dict):
            item = next((item[name] for name in _ID_MEMBERS if isinstance(item.get(name), str) and item[name]), None)
        if isinstance(item, str) and item and item not in ids:
            ids.append(item)
    return ids
