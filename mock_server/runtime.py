"""What one running mock holds: its config, the spec, the job store, images and webhooks.

``create_app`` builds one :class:`MockRuntime` per app and keeps it in
``app.extensions["t2i_mock"]``; routes close over it instead of looking it up per
request. :meth:`MockRuntime.close` stops the webhook thread and closes the store.
"""
from __future__ import annotations

import dataclasses
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Response

from t2i_contract.spec import Spec, Text2ImgRequest, load_spec

from .config import MockConfig
from .errors import QueueFull
from .images import ImageCache
from .payloads import Payloads
from .prefer import Preferences
from .store import Job, JobStore, temporary_folder
from .webhooks import WebhookSender

__all__ = ["CORS_HEADERS", "CORS_PREFLIGHT_HEADERS", "SEED_LIMIT", "MockRuntime", "json_response"]

# Every answer allows any origin; a preflight (OPTIONS) also says which methods and
# headers a browser may use. Content-Type and Content-Length are safelisted response
# headers, so nothing needs exposing.
CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
CORS_PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Prefer, Authorization, X-Requested-With",
    "Access-Control-Max-Age": "600",
}

SEED_LIMIT = 2**32 - 1


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

    owned_folder: Path | None = None

    @classmethod
    def build(cls, config: MockConfig) -> MockRuntime:
        folder = None
        if config.db_path is None:
            folder = temporary_folder()
            config = dataclasses.replace(config, db_path=folder / "mock.sqlite3")
        assert config.db_path is not None
        store = JobStore(config.db_path, ttl=config.ttl, journal_limit=config.journal_limit,
                         max_jobs=config.max_jobs)
        images = ImageCache()
        payloads = Payloads(images)
        webhooks = WebhookSender(store, payloads.webhook, attempts=config.webhook_attempts,
                                 backoff=config.webhook_backoff, timeout=config.webhook_timeout)
        return cls(config=config, spec=load_spec(), store=store, images=images, payloads=payloads,
                   webhooks=webhooks, owned_folder=folder)

    def plan_delay(self, prefs: Preferences) -> float:
        """Seconds until a new job is ready: 0 for an immediate success."""
        config = self.config
        if prefs.status == "processing":
            return config.eta if prefs.eta is None else prefs.eta
        if prefs.status is None and config.processing_ratio and random.random() < config.processing_ratio:
            return config.eta
        return 0.0

    def start_generation(self, req: Text2ImgRequest, prefs: Preferences, base_url: str,
                         entry: dict[str, Any]) -> Job:
        """Store a job for a valid request (its journal ``entry`` with it) and schedule its webhook.

        Raises :class:`~mock_server.errors.QueueFull` past ``--max-queued``. Both the Flask
        route and the fast path (``fastpath.py``) start generations through here.
        """
        config = self.config
        delay = self.plan_delay(prefs)
        meta = req.to_meta()
        if meta["seed"] is None:
            meta["seed"] = random.randint(0, SEED_LIMIT)
        entry["normalised"] = {"key": req.key, **meta, "extra": dict(req.extra)}
        entry["status"] = 200
        job = self.store.add_job(meta=meta, base_url=base_url, delay=delay, webhook=req.webhook,
                                 track_id=req.track_id, journal=entry, max_pending=config.max_queued)
        if job is None:
            assert config.max_queued is not None
            raise QueueFull(config.max_queued, config.retry_after)
        if job.webhook:
            self.webhooks.schedule(job)
        return job

    def close(self) -> None:
        """Stop the webhook thread, close the store, and remove its folder if this runtime made it."""
        self.webhooks.close()
        self.store.close()
        if self.owned_folder is not None:
            shutil.rmtree(self.owned_folder, ignore_errors=True)
