"""The protocol layer every server of the contract sits on.

It imports only ``spec/``, Flask/werkzeug and the standard library (and requests
to post webhooks). It owns what the contract says about HTTP, once:

- ``pipeline``: the route table derived from the spec's operations, and the one
  path every API call takes (:class:`Pipeline`, :func:`install`);
- ``intake``: Content-Type, per-operation body limits, the constant-time key check;
- ``prefer``: the ``Prefer`` header;
- ``errors``: the error tree and the one error handler (:func:`error_answer`);
- ``payloads``: success, processing, failure and webhook bodies over :class:`JobView`;
- ``webhooks``: delivery with retries and the one ``webhook_status`` vocabulary;
- ``service``: the seam a server implements (:class:`Service`), like httpx's
  ``BaseTransport``;
- ``clock``: injected time (:class:`ManualClock` for tests).
"""
from __future__ import annotations

from .clock import Clock, ManualClock, SystemClock
from .errors import (
    STATUS_MESSAGES,
    AuthError,
    ForcedError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    ProtocolError,
    QueueFull,
    RequestRejected,
    error_answer,
)
from .intake import DEFAULT_MAX_BODY, BodyLimits, KeyRing, is_json, read_body
from .payloads import JobView, answer, failed_body, processing_body, success_body, webhook_body
from .pipeline import Answer, Pipeline, Route, install, json_bytes
from .prefer import Preferences, parse_prefer
from .service import Call, Service
from .webhooks import WebhookSender, WebhookSource, initial_status, unsettled

__all__ = [
    "DEFAULT_MAX_BODY",
    "STATUS_MESSAGES",
    "Answer",
    "AuthError",
    "BodyLimits",
    "Call",
    "Clock",
    "ForcedError",
    "InternalError",
    "JobView",
    "KeyRing",
    "ManualClock",
    "MethodNotAllowed",
    "NotFound",
    "Pipeline",
    "Preferences",
    "ProtocolError",
    "QueueFull",
    "RequestRejected",
    "Route",
    "Service",
    "SystemClock",
    "WebhookSender",
    "WebhookSource",
    "answer",
    "error_answer",
    "failed_body",
    "initial_status",
    "install",
    "is_json",
    "json_bytes",
    "parse_prefer",
    "processing_body",
    "read_body",
    "success_body",
    "unsettled",
    "webhook_body",
]
