"""Follow a ``processing`` answer through the fetch operations until it succeeds, fails or times out.

Both the contract suite (its ``lifecycle`` check) and ``t2i drift`` poll with
:func:`follow`: it alternates the two fetch forms (``fetch/{id}`` and ``fetch``
with ``request_id``), waits a fifth of the announced ``eta`` between polls
(0.2-2 s), and gives up ``margin`` seconds after the ``eta``. Every answer is
handed to ``on_answer`` (the caller's checks or observer) as it comes. A caller
following several generations passes one ``stalled`` event: the first generation
to run past its eta and margin sets it, and every other follow stops at its next
processing answer (``abandoned``), so a server whose jobs never finish costs one
wait, not one per request.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .client import Client, Exchange

__all__ = ["MAX_ETA", "Polled", "announced_eta", "follow"]

# A silly eta must not hang the run.
MAX_ETA = 600.0


@dataclass
class Polled:
    """How following one generation ended.

    ``result`` is the success answer, or None; ``problems`` pairs each lifecycle
    problem with the answer that shows it; ``timed_out`` says the generation was
    still processing at the deadline; ``abandoned`` that another one was, so this
    one was not waited for.
    """

    last: Exchange | None = None
    result: Exchange | None = None
    problems: list[tuple[str, Exchange]] = field(default_factory=list)
    timed_out: bool = False
    abandoned: bool = False


def announced_eta(answer: Any) -> float:
    """The ``eta`` of a processing answer in seconds, within 0 and :data:`MAX_ETA`."""
    eta = answer.get("eta") if isinstance(answer, dict) else None
    eta = float(eta) if isinstance(eta, (int, float)) and not isinstance(eta, bool) else 0.0
    return min(max(eta, 0.0), MAX_ETA)


def _ok(exchange: Exchange, branch: str) -> bool:
    return exchange.branch == branch and 200 <= exchange.status < 300


def follow(client: Client, started: Exchange, *, margin: float,
           on_answer: Callable[[Exchange], None] = lambda exchange: None,
           clock: Callable[[], float] = time.monotonic, pause: Callable[[float], None] = time.sleep,
           stalled: threading.Event | None = None) -> Polled:
    """Poll the generation that ``started`` (a processing answer) announced, until it is done."""
    generation_id = started.json.get("id")
    eta = announced_eta(started.json)
    deadline = clock() + eta + margin
    forms = itertools.cycle([client.fetch_by_id, client.fetch])
    polled = Polled()
    while True:
        poll = next(forms)(generation_id)
        polled.last = poll
        on_answer(poll)
        if _ok(poll, "success"):
            polled.result = poll
            return polled
        if not _ok(poll, "processing"):
            polled.problems.append((f"polling generation {generation_id} got HTTP {poll.status} "
                                    f"with status {poll.word!r} instead of processing or success", poll))
            return polled
        if poll.json.get("id") != generation_id:
            polled.problems.append((f"fetch of {generation_id} answered id {poll.json.get('id')!r}", poll))
        if stalled is not None and stalled.is_set():
            polled.abandoned = True
            return polled
        if clock() > deadline:
            polled.problems.append((f"generation {generation_id} still processing after eta {eta:g}s "
                                    f"+ {margin:g}s margin", poll))
            polled.timed_out = True
            if stalled is not None:
                stalled.set()
            return polled
        pause(min(max(eta / 5, 0.2), 2.0))
