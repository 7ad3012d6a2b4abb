"""``protocol/quiet.py``: a known harmless message is dropped on its logger, anything else it says still shows."""
from __future__ import annotations

import logging
import re

import pytest

from t2i_contract.protocol.quiet import quiet


def test_granians_thread_warning_is_dropped_and_its_other_warnings_kept(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("_granian")
    quiet()
    quiet()  # a second call adds no second filter
    assert sum(type(f).__name__ == "_Drop" for f in logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger="_granian"):
        logger.warning("Configuration allows spawning up to 32 Python threads, which seems quite high")
        logger.warning("Configuration allows spawning up to many processes")
    assert [r.getMessage() for r in caplog.records] == ["Configuration allows spawning up to many processes"]


def test_only_the_named_logger_is_filtered(caplog: pytest.LogCaptureFixture) -> None:
    quiet({"t2i.test.noisy": re.compile(r"harmless")})
    with caplog.at_level(logging.WARNING):
        logging.getLogger("t2i.test.noisy").warning("harmless: known")
        logging.getLogger("t2i.test.other").warning("harmless: but from elsewhere")
    assert [r.name for r in caplog.records] == ["t2i.test.other"]
