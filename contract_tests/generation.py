"""Request generation for the contract suite, derived from ``spec/``.

Public API (the drift tools import it too):

``valid_bodies(spec, *, profile="cheap", model_id=None, loras=(), key=DEFAULT_KEY)``
    A hypothesis strategy of text2img bodies that the contract says a server
    must accept. Values come from the request schema's keywords (type, minimum,
    maximum, multipleOf, enum, maxLength, ...), sent in canonical JSON types or
    in the wire forms of ``x-t2i-coercions`` (``"512"``, ``"yes"``), mixed with
    schemathesis' positive bodies. Fields that name server assets use only what
    the caller says the server has (``model_id``, ``loras``); ``vae``,
    ``webhook`` and the IP-Adapter fields are left out (they would make the
    server fetch URLs or assets), and so are the schedulers the spec lets a
    server refuse (``spec.non_sampler_schedulers``). The ``cheap`` profile keeps
    images at 256x256, steps at 1-3, samples at 1-2 and never upscales, for GPU
    backends; ``full`` covers the schema's whole range.

``invalid_bodies(spec, *, model_id=None, key=DEFAULT_KEY)``
    A strategy of JSON-object bodies a server must reject: a cheap valid body
    with one field broken by a schema rule (wrong type, out of range, not a
    multiple, outside the enum, breaking the pattern or length, a required
    field missing, LoRA lists of different lengths), mixed with schemathesis'
    negative bodies.

Every function takes ``operation`` (an operationId: ``text2img``, the default,
``img2img`` or ``inpaint``) and ``inputs``, the values the run gives the
operation's required input images (``init_image``, ``mask_image``: URLs of the
suite's own image server, or base64; see :mod:`contract_tests.inputs`). Input
images are asset fields: generated bodies never invent one, so no server is
sent to fetch a URL the suite does not serve.

Per-property values come from :mod:`contract_tests.values`. Both strategies
use ``spec.parse_request(operation, ...)`` as the oracle: because of the wire leniency
a schema-violating value can still be valid (``"512"`` for an integer), so a
body is only "valid" or "invalid" when the spec's own validator says so.

``edge_bodies(spec, *, profile, model_id, loras, key)`` lists explicit boundary
bodies (largest and smallest images, most samples) that every run sends;
``invalid_edge_bodies(spec, *, model_id, key)`` breaks every rule of every field
once, so no rule depends on luck; ``MALFORMED_BODIES`` are raw bodies that are
not JSON objects at all.
``draw(strategy, count, seed=...)`` draws examples reproducibly without
hypothesis' interactive ``.example()``.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from t2i_contract.spec import RequestError, Spec, parse_request

from .values import rule_breakers, value_strategy, violation_strategy, with_wire_form

__all__ = [
    "CHEAP_FIELDS",
    "DEFAULT_KEY",
    "DEFAULT_MODEL_ID",
    "MALFORMED_BODIES",
    "PROFILES",
    "default_model_id",
    "draw",
    "edge_bodies",
    "input_fields",
    "invalid_bodies",
    "invalid_edge_bodies",
    "labelled_invalid_bodies",
    "is_valid",
    "minimal_body",
    "valid_bodies",
]

PROFILES = ("cheap", "full")
DEFAULT_KEY = "t2i-contract-test-key"
DEFAULT_MODEL_ID = "f222-diffusion"
# Fields whose valid values depend on what the server has or would make it reach out.
_ASSET_FIELDS = frozenset({"key", "model_id", "vae", "lora_model", "lora_strength", "webhook",
                           "ip_adapter_id", "ip_adapter_scale", "ip_adapter_image"})
_CHEAP = {"width": st.just(256), "height": st.just(256), "samples": st.integers(1, 2),
          "num_inference_steps": st.integers(1, 3), "upscale": st.just(False), "highres_fix": st.just(False)}
# Always sent by the cheap profile, so that no default can make a request costlier.
CHEAP_FIELDS = frozenset(_CHEAP)
_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)

MALFORMED_BODIES: tuple[bytes, ...] = (
    b"",
    b"not json",
    b"{",
    b"[]",
    b'"a string"',
    b"null",
    b"42",
    b'{"key": NaN}',
    b"\xff\xfe\x00",
)


Inputs = Mapping[str, str]


def is_valid(body: Any, spec: Spec, operation: str = "text2img") -> bool:
    """The oracle: does the spec's own validator accept ``body`` for ``operation``?"""
    try:
        parse_request(operation, body, spec)
    except RequestError:
        return False
    return True


def input_fields(spec: Spec, operation: str) -> list[str]:
    """The operation's input-image fields (``x-t2i-input-image``) that it requires."""
    return [item.name for item in spec.request_fields(operation)
            if item.required and item.schema.get("x-t2i-input-image")]


def _asset_fields(spec: Spec, operation: str) -> frozenset[str]:
    return _ASSET_FIELDS | {item.name for item in spec.request_fields(operation)
                            if item.schema.get("x-t2i-input-image")}


def default_model_id(spec: Spec) -> str:
    """The model id of the spec's first text2img example, used when none is given."""
    _, _, operation = spec.operation("text2img")
    content = spec.resolve(operation.get("requestBody", {})).get("content", {})
    for example in (content.get("application/json", {}).get("examples") or {}).values():
        model = (example.get("value") or {}).get("model_id")
        if isinstance(model, str):
            return model
    return DEFAULT_MODEL_ID


def minimal_body(spec: Spec, *, model_id: str | None = None, key: str = DEFAULT_KEY,
                 prompt: str = "a lighthouse on a cliff at dawn", operation: str = "text2img",
                 inputs: Inputs | None = None) -> dict[str, Any]:
    """The required fields, and a prompt (required by text2img only, sent to every generation)."""
    body = {"key": key, "model_id": model_id or default_model_id(spec), "prompt": prompt}
    return body | {name: (inputs or {})[name] for name in input_fields(spec, operation)}


def _lora_fields(loras: Sequence[str]) -> st.SearchStrategy[dict[str, Any]]:
    """lora_model/lora_strength pairs using only adapters the server has."""
    if not loras:
        return st.sampled_from([{}, {"lora_model": None}, {"lora_model": ""}])

    @st.composite
    def pick(draw_: Callable[..., Any]) -> dict[str, Any]:
        chosen = draw_(st.lists(st.sampled_from(list(loras)), min_size=0, max_size=len(loras), unique=True))
        if not chosen:
            return {}
        fields: dict[str, Any] = {"lora_model": draw_(st.sampled_from([",", ", "])).join(chosen)}
        strengths = [n / 100 for n in draw_(st.lists(st.integers(10, 100), min_size=len(chosen),
                                                      max_size=len(chosen)))]
        form = draw_(st.sampled_from(["none", "one", "one-string", "list"]))
        if form == "one":
            fields["lora_strength"] = strengths[0]
        elif form == "one-string":
            fields["lora_strength"] = f"{strengths[0]:.2f}"
        elif form == "list":
            fields["lora_strength"] = ",".join(f"{s:.2f}" for s in strengths)
        return fields

    return pick()


def _properties(spec: Spec, operation: str = "text2img") -> dict[str, Mapping[str, Any]]:
    return {item.name: item.schema for item in spec.request_fields(operation)}


def _required(spec: Spec, operation: str = "text2img") -> list[str]:
    return [item.name for item in spec.request_fields(operation) if item.required]


def _own_valid_bodies(spec: Spec, profile: str, model_id: str, loras: Sequence[str],
                      key: str, operation: str = "text2img",
                      inputs: Inputs | None = None) -> st.SearchStrategy[dict[str, Any]]:
    # In the cheap profile the size-and-cost fields are always sent, so no default can exceed them.
    required: dict[str, st.SearchStrategy[Any]] = {"key": st.just(key), "model_id": st.just(model_id),
                                                   "prompt": _TEXT}
    required |= {name: st.just((inputs or {})[name]) for name in input_fields(spec, operation)}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    assets = _asset_fields(spec, operation)
    for name, schema in _properties(spec, operation).items():
        if name in assets or name in ("prompt",):
            continue
        if profile == "cheap" and name in _CHEAP:
            wire: Callable[[Any], Any] = (lambda v: "no") if name in ("upscale", "highres_fix") else str
            required[name] = with_wire_form(_CHEAP[name], wire)
        elif name == "scheduler":
            optional[name] = st.sampled_from([s for s in schema["enum"] if s not in spec.non_sampler_schedulers])
        elif name == "track_id":
            optional[name] = st.one_of(st.none(), _TEXT)
        else:
            optional[name] = value_strategy(schema, spec.wire_booleans)
    base = st.fixed_dictionaries(required, optional=optional | {"negative_prompt": _TEXT})
    return st.builds(lambda body, lora: body | lora, base, _lora_fields(loras))


def _schemathesis_bodies(spec: Spec, positive: bool, operation: str = "text2img") -> st.SearchStrategy[Any]:
    import schemathesis
    from schemathesis import GenerationMode

    api_operation = schemathesis.openapi.from_dict(spec.document)[spec.operation(operation)[0]]["POST"]
    mode = GenerationMode.POSITIVE if positive else GenerationMode.NEGATIVE
    return api_operation.as_strategy(generation_mode=mode).map(lambda case: case.body)


def _fit(spec: Spec, body: Any, profile: str, model_id: str, key: str, lora: dict[str, Any],
         operation: str = "text2img", inputs: Inputs | None = None) -> Any:
    """Point a schemathesis body at the server's own assets and the profile's limits."""
    if not isinstance(body, dict):
        return body
    body = {k: v for k, v in body.items() if k not in _asset_fields(spec, operation)} | lora
    body.update(key=key, model_id=model_id)
    body.update({name: (inputs or {})[name] for name in input_fields(spec, operation)})
    if body.get("scheduler") in spec.non_sampler_schedulers:
        body.pop("scheduler")
    if profile == "cheap":
        cheap = {"width": 256, "height": 256, "upscale": False, "highres_fix": False, "samples": 1,
                 "num_inference_steps": 2}
        body.update({k: v for k, v in cheap.items() if k in _properties(spec, operation)})
    return body


def valid_bodies(spec: Spec, *, profile: str = "cheap", model_id: str | None = None,
                 loras: Sequence[str] = (), key: str = "", operation: str = "text2img",
                 inputs: Inputs | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies a server must accept (see the module docstring)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    model_id = model_id or default_model_id(spec)
    key = key or DEFAULT_KEY
    loras = tuple(loras)
    from_schemathesis = st.builds(
        lambda body, lora: _fit(spec, body, profile, model_id, key, lora, operation, inputs),
        _schemathesis_bodies(spec, True, operation), _lora_fields(loras))
    return st.one_of(
        _own_valid_bodies(spec, profile, model_id, loras, key, operation, inputs),
        from_schemathesis.filter(lambda b: isinstance(b, dict) and not _has_surrogates(b)),
    ).filter(lambda body: is_valid(body, spec, operation))


def _has_surrogates(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_surrogates(k) or _has_surrogates(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogates(v) for v in value)
    return False


def invalid_bodies(spec: Spec, *, model_id: str | None = None, key: str = "", operation: str = "text2img",
                   inputs: Inputs | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """JSON-object bodies a server must reject (see the module docstring)."""
    model_id = model_id or default_model_id(spec)
    key = key or DEFAULT_KEY
    properties = _properties(spec, operation)
    required = _required(spec, operation)
    base = _own_valid_bodies(spec, "cheap", model_id, (), key, operation, inputs)
    images = {item.name for item in spec.request_fields(operation) if item.schema.get("x-t2i-input-image")}

    @st.composite
    def broken(draw_: Callable[..., Any]) -> dict[str, Any]:
        body = dict(draw_(base))
        how = draw_(st.sampled_from(["field", "field", "field", "missing", "lora-count"]))
        if how == "missing":
            body.pop(draw_(st.sampled_from(list(required))))
        elif how == "lora-count":
            body.update(lora_model="lora-a,lora-b", lora_strength="0.5,0.5,0.5")
        else:
            name = draw_(st.sampled_from(sorted(properties)))
            body[name] = draw_(violation_strategy(properties[name]))
        return body

    def point_at_server(body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("key"), str) and body["key"]:
            body = body | {"key": key}
        if isinstance(body, dict):  # an input URL schemathesis made up could point anywhere: use the suite's
            body = dict(body)
            for name in images & body.keys():
                if isinstance(body[name], str) and "://" in body[name]:
                    if name in (inputs or {}):
                        body[name] = (inputs or {})[name]
                    else:
                        del body[name]
        return body

    from_schemathesis = _schemathesis_bodies(spec, False, operation).map(point_at_server)
    return st.one_of(broken(), from_schemathesis.filter(lambda b: isinstance(b, dict))).filter(
        lambda body: not is_valid(body, spec, operation))


# -- explicit boundaries and drawing -------------------------------------------------
def edge_bodies(spec: Spec, *, profile: str = "cheap", model_id: str | None = None,
                loras: Sequence[str] = (), key: str = "", operation: str = "text2img",
                inputs: Inputs | None = None) -> list[dict[str, Any]]:
    """Boundary bodies every run sends, whatever hypothesis draws."""
    base = minimal_body(spec, model_id=model_id, key=key or DEFAULT_KEY, prompt="edge case", operation=operation,
                        inputs=inputs)
    lora = {"lora_model": ",".join(loras), "lora_strength": "1"} if loras else {}
    props = _properties(spec, operation)
    if "strength" in props:  # img2img and inpaint: the output size is the init image's, strength is the range
        strength = props["strength"]
        steps = 1 if profile == "cheap" else 30
        bodies = [base | {"samples": 2, "num_inference_steps": steps, "strength": strength["maximum"]} | lora,
                  base | {"num_inference_steps": "2", "strength": str(strength["minimum"]), "base64": "yes"}]
    elif profile == "cheap":
        bodies = [base | {"width": 256, "height": 256, "samples": 2, "num_inference_steps": 1} | lora]
    else:
        width, height, samples = props["width"], props["height"], props["samples"]
        bodies = [
            base | {"width": width["maximum"], "height": height["maximum"], "samples": samples["maximum"],
                    "num_inference_steps": 30} | lora,
            base | {"width": width["minimum"], "height": height["maximum"], "upscale": True, "samples": "2"},
            base | {"width": str(width["minimum"]), "height": height["minimum"], "base64": "yes"},
        ]
    return [body for body in bodies if is_valid(body, spec, operation)]


def invalid_edge_bodies(spec: Spec, *, model_id: str | None = None, key: str = "", operation: str = "text2img",
                        inputs: Inputs | None = None) -> list[dict[str, Any]]:
    """Every rule of every field broken once, on an otherwise valid cheap body, plus each required field missing."""
    base = _invalid_base(spec, model_id=model_id, key=key, operation=operation, inputs=inputs)
    bodies = [{k: v for k, v in base.items() if k != name} for name in _required(spec, operation)]
    for name, schema in _properties(spec, operation).items():
        bodies += [base | {name: value} for value in rule_breakers(schema)]
    bodies.append(base | {"lora_model": "lora-a,lora-b", "lora_strength": "0.5,0.5,0.5"})
    return [body for body in bodies if not is_valid(body, spec, operation)]


def broken_field(body: Any, valid: Mapping[str, Any]) -> str | None:
    """The one field in which ``body`` departs from the valid body it was made from (changed or missing), if one."""
    if not isinstance(body, dict):
        return None
    changed = [name for name in set(body) | set(valid) if name not in body or name not in valid
               or body[name] != valid[name] or type(body[name]) is not type(valid[name])]
    return changed[0] if len(changed) == 1 else None


def _invalid_base(spec: Spec, *, model_id: str | None = None, key: str = "", operation: str = "text2img",
                  inputs: Inputs | None = None) -> dict[str, Any]:
    """The valid cheap body the invalid edge bodies break one rule of."""
    return minimal_body(spec, model_id=model_id, key=key or DEFAULT_KEY, prompt="invalid edge case",
                        operation=operation, inputs=inputs) | {"width": 256, "height": 256, "num_inference_steps": 2}


def labelled_invalid_bodies(spec: Spec, **kwargs: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """:func:`invalid_edge_bodies`, each with the one field it breaks (None when it breaks several)."""
    base = _invalid_base(spec, **kwargs)
    return [(broken_field(body, base), body) for body in invalid_edge_bodies(spec, **kwargs)]


def draw(strategy: st.SearchStrategy[Any], count: int, *, seed: int) -> list[Any]:
    """Up to ``count`` examples of ``strategy``, the same ones for the same ``seed``."""
    found: list[Any] = []

    @hypothesis_seed(seed)
    @settings(max_examples=max(count, 1), database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found[:count]
