"""What one server answered, and the checks the behaviour table applies to it.

An :class:`Answer` is one HTTP answer (status, headers, parsed JSON) plus ``extra``: what a
multi-step case saw afterwards (a later fetch, webhook deliveries). Checks raise
``AssertionError`` with the server's own words in the message, so a failing case says what it
got. Every fact of the contract a check needs (the error shape, the documented statuses, the
``webhook_status`` vocabulary) is read from the spec through ``spec.responses``, never retyped.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

from t2i_contract.spec import load_spec

__all__ = [
    "Answer",
    "Check",
    "answer_of",
    "error",
    "error_alike",
    "generation",
    "conforms",
    "webhook_status_form",
    "webhook_status_pattern",
]

ERROR_SCHEMA = "/components/schemas/ErrorResponse"
Check = Callable[["Answer"], None]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.body!r:.600}"


def answer_of(response: requests.Response, **extra: Any) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = {"_not_json": response.text[:300]}
    return Answer(response.status_code, dict(response.headers), body, dict(extra))


def conforms(operation: str, answer: Answer) -> None:
    """The answer is one the spec documents for ``operation``: a documented status, the right shape."""
    problems = load_spec().responses.check(operation, answer.status, answer.body)
    assert not problems, f"{operation} answered outside the spec: {problems} in {answer}"


def _error_shape(answer: Answer) -> None:
    media = (answer.header("Content-Type") or "").partition(";")[0].strip()
    assert media == "application/json", f"an error must be JSON, got Content-Type {media!r}: {answer}"
    problems = load_spec().responses.errors_at(ERROR_SCHEMA, answer.body)
    assert not problems, f"not the spec's error shape: {problems} in {answer}"
    errors = answer.body.get("errors")
    assert isinstance(errors, list) and errors, f"an error answer must carry a non-empty errors list: {answer}"


def error(statuses: int | tuple[int, ...], *, operation: str | None = None, field: str | None = None,
          value: Any = ..., allow: str | None = None) -> Check:
    """A non-2xx answer in the spec's error shape, its ``errors`` list included.

    ``operation``: the status must be one the spec documents for it. ``field``/``value``: one
    problem names them. ``allow``: a 405 whose ``Allow`` header lists that method.
    """
    wanted = (statuses,) if isinstance(statuses, int) else statuses

    def check(answer: Answer) -> None:
        assert answer.status in wanted, f"expected HTTP {' or '.join(map(str, wanted))}, got {answer}"
        _error_shape(answer)
        if operation is not None:
            conforms(operation, answer)
        if field is not None:
            named = [p for p in answer.body["errors"] if p.get("field") == field
                     and (value is ... or p.get("value") == value)]
            assert named, f"no problem names field {field!r}" + ("" if value is ... else f" with {value!r}") + \
                f": {answer.body['errors']}"
        if allow is not None:
            methods = _methods(answer.header("Allow"))
            assert allow in methods, f"a 405 must send Allow listing {allow}, got {answer.header('Allow')!r}"

    return check


def _methods(header: str | None) -> frozenset[str]:
    return frozenset(part.strip().upper() for part in (header or "").split(",") if part.strip())


def error_alike(answer: Answer) -> Any:
    """What two servers' error answers must share: status, the whole body, Allow and Retry-After."""
    return {"status": answer.status, "body": answer.body, "allow": sorted(_methods(answer.header("Allow"))),
            "retry-after": answer.header("Retry-After")}


def generation(operation: str, status: str = "success") -> Check:
    """HTTP 200 with a generation in ``status`` that the spec documents for ``operation``."""

    def check(answer: Answer) -> None:
        assert answer.status == 200 and isinstance(answer.body, dict) and answer.body.get("status") == status, \
            f"expected a {status} answer, got {answer}"
        conforms(operation, answer)

    return check


# Placeholders of the forms under x-t2i-webhook-status, and what each stands for.
_PLACEHOLDERS = {"N": r"(?P<N>[0-9]+)", "M": r"(?P<M>[0-9]+)", "REASON": r"(?P<REASON>.+)", "2xx": r"2[0-9]{2}"}


@functools.lru_cache(maxsize=1)
def _webhook_forms() -> dict[str, re.Pattern[str]]:
    """The spec's ``webhook_status`` vocabulary, one regex per state.

    ``x-t2i-webhook-status`` maps each state to its form (``retrying after attempt N of M:
    REASON``), or to a description when the form is the state's bare name (``none``, ``pending``).
    """
    spec = load_spec()
    schema = spec.resolve(spec.schema("SuccessResponse")["properties"]["webhook_status"])
    states = schema.get("x-t2i-webhook-status")
    assert isinstance(states, dict) and states, f"the spec does not list the webhook_status forms: {schema}"
    forms = {}
    for state, text in states.items():
        form = text if str(text).startswith(state) else state
        pieces = re.split(r"(N|M|REASON|2xx)", form)
        forms[state] = re.compile("".join(_PLACEHOLDERS.get(p, re.escape(p)) for p in pieces) + r"\Z")
    return forms


def webhook_status_pattern(state: str) -> re.Pattern[str]:
    """The spec's form of ``state`` as a regex; fails when the vocabulary has no such state."""
    pattern = _webhook_forms().get(state)
    assert pattern is not None, f"the spec's webhook_status vocabulary has no state {state!r}"
    return pattern


def webhook_status_form(state: str, text: Any) -> dict[str, str]:
    """The placeholders of ``text`` read through the spec's form for ``state``; fails if it is not that form."""
    pattern = webhook_status_pattern(state)
    match = pattern.match(text) if isinstance(text, str) else None
    assert match, f"webhook_status {text!r} is not the spec's {state!r} form ({pattern.pattern})"
    return match.groupdict()
