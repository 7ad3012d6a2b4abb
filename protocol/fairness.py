"""Shares of a server's outbound work, so one client cannot take it all (issue 18, item 4).

A request thread that fetches an input image waits on the network for up to the URL
policy's deadline; a client whose image URLs trickle could hold every request thread
that way. :class:`Shares` counts the work in flight per share (a client, by a digest of
its key; an address, as the URL policy resolved it) and refuses one more over the limit
at once, with a 429 that says when to try again (:class:`FetchesBusy`), instead of
letting it wait in a thread. Webhooks have their own shares in ``webhooks.py``, where a
delivery over its share waits in a line without a thread.
"""
from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager
from typing import Iterator

from t2i_contract.spec import Problem

from .errors import ProtocolError

__all__ = ["DEFAULT_FETCHES_PER_ADDRESS", "DEFAULT_FETCHES_PER_CLIENT", "FetchesBusy", "Shares", "client_share"]

DEFAULT_FETCHES_PER_CLIENT = 4
"""Requests of one client that may be fetching input images at once."""
DEFAULT_FETCHES_PER_ADDRESS = 4
"""Input-image fetches to one address (as resolved) that may run at once, whoever asked."""
RETRY_AFTER = 1


class FetchesBusy(ProtocolError):
    """429: this client (or the address its image is on) already has its share of fetches in flight."""

    code = "fetches_busy"
    status = 429

    def __init__(self, field: str, what: str, limit: int) -> None:
        message = (f"Rate limit exceeded: {what} already has {limit} input-image fetches in flight; "
                   f"retry when they are done")
        super().__init__(message, (Problem(field, "fetches_in_flight", message, limit),),
                         headers={"Retry-After": str(RETRY_AFTER)}, retry_after=RETRY_AFTER)


def client_share(key: object) -> str:
    """The share of a client: a digest of its key, kept in memory only."""
    return "client:" + hashlib.sha256(str(key).encode("utf-8", "surrogatepass")).hexdigest()


class Shares:
    """Counts of work in flight per share; :meth:`hold` refuses one over ``limit`` at once."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a share's limit must be 1 or more, got {limit}")
        self.limit = limit
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def in_flight(self, share: str) -> int:
        with self._lock:
            return self._held.get(share, 0)

    @contextmanager
    def hold(self, share: str, *, field: str, what: str) -> Iterator[None]:
        """Hold one unit of ``share`` for the block, or raise :class:`FetchesBusy` naming ``field`` and ``what``."""
        with self._lock:
            if self._held.get(share, 0) >= self.limit:
                raise FetchesBusy(field, what, self.limit)
            self._held[share] = self._held.get(share, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._held[share] -= 1
                if not self._held[share]:
                    del self._held[share]
