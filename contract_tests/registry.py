"""The checks, registered once by id: what each promises, what it counts, and why it may have nothing to judge.

Every check of the suite (and of a user's plugin) is a :class:`CheckInfo` in :data:`REGISTRY`,
registered where it is defined with :func:`check` (a decorator) or :func:`define` (for a check
judged inside a scenario). The report takes from here the promise a check tests, the words
for what it counts ("9 images compared") and the reason it shows as SKIP when it judged
nothing; ``--checks``/``--skip`` take the ids.

A check has one of three kinds:

* ``answer``: ``fn(spec, exchange) -> problems`` judges every HTTP answer of the run;
* ``result``: ``fn(judged: Result) -> problems`` judges every success result, its images loaded
  (:class:`~contract_tests.engine.Result`);
* ``scenario``: ``fn(engine, recorder)`` sends its own requests (:class:`~contract_tests.engine.Engine`)
  and records what it judged (:class:`~contract_tests.recording.Recorder`), after the built-in scenarios;
* ``verdict``: a function (or nothing) the suite's own scenarios call where they apply.

``answer`` and ``result`` checks are run by the engine for every answer and result, so a user
adds one with the decorator (``@check("my_check", kind="result", ...)``) or through the
``t2i.checks`` entry-point group (the entry point names a module or object whose import
registers the check); :func:`load_plugins` imports those. A function returns a list of
problems (one judgement) or a :class:`Verdict` (its problems and how many things it judged).
"""
from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Mapping, Sequence

if TYPE_CHECKING:
    from t2i_contract.spec import GenerationRequest, Spec

    from .client import Exchange
    from .images import LoadedImage

__all__ = ["ENTRY_POINT_GROUP", "REGISTRY", "CheckInfo", "Result", "Verdict", "check", "define", "judged_count",
           "load_plugins", "problems_of", "unregister"]

ENTRY_POINT_GROUP = "t2i.checks"
Kind = Literal["answer", "result", "scenario", "verdict"]


@dataclass(frozen=True)
class Verdict:
    """A check's answer: the problems it found among ``judged`` things (0: it had nothing to judge)."""

    problems: list[str] = field(default_factory=list)
    judged: int = 1


@dataclass(frozen=True)
class Result:
    """What a ``result`` check judges: one success result of ``operation`` and what was sent for it.

    ``payload`` is the success answer (after fetch when the first answer was processing),
    ``images`` its outputs loaded, ``exchange`` the request that started it, and ``inputs``
    the input images sent, decoded (``{"init_image": ((w, h), rgba), "mask_image": ((w, h), gray)}``).
    """

    spec: Spec
    operation: str
    body: Mapping[str, Any]
    request: GenerationRequest
    payload: Mapping[str, Any]
    images: Sequence[LoadedImage]
    exchange: Exchange
    inputs: Mapping[str, tuple[tuple[int, int], bytes]] = field(default_factory=dict)


def problems_of(outcome: Verdict | Iterable[str]) -> list[str]:
    return list(outcome.problems) if isinstance(outcome, Verdict) else list(outcome)


def judged_count(outcome: Verdict | Iterable[str]) -> int:
    """How many things ``outcome`` judged: a Verdict says; a plain list of problems is one judgement."""
    return outcome.judged if isinstance(outcome, Verdict) else 1


@dataclass(frozen=True)
class CheckInfo:
    """One check: its id, the promise it tests, what it counts (plural words) and why it may judge nothing."""

    id: str
    promise: str
    unit: str = "answers judged"
    nothing: str = "nothing came to judge"
    kind: Kind = "verdict"
    fn: Callable[..., Any] | None = None
    operations: tuple[str, ...] = ()  # answer/result checks: the operations they apply to (empty: every one)
    pack: bool = False  # a contract pack's check (contract_tests/packs.py), reported only on packs

    def counted(self, number: int) -> str:
        """``9 images compared``: the count in the check's own words."""
        return f"{number} {self.unit}"


REGISTRY: dict[str, CheckInfo] = {}


def define(id: str, promise: str, *, unit: str = "answers judged", nothing: str = "nothing came to judge",
           kind: Kind = "verdict", fn: Callable[..., Any] | None = None,
           operations: Iterable[str] = (), pack: bool = False) -> CheckInfo:
    """Register a check; an id registered twice with another definition is an error (ids are stable names)."""
    if not id or not id.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"a check id is letters, digits, _ and -, got {id!r}")
    if kind != "verdict" and fn is None:
        raise ValueError(f"check {id}: an {kind} check needs a function to call")
    info = CheckInfo(id, promise, unit, nothing, kind, fn, tuple(operations), pack)
    known = REGISTRY.get(id)
    if known is not None and known != info:
        raise ValueError(f"check {id!r} is already registered ({known.promise!r})")
    REGISTRY[id] = info
    return info


def check(id: str, promise: str, *, unit: str = "answers judged", nothing: str = "nothing came to judge",
          kind: Kind = "verdict", operations: Iterable[str] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register the function as check ``id`` (see the module docstring); returns it unchanged."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        define(id, promise, unit=unit, nothing=nothing, kind=kind, fn=fn, operations=operations)
        return fn
    return register


def unregister(id: str) -> None:
    """Forget a check (a test's plugin, once the test is done)."""
    REGISTRY.pop(id, None)


def load_plugins() -> list[str]:
    """Import every ``t2i.checks`` entry point (their import registers their checks); the names loaded.

    An entry point names a module (``mine = my_checks``) or an object in one (``mine = my_checks:check``);
    loading it imports the module, whose decorators register its checks. Loading twice is harmless.
    """
    loaded = []
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        entry.load()
        loaded.append(entry.name)
    return loaded
