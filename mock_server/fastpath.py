"""A fast path for the calls a load test hammers: POSTs to the spec's fixed API paths.

Flask's request context, URL map and ``after_request`` machinery cost about as
much as the rest of the request put together (validation, SQLite, JSON), so the
app's ``wsgi_app`` is wrapped in :class:`FastPath`. It answers a POST to a path
without parameters (text2img, img2img, inpaint, fetch, model_reload) by calling the very same
:meth:`~t2i_contract.protocol.Pipeline.handle` as the Flask route, errors
included, and writes the :class:`~t2i_contract.protocol.Answer` with the same
headers the app's ``after_request`` adds. Everything else goes to Flask.
``MockConfig(fast_path=False)`` turns it off; ``tests/mock_server/test_fastpath.py``
proves both paths answer alike.

The wrapper sits inside the Flask app, so WSGI middleware wrapping the app (as
the contract tests' deliberately broken servers do) still sees every request.

The calls a load test sends take turns (issue 22). With granian's 8 request threads
all busy, each gave up the GIL to the others at every SQLite statement, and those
hand-offs cost a third of a worker's throughput against one thread. A call that can
wait on nothing but the CPU and SQLite (:meth:`FastPath.quick_ok`: a text2img, fetch
or reload whose body sets none of the fields that make a call wait on the network,
its input images and ``webhook`` (``Pipeline.waits_on``), with no simulated latency
set) is answered in turn: one thread per worker at a time leads and answers every
call queued meanwhile, their writes in one SQLite transaction (one COMMIT for all, none
answered before it), while the threads of the other calls sleep on a lock of their
own, not on the GIL, until their reply is made; so the busier the mock, the less each
call costs. The body is read before the turn,
so a client that trickles it in holds only its own thread; every other call runs
beside the turns on its own thread as before, so a slow input-image URL still holds
one thread, never the mock (issue 18, item 8; ``tests/mock_server/test_quick_path.py``).
"""
from __future__ import annotations

import io
import logging
import re
import threading
from typing import Any, Callable, Iterable

from werkzeug.http import HTTP_STATUS_CODES

from t2i_contract.protocol import Pipeline, is_json, json_bytes
from t2i_contract.spec import RequestError, parse_json_body

__all__ = ["QUICK_BODY_BYTES", "FastPath"]

QUICK_BODY_BYTES = 16 * 1024
"""The largest body that takes turns (:meth:`FastPath.quick_ok`); a larger one runs on its own thread."""

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Reply = tuple[int, list[tuple[str, str]], bytes]
log = logging.getLogger(__name__)


def _set(body: bytes, name: bytes, null: re.Pattern[bytes]) -> bool:
    """Whether ``body`` may set the field ``name`` (quoted): it names it, and not each time as ``"name": null``.

    Without escapes in the body (the caller sees to that), an object key is spelt as
    its bytes, so when every ``"name"`` in it is followed by ``: null``, the top-level
    one is too, and the field is not set; anything else is left to the parser.
    """
    count = body.count(name)
    return count > 0 and len(null.findall(body)) != count


class _Waiting:
    """A quick call waiting for its turn, and its reply once some thread has made it."""

    __slots__ = ("environ", "operation_id", "reply", "wake")

    def __init__(self, operation_id: str, environ: dict[str, Any]) -> None:
        self.operation_id = operation_id
        self.environ = environ
        self.reply: Reply | BaseException | None = None
        self.wake = threading.Lock()  # held until the call is answered or its thread is to lead
        self.wake.acquire()


class _Failed:
    """A request body whose reading failed: the pipeline's read fails the same way."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, *args: Any) -> bytes:
        raise self.error


class FastPath:
    def __init__(self, app: WSGIApp, pipeline: Pipeline, headers: dict[str, str], enabled: bool = True) -> None:
        self.app = app
        self.pipeline = pipeline
        self.enabled = enabled
        self.headers = [("Content-Type", "application/json"), *headers.items()]
        self._queue_lock = threading.Lock()  # guards the two below
        self._waiting: list[_Waiting] = []  # quick calls not yet answered, oldest first
        self._leading = False  # whether a thread is answering quick calls (see _in_turn)
        # path -> (operation, the fields that make it wait on the network, as JSON keys) of the calls that
        # may take turns
        self.quick_paths: dict[str, tuple[str, tuple[str, ...], tuple[tuple[bytes, re.Pattern[bytes]], ...]]] = {}
        for path, operation_id in pipeline.static_posts.items():
            fields = pipeline.waits_on(operation_id)
            if fields is not None:
                self.quick_paths[path] = (operation_id, fields, tuple(
                    (f'"{f}"'.encode(), re.compile(rb'"%s"\s*:\s*null' % f.encode())) for f in fields))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        operation_id = self.pipeline.static_posts.get(environ.get("PATH_INFO", "")) if self.enabled else None
        if operation_id is None or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        length = environ.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) <= QUICK_BODY_BYTES and is_json(environ.get("CONTENT_TYPE")):
            try:
                body = environ["wsgi.input"].read(int(length))  # before the turn: a slow client holds only its thread
            except Exception as exc:  # the client went away: the pipeline answers it as it always has
                environ["wsgi.input"], body = _Failed(exc), None
            else:
                environ["wsgi.input"] = io.BytesIO(body)  # the pipeline reads it again from here
            if body is not None and self.quick_ok(environ, body):
                status, headers, payload = self._in_turn(operation_id, environ)
            else:
                status, headers, payload = self.reply(operation_id, environ)
        else:  # no length, a large body or not JSON: the pipeline reads (or refuses) it as ever
            status, headers, payload = self.reply(operation_id, environ)
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}", headers)
        return [payload]

    def _in_turn(self, operation_id: str, environ: dict[str, Any]) -> Reply:
        """Answer a quick call in turn: one thread at a time leads, answering every call queued, in one group.

        A call that comes while no thread leads makes its own thread the leader; one
        that comes while another leads queues and its thread sleeps. The leader answers
        every call queued (its own among them) together, their writes in one SQLite
        transaction (``MockRuntime.group``: one COMMIT for all), none answered before it
        is committed; then it wakes their threads, which only return their replies, and
        hands the lead to the thread of the oldest call queued meanwhile, if any.
        """
        waiting = _Waiting(operation_id, environ)
        with self._queue_lock:
            self._waiting.append(waiting)
            leads, self._leading = not self._leading, True
        if not leads:
            waiting.wake.acquire()  # woken with its reply, or with the lead
        if waiting.reply is None:
            self._lead()
        if isinstance(waiting.reply, BaseException):
            raise waiting.reply
        assert waiting.reply is not None
        return waiting.reply

    def _lead(self) -> None:
        """Answer every call queued in one group, wake their threads, and pass the lead on (or give it up)."""
        with self._queue_lock:
            calls, self._waiting = self._waiting, []
        try:
            self._answer_together(calls)
        finally:
            for call in calls:
                if call.reply is None:  # the leader itself was stopped (KeyboardInterrupt, SystemExit)
                    call.reply = RuntimeError("the thread answering this call stopped before answering it")
                call.wake.release()
            with self._queue_lock:
                if self._waiting:  # its thread leads next: it wakes with no reply
                    self._waiting[0].wake.release()
                else:
                    self._leading = False

    def _answer_together(self, calls: list[_Waiting]) -> None:
        group = getattr(self.pipeline.service, "group", None)
        if group is not None and len(calls) > 1:
            sent = [dict(call.environ) for call in calls]  # as they came: a call may mark its environ
            try:
                with group():
                    for call in calls:
                        call.reply = self.reply(call.operation_id, call.environ)
                return
            except Exception:  # the transaction failed (nothing of it is stored): each call again, on its own
                log.exception("a group of calls could not be stored together; answering each on its own")
                for call, environ in zip(calls, sent):
                    environ["wsgi.input"].seek(0)
                    call.environ = environ
            except BaseException:  # stopped (KeyboardInterrupt, SystemExit): nothing of the group is stored
                for call in calls:
                    call.reply = None
                raise
        for call in calls:
            try:
                call.reply = self.reply(call.operation_id, call.environ)
            except Exception as exc:  # raised in its own thread, as it would have been without turns
                call.reply = exc

    def reply(self, operation_id: str, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """The pipeline's answer to one call: status, headers (the app's own added), body."""
        answer = self.pipeline.handle(operation_id, environ)
        payload = json_bytes(answer.body)
        return answer.status, [*self.headers, *answer.headers.items(), ("Content-Length", str(len(payload)))], payload

    def quick_ok(self, environ: dict[str, Any], body: bytes) -> bool:
        """Whether this call (a POST to one of the paths, ``body`` its whole body) may take turns.

        Only when it can wait on nothing but the CPU and SQLite: its operation's waits are
        known, no simulated latency is set, and its body sets none of the fields that make
        it wait. A body that names such a field other than as ``"field": null`` (or escapes
        a character, which could spell one) is parsed as the pipeline parses it; one that
        does not parse is refused at once, which waits on nothing.
        """
        if len(body) > QUICK_BODY_BYTES:
            return False
        found = self.quick_paths.get(environ["PATH_INFO"])
        if found is None or self._may_sleep():
            return False
        operation_id, fields, spelt = found
        if b"\\" in body or any(_set(body, name, null) for name, null in spelt):
            try:
                sent = parse_json_body(body)
            except RequestError:
                sent = {}
            if any(sent.get(name) is not None for name in fields):
                return False
        return True

    def _may_sleep(self) -> bool:
        """Whether a simulated latency is set (``--latency``, or the behaviour's while it is active)."""
        service = self.pipeline.service
        config, behaviour = getattr(service, "config", None), getattr(service, "behaviour", None)
        if config is None or behaviour is None:  # not the mock's runtime: it may do anything
            return True
        low, high = behaviour.current().latency or config.latency  # as MockRuntime.begin reads it
        return high > 0
