"""Which model a run of ``t2i test`` asks for, chosen once, before the first request, and said in the header.

Every valid request names a model, and a server that does not have it refuses all
of them alike (25 identical "Model not found" failures name no cause). So, without
``--model-id``, the suite reads the server's own list first: ``GET /models``
(:data:`~t2i_contract.wire.models.MODELS_PATH`, the toolkit's servers), or the
operation a contract pack marks ``x-t2i-operation: {role: models}``:

- the spec example's model (``f222-diffusion``) when the server lists it;
- else the first model the server lists;
- a list with no model in it stops the run in one line saying to pass ``--model-id``;
- no list at all (a 404, no JSON, no answer: the mock, the hosted API) keeps the
  spec's example, as before, and the header says the server lists none.

A pack is read only through its own listing operation, and only when its generations
have a model field; otherwise its requests keep the pack's own default, as before.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import requests

from t2i_contract.spec import Spec
from t2i_contract.spec.semantics import operation_maps
from t2i_contract.wire.models import MODELS_PATH, model_ids
from t2i_contract.wire.routes import route_table

from .errors import ConfigError, ContractTestError
from .generation import default_model_id
from .packs import is_pack

__all__ = ["ModelChoice", "NoModelListed", "choose_model"]

LIST_TIMEOUT = 30.0
"""Seconds the model list may take to answer (``--timeout`` when shorter)."""


class NoModelListed(ConfigError):
    """The server lists its models and none is there: the run cannot send a valid request."""

    def __init__(self, url: str) -> None:
        ContractTestError.__init__(self, f"the server lists no model at {url}: pass --model-id with a model it has")
        self.setting, self.value = "model_id", None


@dataclass(frozen=True)
class ModelChoice:
    """The model the run sends (``None``: the request carries none) and how it was chosen, in words."""

    model_id: str | None
    how: str

    def describe(self) -> str:
        """One line for the report's header; empty when no model is sent."""
        return f"{self.model_id} ({self.how})" if self.model_id else ""


def _listing(spec: Spec, base_url: str) -> tuple[str, str] | None:
    """(URL, its name in words) of the server's model list, or None when the contract sends no model."""
    if not is_pack(spec):
        return base_url.rstrip("/") + MODELS_PATH, f"GET {MODELS_PATH}"
    maps = operation_maps(spec)
    listing = next((m.operation_id for m in maps.values() if m.role == "models"), None)
    if listing is None or not any(m.field("model") for m in maps.values() if m.role == "generate"):
        return None  # the pack's own default model, as the pack's clients send it
    routes = route_table(spec)
    return routes.url(base_url, listing), f"GET {routes[listing].path}"


def choose_model(spec: Spec, base_url: str, *, given: str | None = None, headers: Mapping[str, str] | None = None,
                 timeout: float = LIST_TIMEOUT) -> ModelChoice:
    """The model for a run against ``base_url`` (see the module docstring); ``given`` is ``--model-id``."""
    if given:
        return ModelChoice(given, "--model-id")
    listing = _listing(spec, base_url)
    if listing is None:
        return ModelChoice(None, "the contract's own default")
    url, name = listing
    example = None if is_pack(spec) else default_model_id(spec)
    fallback = "the spec's example" if example else "the contract's default"
    try:
        answer = requests.get(url, headers=dict(headers or {}), timeout=min(timeout, LIST_TIMEOUT))
        ids = model_ids(answer.json()) if answer.status_code == 200 else None
        seen = f"{answer.status_code}" if ids is None else ""
    except (requests.RequestException, ValueError) as exc:
        ids, seen = None, type(exc).__name__
    if ids is None:
        return ModelChoice(example, f"{fallback}; the server lists no models at {name} ({seen}); --model-id names "
                                    "one it has")
    if not ids:
        raise NoModelListed(name)
    if example in ids:
        return ModelChoice(example, f"the spec's example, which the server lists at {name}")
    return ModelChoice(ids[0], f"the first of {len(ids)} model(s) the server lists at {name}; --model-id picks "
                               "another")
