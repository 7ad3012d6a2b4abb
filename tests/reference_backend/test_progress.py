"""``reference_backend/progress.py``: the step bar of ``t2i make-tiny-model`` is drawn on a terminal only."""
from __future__ import annotations

import io
import sys

import pytest

from t2i_contract.reference_backend.progress import step_bar


class Terminal(io.StringIO):
    """What the bar writes, as a terminal would receive it."""

    def isatty(self) -> bool:
        return True


def _steps(quiet: bool = False) -> None:
    with step_bar("t2i make-tiny-model", 2, quiet=quiet) as step:
        step("SD 1.5 model")
        step("SDXL model")


def test_on_a_terminal_the_bar_names_each_step_and_counts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    _steps()
    drawn = terminal.getvalue()
    assert "\rt2i make-tiny-model: SD 1.5 model (0/2 done" in drawn
    assert "\rt2i make-tiny-model: SDXL model (1/2 done" in drawn
    assert drawn.endswith("\r"), "the bar is cleared at the end: the command's own lines follow"


@pytest.mark.parametrize("quiet", [False, True], ids=["not-a-terminal", "quiet"])
def test_in_a_log_or_with_quiet_nothing_is_drawn(quiet: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    log = Terminal() if quiet else io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    _steps(quiet=quiet)
    assert log.getvalue() == ""
