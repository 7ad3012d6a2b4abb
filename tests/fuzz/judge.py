"""The verdict on one fuzzed exchange, and the documented list of known disagreements.

Each answer is judged three ways:

* no 5xx, and the answer conforms to the spec (schemathesis' response checks: status
  code, content type, headers and body schema);
* acceptance: a body is valid or invalid only when the spec's own parser says so
  (``parse_json_body`` on the bytes sent, then ``parse_request`` / ``parse_fetch``),
  because the contract is wider and narrower than its JSON Schema: ``"512"`` is a valid
  width on the wire (``x-t2i-coercions``), and two LoRA lists of different lengths are
  invalid although each field is. So a server must accept what the parser accepts and
  refuse what it refuses, whatever schemathesis meant the case to be; an "accepted" fetch
  is a 200 or a 404 (the id is unknown, but the request was read);
* what is left over is a :class:`Problem`, unless :data:`KNOWN` explains it.

The two-field LoRA count rule (``lora_model`` and ``lora_strength`` lists of different lengths)
is the classic disagreement between schemathesis and this contract: schemathesis draws the two
fields independently and calls such a body positive. Judged by the spec's parser it is simply
invalid, so its refusal is no problem and needs no entry in :data:`KNOWN`. What :data:`KNOWN`
lists is what no document can decide: a server's own assets (on the tiny-model backend, any
other model, LoRA, VAE or adapter; with the current budget only ``modelReload``'s ``model_id``
shows up) and whether base64 text is really an image.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Callable

from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from t2i_contract.spec import RequestError, load_spec, parse_fetch, parse_json_body, parse_request

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # novm: the backport, for Python 3.10

__all__ = ["KNOWN", "Known", "Problem", "judge", "wire"]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@dataclass(frozen=True)
class Known:
    """A disagreement the suite tolerates: where it shows, and why it is not a bug."""

    server: str  # "mock", "backend" or "*"
    what: str  # the problem's kind: "refused-valid", "accepted-invalid" or a schemathesis failure title
    field: str  # the field the server's error names ("" for any)
    why: str


KNOWN: tuple[Known, ...] = (
    Known("backend", "refused-valid", "scheduler",
          "the spec lets a server refuse the schedulers that are not samplers (spec.non_sampler_schedulers) and "
          "any scheduler its model family cannot run; the tiny SD model refuses those"),
    Known("backend", "refused-valid", "model_id",
          "a model the backend does not hold is a 400/404 naming model_id; the spec cannot know a server's assets"),
    Known("backend", "refused-valid", "lora_model",
          "a LoRA the backend does not hold is refused naming lora_model (server assets again)"),
    Known("backend", "refused-valid", "vae", "a VAE the backend does not hold is refused naming vae"),
    Known("backend", "refused-valid", "ip_adapter_id",
          "an IP-Adapter the backend does not hold is refused naming ip_adapter_id"),
    Known("backend", "refused-valid", "ip_adapter_image",
          "IP-Adapter fields without an adapter, or an image the adapter cannot read, are refused"),
    *(Known("*", "refused-valid", field,
            "the schema takes any base64 text (or URL) as an input image; whether it is a PNG or JPEG of a usable "
            "size is only known by reading it, and a server must refuse it naming the field (DECISIONS D17). The "
            "positive phase sends a real PNG; this covers the negative phase's schema-valid leftovers")
      for field in ("init_image", "mask_image", "ip_adapter_image")),
)


@dataclass(frozen=True)
class Problem:
    server: str
    operation: str
    what: str
    field: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.server} {self.operation}] {self.what} ({self.field or '-'}): {self.detail}"


def wire(body: Any) -> bytes:
    """The bytes a fuzzed body is sent as: JSON with non-ASCII escaped (lone surrogates included);
    a body schemathesis made as bytes (its negative phase does) goes as it is."""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    return json.dumps(body).encode("ascii")


def _valid(operation: str, raw: bytes, path_id: Any) -> bool:
    """The spec's own verdict on the bytes sent; a parser that raises anything but a RequestError is a bug."""
    spec = load_spec()
    try:
        body = parse_json_body(raw)
        if operation in ("fetch", "fetchById"):
            parse_fetch(body, None if path_id is None else str(path_id), spec)
        else:
            parse_request(operation, body, spec)
    except RequestError:
        return False
    return True


def _error_fields(response: Any) -> list[str]:
    try:
        payload = response.json()
    except ValueError:
        return []
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(errors, list):
        return []
    return [str(e.get("field", "")) for e in errors if isinstance(e, dict)]


def _known(problem: Problem) -> bool:
    return any(k.server in ("*", problem.server) and k.what == problem.what and k.field in ("", problem.field)
               for k in KNOWN)


def judge(server: str, operation: str, case: Any, response: Any, *, body: Any = None, raw: bytes | None = None,
          path_id: Any = None, key: str | None = None, validate: Callable[..., None] | None = None) -> list[Problem]:
    """Problems with one answer that :data:`KNOWN` does not explain.

    ``body`` is what was sent, when it is not ``case.body`` (schemathesis' case is left as drawn:
    it re-hashes a changed body, and a lone surrogate breaks that); ``key`` is the server's key:
    a valid body with another key is rightly a 401.
    """
    body = case.body if body is None else body
    problems: list[Problem] = []
    summary = f"{response.status_code} for {body!r:.300} -> {response.text[:300]!r}"
    try:
        (validate or case.validate_response)(response, checks=CHECKS)
    except BaseExceptionGroup as group:  # novm: on 3.10, exceptiongroup's (a dependency of hypothesis)
        problems += [Problem(server, operation, getattr(f, "title", type(f).__name__), "", f"{f}\n{summary}")
                     for f in group.exceptions]
    except AssertionError as failure:
        problems.append(Problem(server, operation, getattr(failure, "title", "check"), "", f"{failure}\n{summary}"))
    try:
        valid = _valid(operation, wire(body) if raw is None else raw, path_id)
    except Exception as exc:  # noqa: BLE001 - the oracle itself broke on this body
        return problems + [Problem(server, operation, "oracle-crashed", "", f"{type(exc).__name__}: {exc}\n{summary}")]
    status = response.status_code
    accepted = status < 300 or (operation in ("fetch", "fetchById") and status == 404)
    if status == 401 and key is not None and not (isinstance(body, dict) and body.get("key") == key):
        return [p for p in problems if not _known(p)]  # another key: refused before the body matters
    if status < 500 and valid and not accepted:
        problems += [Problem(server, operation, "refused-valid", field, summary)
                     for field in (_error_fields(response) or [""])][:1]
    elif status < 500 and accepted and not valid:
        problems.append(Problem(server, operation, "accepted-invalid", "", summary))
    return [p for p in problems if not _known(p)]
