"""Deliver the generation-finished webhook, with retries.

The payload follows the spec's ``WebhookPayload``: ``{status: "success", id,
output, generationTime, track_id, meta}`` or ``{status: "failed", id, message,
track_id}``. A delivery counts when the receiver answers 2xx; otherwise (an error
status, a refused connection, a timeout) it is retried up to ``retries`` more
times, waiting ``backoff``, then twice that, and so on. The outcome is written to
the job's ``webhook_status``. Deliveries run on their own small thread pool so a
slow receiver never holds up a generation worker. :meth:`WebhookSender.close`
abandons deliveries still waiting to retry; their jobs keep ``webhook_status``
"pending", and the next start sends them again.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

__all__ = ["WebhookSender"]

log = logging.getLogger(__name__)
USER_AGENT = "t2i-contract-reference-backend"


class WebhookSender:
    def __init__(self, *, retries: int, backoff: float, timeout: float, threads: int = 4) -> None:
        self.retries = max(0, retries)
        self.backoff = backoff
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="t2i-webhook")
        self._closed = threading.Event()

    def send(self, url: str, payload: dict[str, Any], on_done: Callable[[str], None]) -> None:
        """Queue one delivery; ``on_done`` gets the final webhook status text."""
        self._pool.submit(self._deliver, url, payload, on_done)

    def _deliver(self, url: str, payload: dict[str, Any], on_done: Callable[[str], None]) -> None:
        import requests

        attempts = self.retries + 1
        reason = ""
        for attempt in range(1, attempts + 1):
            try:
                response = requests.post(url, json=payload, timeout=self.timeout,
                                         headers={"User-Agent": USER_AGENT})
                if 200 <= response.status_code < 300:
                    on_done(f"delivered (HTTP {response.status_code}, attempt {attempt} of {attempts})")
                    return
                reason = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                reason = type(exc).__name__
            log.info("webhook for generation %s: attempt %d failed: %s", payload.get("id"), attempt, reason)
            if attempt < attempts and self._closed.wait(self.backoff * 2 ** (attempt - 1)):
                return  # closing: the job stays "pending" and is sent again after the next start
        on_done(f"failed after {attempts} attempts (last: {reason})")

    def close(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
