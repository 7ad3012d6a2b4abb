"""One run of the contract suite: the scenarios, in order, on one engine, recorded into one report.

:func:`run_suite` builds an :class:`~contract_tests.engine.Engine` (the client, the
answer and result checks) and a :class:`~contract_tests.recording.Recorder` (outcomes
into the :class:`Report`), then runs the text2img scenarios of
:mod:`contract_tests.scenarios`, the img2img, inpaint and model_reload scenarios of
:mod:`contract_tests.operations` (an operation the server answers with a 404 naming it
fails ``implemented`` and is not tested further; ``--skip implemented`` tests only what
the server has) and every ``scenario`` check a plugin registered.

Generated bodies go ``--workers`` at a time; their outcomes are recorded in order, so
the report reads the same. Each check keeps the time measured on its behalf (the
exchanges it judged, the waits for fetch and webhook), which JUnit reports.
``conformance`` and ``no_server_error`` judge every answer.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Callable

from t2i_contract.spec import Spec, load_spec
from t2i_contract.spec.packs import load_contract

from .client import wait_until_answering
from .engine import Engine
from .errors import ServerUnreachable
from .models import choose_model
from .operations import run_image_operations
from .packs import is_pack, run_pack_suite
from .progress import Progress
from .recording import Recorder, Stopped
from .registry import REGISTRY
from .report import Report
from .scenarios import SCENARIOS, Scenario, anything_accepted
from .settings import Settings

__all__ = ["run_suite"]


def _scenarios() -> list[Scenario]:
    """The built-in scenarios, the image operations, then each plugin's ``scenario`` check."""
    steps = list(SCENARIOS)
    steps.append(Scenario("", "img2img, inpaint and model_reload, with input images the suite serves",
                          run_image_operations, operation=""))
    steps += [Scenario(info.id, f"{info.id} (a plugin's scenario)", info.fn)  # type: ignore[arg-type]
              for info in REGISTRY.values() if info.kind == "scenario"]
    steps.append(Scenario("", "", anything_accepted, operation="", feeds=frozenset({"valid_accepted"})))
    return steps


def _wanted(step: Scenario, engine: Engine) -> bool:
    """Does the run need ``step``: its check chosen (or, for a step feeding many, one of them), its operation tested?"""
    if step.operation and not engine.tests(step.operation):
        return False
    if step.check:
        return engine.runs(step.check)
    return not step.feeds or engine.feeds(step.feeds)


def run_suite(settings: Settings, spec: Spec | None = None,
              progress: Progress | Callable[[str], None] | None = None) -> Report:
    """Run every check against ``settings.base_url`` and return the report.

    ``progress`` is told, in words, what the run is doing (a :class:`Progress` also hears of each outcome).
    A scenario whose checks are all left out (``--skip``, ``--checks``) or whose operation is not tested
    (``--operation``) is not run at all; ``--max-failures`` stops the run where it is.
    """
    if spec is None:
        spec = load_contract(settings.contract) if settings.contract else load_spec(settings.spec_path)
    seed = settings.seed if settings.seed is not None else random.randrange(2**31)
    report = Report(settings.base_url, profile=settings.profile, seed=seed, max_examples=settings.max_examples,
                    packs=is_pack(spec))
    say = progress.step if isinstance(progress, Progress) else progress
    if is_pack(spec):  # a contract pack: its checks, through the wire layer (contract_tests/packs.py)
        model = choose_model(spec, settings.base_url, given=settings.model_id, headers=dict(settings.headers),
                             timeout=settings.timeout)
        report.model = model.describe()
        return run_pack_suite(spec, settings.base_url, key=settings.key, timeout=settings.timeout,
                              headers=dict(settings.headers), seed=seed, report=report, progress=say,
                              model_id=model.model_id)
    if settings.wait:
        error = wait_until_answering(settings.base_url, settings.wait, headers=dict(settings.headers))
        if error is not None:
            raise ServerUnreachable(settings.base_url, f"{error} (waited {settings.wait:g}s, --wait)")
    # one model for the whole run, chosen up front from the server's list (contract_tests/models.py)
    model = choose_model(spec, settings.base_url, given=settings.model_id, headers=dict(settings.headers),
                         timeout=settings.timeout)
    report.model = model.describe()
    if say is not None:
        say(f"model: {report.model}")
    engine = Engine(dataclasses.replace(settings, model_id=model.model_id), spec, seed)
    tick = (lambda rec: progress.tick(engine.client.sent, rec.failures)) if isinstance(progress, Progress) else None
    recorder = Recorder(engine, report, on_record=tick)
    try:
        for step in _scenarios():
            if not _wanted(step, engine):
                continue
            if say is not None and step.what:
                say(f"{step.check or 'sending'}: {step.what}")
            step.run(engine, recorder)
    except Stopped:
        report.notes.append(f"stopped after {recorder.failures} failure(s) (--max-failures "
                            f"{settings.max_failures}): later requests were not sent")
    finally:
        engine.close()
        if isinstance(progress, Progress):
            progress.done()
    for check in report.results:
        if not settings.runs(check):
            report.results[check].failures.clear()
            report.results[check].exercised = 0
            report.skip(check, settings.left_out(check))
    tally = engine.tally
    if tally.unfollowed:
        report.notes.append(f"{tally.unfollowed} processing answer(s) not followed: a generation had already run "
                            "past its eta and margin (see lifecycle)")
    if tally.refused_for_model:
        report.notes.append(f"valid bodies refused for model {engine.model_id} with a 400 naming the value, as the "
                            f"spec allows (x-t2i-model-dependent): {', '.join(sorted(tally.refused_for_model))}")
    if engine.operations is not None:
        report.notes.append("operations tested (--operation): " + ", ".join(sorted(engine.operations)))
    if settings.record is not None:
        report.notes.append(f"{len(engine.archive.entries) if engine.archive else 0} exchanges recorded in "
                            f"{settings.record} (HAR)")
    report.notes.append(f"{engine.client.sent} requests sent")
    return report.finish()
