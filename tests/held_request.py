"""A request thread held on purpose: an img2img whose init image trickles in from a URL that never finishes.

Used to prove that something else (``/readyz``, ``/healthz``) still answers while a server's request
thread is busy: the order of events is the proof, no wall-clock bound.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

import requests

from tests.support import wait_for

__all__ = ["while_an_input_trickles"]

T = TypeVar("T")
TIMEOUT = 120.0  # a guard against a hung server, never a claim about speed


def while_an_input_trickles(url: str, trickle: Any, probe: Callable[[], T], model_id: str = "m",
                            path: str = "/api/v6/images/img2img") -> tuple[T, bool, requests.Response]:
    """(what ``probe`` returned while the img2img was in flight, whether it still was, the img2img's answer).

    ``trickle`` is ``tests.hardening.conftest.Trickle``: the image server is stopped before this returns.
    """
    outcome: dict[str, requests.Response] = {}

    def img2img() -> None:
        body = {"key": "k", "model_id": model_id, "prompt": "p", "init_image": trickle.url}
        outcome["answer"] = requests.post(url + path, json=body, timeout=TIMEOUT)

    caller = threading.Thread(target=img2img, daemon=True)
    caller.start()
    try:
        wait_for(lambda: trickle.connections >= 1, timeout=TIMEOUT, interval=0.02)  # the fetch is in flight
        seen = probe()
        in_flight = caller.is_alive()
    finally:
        trickle.stop.set()  # the image server hangs up: the img2img ends
        caller.join(TIMEOUT)
    return seen, in_flight, outcome["answer"]
