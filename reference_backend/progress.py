"""Progress of the backend's long steps on stderr, with tqdm (which diffusers and transformers use too).

A bar that names the step running and counts the steps done, drawn only on a terminal and not with
``--no-progress``: in a log or a pipe nothing is drawn, and the command's own lines say what was done.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["step_bar"]


@contextmanager
def step_bar(title: str, total: int, *, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A ``step(what)`` to call as each of ``total`` steps starts; the bar ends complete when the block does."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=title, unit="step", file=sys.stderr, leave=False,
               disable=quiet or not sys.stderr.isatty(), bar_format="{desc} ({n_fmt}/{total_fmt} done, {elapsed})")
    started = False

    def step(what: str) -> None:
        nonlocal started
        if started:
            bar.update()
        started = True
        bar.set_description_str(f"{title}: {what}")

    try:
        yield step
        if started:
            bar.update()
    finally:
        bar.close()
