"""How a contract travels, read from its document's ``x-t2i-wire`` hint.

:func:`wire_of` reads and checks the hint once per document and returns a
:class:`Wire`: where the API key travels, the answer's and the webhook's status
words, the asynchronous lifecycle (which operations fetch a queued result, and
the fields of a processing answer), where images come back and in which forms,
and how a server says it does not implement an operation. Servers build their
answers from it and clients read answers with it, so a word of the wire is
written once, in the document. ``spec/EXTENSIONS.md`` describes each entry.

Every name the hint gives is checked against the document when it is read: a
status word must be a discriminator value of the answer schema, a fetch
operation must exist, and so on. A hint that names what the document lacks is a
:class:`~t2i_contract.spec.SpecError` saying which entry and which value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from t2i_contract.spec import Spec, SpecError

from .cache import per_document

__all__ = ["WIRE_EXTENSION", "ErrorShape", "Lifecycle", "NotImplementedSignal", "Output", "StatusWords", "Wire",
           "wire_of"]

WIRE_EXTENSION = "x-t2i-wire"


@dataclass(frozen=True)
class StatusWords:
    """The values of an answer's status field, by role."""

    success: str
    processing: str | None = None
    error: str | None = None
    failed: str | None = None


@dataclass(frozen=True)
class Lifecycle:
    """An asynchronous contract: a generation may answer ``processing`` and be fetched later."""

    kind: str                      # "fetch" (poll an operation) or "sync" (the answer is the result)
    fetch: tuple[str, ...] = ()    # operationIds that fetch a queued result
    eta_field: str | None = None
    result_field: str | None = None
    future_field: str | None = None

    @property
    def is_async(self) -> bool:
        return self.kind != "sync"


@dataclass(frozen=True)
class Output:
    """Where a success answer keeps its images, and how they may be written.

    ``item`` maps a form onto the key of an image object (``{"url": "url", "base64":
    "b64_json"}``) when each image is an object rather than a string. The form a
    request asks for is a boolean field (``base64_switch``) or an enum field
    (``switch``: the field, and its value for each form).
    """

    field: str
    forms: tuple[str, ...]         # "url", "base64"
    base64_switch: str | None = None
    item: Mapping[str, str] | None = None
    switch: Mapping[str, str] | None = None
    mirrors: tuple[str, ...] = ()  # other answer fields listing the same images (v6's proxy_links)

    def default_form(self) -> str:
        return self.forms[0]


@dataclass(frozen=True)
class ErrorShape:
    """The error answer's shape: a template the servers fill, and where clients find its message.

    In ``body``, the strings ``{message}``, ``{field}``, ``{rule}`` and ``{value}``
    are replaced (inside longer strings too), and a string that is exactly
    ``{problems}`` becomes the list of problems.
    """

    body: Mapping[str, Any]
    message_path: tuple[str | int, ...] = ("message",)
    field_path: tuple[str | int, ...] | None = None
    status: int = 400              # what a request that breaks the schema gets (FastAPI's 422)


@dataclass(frozen=True)
class NotImplementedSignal:
    """How a server says "I do not implement this operation": a status and an ``errors[].rule``."""

    status: int
    rule: str

    def message(self, operation_id: str) -> str:
        return f"Not found: this server does not implement {operation_id}"

    def is_shown_by(self, status: int, body: Any, operation_id: str) -> bool:
        """Does this answer say the server lacks ``operation_id`` (and not, say, an unknown model)?

        A route nothing answers at (a 404 or 405 without the contract's error body)
        counts too: a server that never heard of the operation has no error body for it.
        """
        if not isinstance(body, dict):
            return status in (404, 405)
        if status != self.status:
            return False
        errors = body.get("errors")
        rules = {e.get("rule") for e in errors if isinstance(e, dict)} if isinstance(errors, list) else set()
        return self.rule in rules or operation_id in str(body.get("message", ""))


@dataclass(frozen=True)
class Wire:
    """Everything about how one contract travels that is not a request field's schema."""

    key_in: str                    # "body" (a JSON field) or "header"
    key_name: str                  # the field or header name
    answer_status_field: str | None
    answer_words: StatusWords | None
    webhook_words: StatusWords | None
    lifecycle: Lifecycle
    output: Output
    not_implemented: NotImplementedSignal
    error: ErrorShape
    key_scheme: str | None = None  # with a header: "Bearer", "Basic"
    key_optional: bool = False     # the contract has no key unless a server turns auth on
    created_field: str | None = None
    echo_field: str | None = None
    info_field: str | None = None
    info_encoding: str | None = None


@per_document
def wire_of(spec: Spec) -> Wire:
    """The document's :class:`Wire`, read and checked once per :class:`Spec`."""
    return _read(spec)


def _entry(hint: Mapping[str, Any], name: str, kind: type = dict) -> Any:
    value = hint.get(name)
    if not isinstance(value, kind):
        raise SpecError(f"{WIRE_EXTENSION}.{name} must be a {kind.__name__}, got {value!r}")
    return value


def _words(node: Mapping[str, Any], where: str, roles: tuple[str, ...]) -> StatusWords:
    words = _entry(node, "words")
    unknown = sorted(set(words) - set(roles))
    if unknown or "success" not in words:
        raise SpecError(f"{WIRE_EXTENSION}.{where}.words takes the roles {', '.join(roles)} (success required), "
                        f"got {sorted(words)}")
    return StatusWords(**{role: str(word) for role, word in words.items()})


def _read(spec: Spec) -> Wire:
    hint = spec.document.get(WIRE_EXTENSION)
    if not isinstance(hint, dict):
        raise SpecError(f"{spec.path or 'the document'} has no {WIRE_EXTENSION} hint (see spec/EXTENSIONS.md)")
    key = _entry(hint, "key")
    if key.get("in") not in ("body", "header") or not isinstance(key.get("name"), str):
        raise SpecError(f"{WIRE_EXTENSION}.key needs in: body|header and a name, got {key!r}")
    answer = hint.get("answer") or {}
    if not isinstance(answer, dict):
        raise SpecError(f"{WIRE_EXTENSION}.answer must be a mapping, got {answer!r}")
    webhook = hint.get("webhook")
    cycle = _entry(hint, "lifecycle")
    fetch = tuple(cycle.get("fetch") or ())
    operations = {op_id for op_id, *_ in spec.operations()}
    missing = [op_id for op_id in fetch if op_id not in operations]
    if missing:
        raise SpecError(f"{WIRE_EXTENSION}.lifecycle.fetch names {missing}, which the document does not define")
    if cycle.get("kind") not in ("fetch", "sync"):
        raise SpecError(f"{WIRE_EXTENSION}.lifecycle.kind must be fetch or sync, got {cycle.get('kind')!r}")
    output = _entry(hint, "output")
    forms = tuple(output.get("forms") or ())
    if not forms or set(forms) - {"url", "base64"}:
        raise SpecError(f"{WIRE_EXTENSION}.output.forms takes url and/or base64, got {list(forms)}")
    signal = _entry(hint, "not-implemented")
    status_field = answer.get("status-field")
    if (status_field is None) != ("words" not in answer):
        raise SpecError(f"{WIRE_EXTENSION}.answer needs both status-field and words, or neither, got {answer!r}")
    if status_field is None and cycle["kind"] != "sync":
        raise SpecError(f"{WIRE_EXTENSION}.lifecycle.kind {cycle['kind']!r} needs answer words to say processing")
    error = hint.get("error") or {"body": {"status": "error", "message": "{message}", "errors": "{problems}"}}
    if not isinstance(error, dict) or not isinstance(error.get("body"), dict):
        raise SpecError(f"{WIRE_EXTENSION}.error.body must be a mapping (a template), got {error!r}")
    item, switch = output.get("item"), output.get("switch")
    for name, node in (("item", item), ("switch", switch)):
        if node is not None and (not isinstance(node, dict) or set(node) - {"field", *forms}):
            raise SpecError(f"{WIRE_EXTENSION}.output.{name} maps the forms {list(forms)}, got {node!r}")
    return Wire(
        key_in=key["in"], key_name=key["name"], key_scheme=key.get("scheme"), key_optional=bool(key.get("optional")),
        answer_status_field=str(status_field) if status_field is not None else None,
        answer_words=_words(answer, "answer", ("success", "processing", "error")) if status_field else None,
        webhook_words=_words(webhook, "webhook", ("success", "failed")) if isinstance(webhook, dict) else None,
        lifecycle=Lifecycle(kind=cycle["kind"], fetch=fetch, eta_field=cycle.get("eta-field"),
                            result_field=cycle.get("result-field"), future_field=cycle.get("future-field")),
        output=Output(field=str(_entry(output, "field", str)), forms=forms,
                      base64_switch=output.get("base64-switch"), item=item, switch=switch,
                      mirrors=tuple(output.get("mirror-fields") or ())),
        not_implemented=NotImplementedSignal(status=int(signal.get("status", 404)),
                                             rule=str(signal.get("rule", "operation"))),
        error=ErrorShape(body=error["body"], message_path=tuple(error.get("message-path") or ("message",)),
                         field_path=tuple(error["field-path"]) if error.get("field-path") else None,
                         status=int(error.get("status", 400))),
        created_field=answer.get("created-field"), echo_field=answer.get("echo-field"),
        info_field=answer.get("info-field"), info_encoding=answer.get("info-encoding"),
    )
