"""Every process a test session starts is gone at its end (issue 18, item 3), and a leak names its test.

The session (each xdist worker's, on its own) puts a mark of its own in its environment
(``T2I_TEST_SESSION=<uuid>``); everything it starts inherits it, subprocesses of subprocesses
too (servers, their workers, redis-server, moto_server, chromedriver and Chromium's zygotes,
``make run``). After each test, :meth:`Watch.note` records the marked processes it has not seen
before, with their command line and the test that was running; at the session's end
:meth:`Watch.left` gives a stopping process a generous polled deadline, and whatever is still
there is described as "pid N (cmdline) first seen during test X", then killed.

Linux only (it reads ``/proc``); elsewhere the watch is inert.
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LEAVING_DEADLINE", "SESSION_MARK", "Watch"]

SESSION_MARK = "T2I_TEST_SESSION"
LEAVING_DEADLINE = float(os.environ.get("T2I_LEAVING_DEADLINE", 30.0))
"""Seconds a stopping process may take to be gone before the session calls it left behind."""
PROC = Path("/proc")


@dataclass(frozen=True)
class Sighting:
    pid: int
    cmdline: str
    test: str
    parent: int = 0

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.cmdline}, child of pid {self.parent}) first seen during test {self.test}"


def _start_time(pid: str) -> str | None:
    """The process's start time in clock ticks (with the pid, a name no later process reuses); None for a zombie
    or a process gone."""
    try:
        fields = (PROC / pid / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _parent(pid: int) -> int:
    try:
        return int((PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    return text if len(text) <= 300 else text[:297] + "..."


class Watch:
    """The marked processes of one session: ``note`` after each test, ``left`` at the end."""

    def __init__(self) -> None:
        self.enabled = (PROC / "self" / "environ").exists()
        self.mark = uuid.uuid4().hex
        self._needle = f"{SESSION_MARK}={self.mark}".encode()
        self.seen: dict[tuple[str, str], Sighting] = {}

    def start(self) -> None:
        if self.enabled:
            os.environ[SESSION_MARK] = self.mark

    def stop(self) -> None:
        if os.environ.get(SESSION_MARK) == self.mark:
            del os.environ[SESSION_MARK]

    def _living(self) -> list[tuple[str, str]]:
        """(pid, start time) of every living process but this one that carries the mark. Each process is read
        afresh: one caught between fork and exec still has its parent's environment."""
        own = str(os.getpid())
        found = []
        for entry in os.listdir(PROC):
            if not entry.isdigit() or entry == own:
                continue
            try:
                marked = self._needle in (PROC / entry / "environ").read_bytes().split(b"\0")
            except OSError:  # gone, or not ours to read
                continue
            start = _start_time(entry) if marked else None
            if start is not None:
                found.append((entry, start))
        return found

    def note(self, test: str) -> None:
        """Record each marked process not seen before as first seen during ``test``."""
        if not self.enabled:
            return
        for key in self._living():
            if key not in self.seen:
                self.seen[key] = Sighting(int(key[0]), _cmdline(int(key[0])), test)

    def left(self, last_test: str, deadline: float = LEAVING_DEADLINE) -> list[Sighting]:
        """The marked processes still living after ``deadline`` seconds (polled), each described, then killed."""
        if not self.enabled:
            return []
        self.note(last_test)
        until = time.monotonic() + deadline
        living = self._living()
        while living and time.monotonic() < until:
            time.sleep(0.2)
            living = self._living()
        self.note(last_test)
        # described as they are now (a process first seen between fork and exec had its parent's command line)
        left = [Sighting(int(pid), _cmdline(int(pid)), self.seen[pid, start].test if (pid, start) in self.seen
                         else last_test, _parent(int(pid))) for pid, start in living]
        for sighting in left:
            try:
                os.kill(sighting.pid, signal.SIGKILL)
            except OSError:
                pass
        return left
