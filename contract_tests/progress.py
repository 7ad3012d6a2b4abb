"""Progress on stderr while a run goes: a live line on a terminal, a line per step otherwise.

``t2i test`` and ``t2i drift`` show it unless ``--no-progress``. On a terminal one line is
rewritten in place (elapsed time, the step, requests sent, failures so far), at most ten
times a second; in a log (CI, a pipe) each step of the run gets its own line as it
starts, so a slow server (a GPU backend) shows what it is doing without flooding the log.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

__all__ = ["Progress"]

_REFRESH = 0.1


class Progress:
    """Told each step (:meth:`step`) and each recorded outcome (:meth:`tick`); :meth:`done` ends the live line."""

    def __init__(self, tool: str, stream: TextIO | None = None, live: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tool, self.stream, self.clock = tool, stream or sys.stderr, clock
        self.live = self.stream.isatty() if live is None else live
        self.started = clock()
        self.what = ""
        self.shown_at = -_REFRESH
        self.requests = self.failures = 0

    def _elapsed(self) -> str:
        return f"{self.clock() - self.started:5.1f}s"

    def step(self, what: str) -> None:
        self.what = what
        if self.live:
            self._draw(force=True)
        else:
            self.stream.write(f"{self.tool}: [{self._elapsed()}] {what}\n")
            self.stream.flush()

    def tick(self, requests: int, failures: int) -> None:
        self.requests, self.failures = requests, failures
        if self.live:
            self._draw()

    def _draw(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self.shown_at < _REFRESH:
            return
        self.shown_at = now
        line = f"{self.tool} [{self._elapsed()}] {self.what} - {self.requests} requests, {self.failures} failure(s)"
        self.stream.write("\r\x1b[K" + line[:200])
        self.stream.flush()

    def done(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
