"""Third-party messages we cannot fix and know to be harmless, dropped where they are made, narrowly.

Each entry names the logger that says it and the start of what it says, with why it is harmless
here; anything else those loggers say still shows. A server command calls :func:`quiet` with the
noise it knows (:data:`SERVING_NOISE` for every server on granian; the backend adds its own in
``reference_backend/quiet.py``) before it starts serving, and its workers do again.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping

__all__ = ["SERVING_NOISE", "quiet"]

SERVING_NOISE: dict[str, re.Pattern[str]] = {
    # granian warns when its blocking threads exceed 2 x cores + 1; our servers choose their count on purpose
    # (t2i serve: a sync text2img holds a thread for up to --sync-timeout seconds; the mock: --latency sleeps)
    "_granian": re.compile(r"Configuration allows spawning up to \d+ Python threads"),
}


class _Drop(logging.Filter):
    def __init__(self, pattern: re.Pattern[str]) -> None:
        super().__init__()
        self.pattern = pattern

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


def quiet(noise: Mapping[str, re.Pattern[str]] = SERVING_NOISE) -> None:
    """Drop each message of ``noise`` on its logger (once: calling again adds no second filter)."""
    for name, pattern in noise.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Drop) and f.pattern is pattern for f in logger.filters):
            logger.addFilter(_Drop(pattern))
