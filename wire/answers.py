"""The answers of a contract: built by servers from one small job interface, read by clients.

A server describes a generation as a :class:`JobView`: a snapshot of what a client
may learn about it (its state, ``meta``, image links, timings, webhook status).
:class:`Answers` (one per document, :func:`answers_for`) decides what a success, a
processing answer, a failed generation, a webhook payload and a model-reload
answer hold, so text2img, both fetch forms and the webhook sender of every server
agree on a job's id, links and meta. The status words, the field names of the
lifecycle and the fetch link's route come from the document (:mod:`.contract`,
:mod:`.routes`); :class:`JobView`'s ``state`` is the servers' own vocabulary
(:data:`PROCESSING`, :data:`SUCCESS`, :data:`FAILED`), mapped onto those words here.

Clients read an answer with :meth:`Answers.read` into a :class:`Reading`: which
branch it is, its id, its images, how long to wait and where to fetch.

``meta`` is the request as understood (seed filled in). What a server did beyond
the request (the backend's effective scheduler, its notes) travels in ``meta``
under keys the request does not use, never by overwriting a request field: with
no ``scheduler`` asked for, ``meta.scheduler`` is ``null`` on every server.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from t2i_contract.spec import Spec, error_body

from .cache import per_document
from .contract import Wire, wire_of
from .routes import RouteTable, route_table

__all__ = ["FAILED", "PROCESSING", "PROCESSING_MESSAGE", "SUCCESS", "TIP_FETCH", "Answers", "JobView", "Reading",
           "answers_for", "with_server_info"]

PROCESSING_MESSAGE = "Your request is being processed"
TIP_FETCH = "Poll fetch_result (POST with your key) until status is success."

PROCESSING, SUCCESS, FAILED = "processing", "success", "failed"
"""The states of a :class:`JobView` (the servers' vocabulary, not the wire's: see :class:`Answers`)."""


@dataclass(frozen=True, slots=True)
class JobView:
    """What the protocol needs to know about one generation to answer about it.

    ``links`` are the absolute image URLs (``future_links`` while processing);
    ``output`` is called only for a success and returns what ``output`` holds (the
    links, or base64 PNGs when the request asked for them). ``error`` is the failed
    generation's error body and ``error_status`` the HTTP status text2img answers it
    with. ``fetch_base`` is the base URL the fetch link is built on.
    """

    id: int
    state: str
    meta: dict[str, Any]
    links: Sequence[str]
    fetch_base: str
    tip: str
    webhook_status: str
    track_id: str | None = None
    eta: float = 0.0
    generation_time: float = 0.0
    nsfw: bool = False
    proxy_links: Sequence[str] | None = None
    output: Callable[[], list[str]] | None = None
    error: dict[str, Any] | None = None
    error_status: int = 500

    def images(self) -> list[str]:
        return self.output() if self.output is not None else list(self.links)


USED_SUFFIX = "_used"


def with_server_info(meta: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """``meta`` plus what a server reports about the run, never overwriting a request field.

    A server entry whose name is a request field goes under ``<name>_used``: the
    backend's effective scheduler is ``meta.scheduler_used`` while ``meta.scheduler``
    stays what the client asked for (``null`` for the model's own).
    """
    merged = dict(meta)
    for name, value in info.items():
        merged[name + USED_SUFFIX if name in meta else name] = value
    return merged


@dataclass(frozen=True)
class Reading:
    """What a client learns from one answer body (``branch`` None when it is not one of the contract's)."""

    branch: str | None            # "success", "processing", "error" (roles, whatever the words)
    id: Any = None
    images: tuple[Any, ...] = ()
    eta: float | None = None
    fetch_url: str | None = None
    future: tuple[Any, ...] = ()


class Answers:
    """The answer bodies of one document, built and read."""

    def __init__(self, spec: Spec) -> None:
        self.wire: Wire = wire_of(spec)
        self.routes: RouteTable = route_table(spec)
        words, cycle = self.wire.answer_words, self.wire.lifecycle
        self._words = words
        self._hook = self.wire.webhook_words or words
        self._status = self.wire.answer_status_field
        self._output = self.wire.output.field
        self._fetch = cycle.fetch[0] if cycle.fetch else None
        self._roles = {word: role for role, word in (("success", words.success), ("processing", words.processing),
                                                     ("error", words.error)) if word} if words else {}

    # -- building (servers) ----------------------------------------------------------
    def fetch_url(self, job: JobView) -> str | None:
        """Where a client polls for ``job``: the first fetch operation's route, on the job's base URL."""
        if self._fetch is None:
            return None
        return self.routes.url(job.fetch_base, self._fetch, **{p: job.id for p in self.routes[self._fetch].params})

    def success(self, job: JobView) -> dict[str, Any]:
        return {
            self._status: self._words.success,
            "generationTime": round(job.generation_time, 4),
            "id": job.id,
            self._output: job.images(),
            "proxy_links": list(job.links if job.proxy_links is None else job.proxy_links),
            "nsfw_content_detected": job.nsfw,
            "webhook_status": job.webhook_status,
            "tip": job.tip,
            "meta": job.meta,
        }

    def processing(self, job: JobView) -> dict[str, Any]:
        cycle = self.wire.lifecycle
        body: dict[str, Any] = {
            self._status: self._words.processing,
            "tip": job.tip,
            "tip_1": TIP_FETCH,
            "message": PROCESSING_MESSAGE,
            "webhook_status": job.webhook_status,
            "id": job.id,
            self._output: [],
            "meta": job.meta,
        }
        if cycle.eta_field:
            body[cycle.eta_field] = round(max(job.eta, 0.0), 2)
        if cycle.result_field:
            body[cycle.result_field] = self.fetch_url(job)
        if cycle.future_field:
            body[cycle.future_field] = list(job.links)
        return body

    def failed(self, job: JobView) -> dict[str, Any]:
        """The error a failed generation ended with (its problems included), plus the id."""
        stored = job.error if job.error and job.error.get("status") == "error" else error_body("generation failed")
        return {**stored, "id": job.id}

    def result(self, job: JobView, echo: dict[str, Any] | None = None) -> dict[str, Any]:
        """The answer of a synchronous contract (no status word): the images, and what the hints add.

        Each image is written in the form the request asked for, as a string or, with
        ``output.item``, as an object under that form's key (OpenAI's ``{"b64_json": ...}``);
        ``echo`` is the request as the server understood it (``answer.echo-field``), and
        the run's ``meta`` goes in ``answer.info-field`` (as a JSON string with
        ``info-encoding: json-string``, as AUTOMATIC1111 writes it).
        """
        wire = self.wire
        form = "base64" if job.meta.get("base64") else "url"
        item = (wire.output.item or {}).get(form)
        images = job.images()
        body: dict[str, Any] = {}
        if wire.created_field:
            body[wire.created_field] = int(time.time())
        body[self._output] = [{item: image} for image in images] if item else list(images)
        if wire.echo_field:
            body[wire.echo_field] = echo if echo is not None else job.meta
        if wire.info_field:
            info = job.meta | {"all_seeds": [job.meta.get("seed")] * len(images)}
            body[wire.info_field] = json.dumps(info) if wire.info_encoding == "json-string" else info
        return body

    def answer(self, job: JobView) -> dict[str, Any]:
        """The body about ``job`` in its current state."""
        if self._words is None:
            return self.failed(job) if job.state == FAILED else self.result(job)
        if job.state == SUCCESS:
            return self.success(job)
        if job.state == FAILED:
            return self.failed(job)
        return self.processing(job)

    def webhook(self, job: JobView) -> dict[str, Any]:
        """The webhook payload for a finished job (``WebhookSuccess`` or ``WebhookFailure``)."""
        if job.state == FAILED:
            message = (job.error or {}).get("message") or "generation failed"
            return {self._status: self._hook.failed, "id": job.id, "message": message, "track_id": job.track_id}
        return {
            self._status: self._hook.success,
            "id": job.id,
            self._output: job.images(),
            "generationTime": round(job.generation_time, 4),
            "track_id": job.track_id,
            "meta": job.meta,
        }

    def reload(self, state: str, message: str, **extra: Any) -> dict[str, Any]:
        """A model-reload answer in ``state`` (:data:`SUCCESS`, :data:`PROCESSING` or :data:`FAILED`, said as the error word)."""
        word = {SUCCESS: self._words.success, PROCESSING: self._words.processing}.get(state, self._words.error)
        return {self._status: word, "message": message, **extra}

    # -- reading (clients) -----------------------------------------------------------
    def read(self, body: Any) -> Reading:
        """A client's reading of an answer body (any JSON value; never raises)."""
        if not isinstance(body, dict):
            return Reading(None)
        if self._status is None:  # a synchronous contract: an answer with images is a success
            images = body.get(self._output)
            if not isinstance(images, list):
                return Reading(None)
            item = self.wire.output.item
            return Reading("success", images=tuple(_image_of(i, item) for i in images))
        branch = self._roles.get(body.get(self._status)) if isinstance(body.get(self._status), str) else None
        cycle = self.wire.lifecycle
        images = body.get(self._output)
        future = body.get(cycle.future_field) if cycle.future_field else None
        eta = body.get(cycle.eta_field) if cycle.eta_field else None
        fetch = body.get(cycle.result_field) if cycle.result_field else None
        return Reading(
            branch=branch, id=body.get("id"),
            images=tuple(images) if isinstance(images, list) else (),
            eta=float(eta) if isinstance(eta, (int, float)) and not isinstance(eta, bool) else None,
            fetch_url=fetch if isinstance(fetch, str) else None,
            future=tuple(future) if isinstance(future, list) else (),
        )


def _image_of(entry: Any, item: Any) -> Any:
    """An image string out of an ``output`` entry (an object's url or base64 field, with ``output.item``)."""
    if item and isinstance(entry, dict):
        for key in item.values():
            if key in entry and entry[key] is not None:
                return entry[key]
    return entry


@per_document
def answers_for(spec: Spec) -> Answers:
    """The document's :class:`Answers`, built once per :class:`Spec`."""
    return Answers(spec)
