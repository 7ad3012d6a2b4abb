"""Time, injected: the one clock retries, TTLs and ETAs read, and tests advance.

:class:`SystemClock` is wall time. :class:`ManualClock` stands still until a test
calls :meth:`ManualClock.advance`, which wakes every thread waiting on it, so a
test of a retry schedule or an expiry never sleeps and never depends on how fast
the machine is. Waiting goes through :meth:`Clock.wait` with a
``threading.Condition`` the caller holds, so a manual clock can wake the waiter.
"""
from __future__ import annotations

import threading
import time
import weakref

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock:
    """Seconds since the epoch, and a wait that this clock can cut short."""

    def now(self) -> float:
        raise NotImplementedError

    def wait(self, condition: threading.Condition, until: float | None) -> None:
        """Wait on ``condition`` (held by the caller) until notified or this clock reaches ``until``."""
        raise NotImplementedError


class SystemClock(Clock):
    def now(self) -> float:
        return time.time()

    def wait(self, condition: threading.Condition, until: float | None) -> None:
        condition.wait(None if until is None else max(0.0, until - time.time()))


class ManualClock(Clock):
    """A clock that moves only when told to; ``advance`` wakes every waiter."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._waiters: weakref.WeakSet[threading.Condition] = weakref.WeakSet()

    def now(self) -> float:
        with self._lock:
            return self._now

    def wait(self, condition: threading.Condition, until: float | None) -> None:
        with self._lock:
            self._waiters.add(condition)
            if until is not None and self._now >= until:
                return
        condition.wait()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            waiters = list(self._waiters)
        for condition in waiters:
            with condition:
                condition.notify_all()
