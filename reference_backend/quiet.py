"""Third-party messages we cannot fix and know to be harmless, dropped where they are made, narrowly.

Each entry names the logger that says it and the start of what it says, and why it is harmless
here; anything else those loggers say still shows. :func:`quiet_known_noise` installs the filters
(once per process: ``t2i serve``'s serving process and its granian worker, ``t2i worker``,
``t2i make-tiny-model``).
"""
from __future__ import annotations

import logging
import re

__all__ = ["KNOWN_NOISE", "quiet_known_noise"]

KNOWN_NOISE: dict[str, re.Pattern[str]] = {
    # t2i serve runs 32 blocking threads on purpose: a sync text2img holds one for up to --sync-timeout seconds
    # while generation runs on --workers threads (serving.HTTP_THREADS); granian warns above 2 x cores + 1
    "_granian": re.compile(r"Configuration allows spawning up to \d+ Python threads"),
    # the backend extra leaves torchvision out on purpose (hundreds of MB); transformers then uses the PIL
    # image processors, which is what the safety checker and the IP-Adapters' encoders need
    "transformers.utils.import_utils": re.compile(r"`\w+` requires torchvision \(not installed\); falling back to"),
}


class _Drop(logging.Filter):
    def __init__(self, pattern: re.Pattern[str]) -> None:
        super().__init__()
        self.pattern = pattern

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


def quiet_known_noise() -> None:
    """Filter :data:`KNOWN_NOISE` on its loggers (again in the same process: no second filter)."""
    for name, pattern in KNOWN_NOISE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Drop) for f in logger.filters):
            logger.addFilter(_Drop(pattern))
