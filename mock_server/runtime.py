"""What one running mock holds: its config, the spec, the job store, images and webhooks.

``create_app`` builds one :class:`MockRuntime` per app and keeps it in
``app.extensions["t2i_mock"]``; routes close over it instead of looking it up per
request. :meth:`MockRuntime.close` stops the webhook thread and closes the store.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Response

from spec import Spec, load_spec

from .config import MockConfig
from .images import ImageCache
from .payloads import Payloads
from .store import JobStore
from .webhooks import WebhookSender

__all__ = ["MockRuntime", "json_response"]


def json_response(body: Any, status: int = 200) -> Response:
    """A compact JSON answer; faster than ``jsonify``, which pretty-prints in debug and sorts keys."""
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")


@dataclass
class MockRuntime:
    config: MockConfig
    spec: Spec
    store: JobStore
    images: ImageCache
    payloads: Payloads
    webhooks: WebhookSender

    @classmethod
    def build(cls, config: MockConfig) -> MockRuntime:
        config = config.with_db()
        assert config.db_path is not None
        store = JobStore(config.db_path, ttl=config.ttl, journal_limit=config.journal_limit)
        images = ImageCache()
        payloads = Payloads(images)
        webhooks = WebhookSender(store, payloads.webhook, attempts=config.webhook_attempts,
                                 backoff=config.webhook_backoff, timeout=config.webhook_timeout)
        return cls(config=config, spec=load_spec(), store=store, images=images, payloads=payloads,
                   webhooks=webhooks)

    def close(self) -> None:
        self.webhooks.close()
        self.store.close()
