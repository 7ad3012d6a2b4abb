"""The protocol layer every server of the contract sits on.

It imports only ``spec/``, Flask/werkzeug and the standard library (and requests
to post webhooks). It owns what the contract says about HTTP, once:

- ``pipeline``: the route table derived from the spec's operations, and the one
  path every API call takes (:class:`Pipeline`, :func:`install`);
- ``intake``: Content-Type, per-operation body limits, the constant-time key check;
- ``errors``: the error tree and the one error handler (:func:`error_answer`);
- ``webhooks``: delivery with retries and the one ``webhook_status`` vocabulary;
- ``service``: the seam a server implements (:class:`Service`), like httpx's
  ``BaseTransport``;
- ``clock``: injected time (:class:`ManualClock` for tests);
- ``urls``, ``outbound``, ``outbound_errors``, ``inputs``: the URL policy every
  outbound request goes through, the one client that honours it (webhooks, input
  images), and input images by URL or base64; their errors are 400s naming the field;
- ``health``: ``GET /healthz`` and ``GET /readyz`` on every server process, each server
  naming its readiness probes (:func:`install_health`).
"""
from __future__ import annotations

from t2i_contract.wire.answers import JobView

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
from .health import install_health
from .inputs import check_mask_size, load_input_image, load_input_images
from .intake import DEFAULT_MAX_BODY, BodyLimits, KeyRing, is_json, read_body
from .outbound import json_poster, post_json
from .outbound_errors import InputImageError, InvalidUrl, OutboundError, UrlRefused
from .pipeline import Answer, Pipeline, Route, install, json_bytes
from .service import Call, Service
from .urls import ALLOW_LIST_FLAG, PRIVATE_URLS_FLAG, UrlPolicy
from .webhooks import WebhookSender, WebhookSource, initial_status, unsettled

__all__ = [
    "ALLOW_LIST_FLAG",
    "DEFAULT_MAX_BODY",
    "STATUS_MESSAGES",
    "Answer",
    "AuthError",
    "BodyLimits",
    "Call",
    "Clock",
    "ForcedError",
    "InputImageError",
    "InternalError",
    "InvalidUrl",
    "JobView",
    "KeyRing",
    "ManualClock",
    "MethodNotAllowed",
    "NotFound",
    "OutboundError",
    "PRIVATE_URLS_FLAG",
    "Pipeline",
    "ProtocolError",
    "QueueFull",
    "RequestRejected",
    "Route",
    "Service",
    "SystemClock",
    "UrlPolicy",
    "UrlRefused",
    "WebhookSender",
    "WebhookSource",
    "check_mask_size",
    "error_answer",
    "initial_status",
    "install",
    "install_health",
    "is_json",
    "json_bytes",
    "json_poster",
    "load_input_image",
    "load_input_images",
    "post_json",
    "read_body",
    "unsettled",
]
