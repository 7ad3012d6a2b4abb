"""``t2i drift --contract PACK``: how a live server of a contract pack drifts from the pack's document.

The pack checks of the contract suite (``contract_tests/packs.py``) send each
operation's requests, built from the pack's meanings; every answer they get is
observed here as ``t2i drift`` observes v6's: undocumented statuses and fields,
documented fields and enum values never seen, type mismatches. Whether the images
are right is ``t2i test --contract``'s question, not drift's.
"""
from __future__ import annotations

from t2i_contract.contract_tests import NO_JSON, Exchange
from t2i_contract.contract_tests.packs import run_pack_suite
from t2i_contract.contract_tests.report import Report
from t2i_contract.spec import Spec

from .errors import unreachable
from .findings import Finding
from .observe import Observer
from .settings import DriftSettings

__all__ = ["run_pack_drift"]


def run_pack_drift(settings: DriftSettings, spec: Spec) -> list[Finding]:
    """Run the pack's requests against ``settings.base_url`` and return the observer's findings."""
    observer = Observer(spec)
    reached: list[bool] = []

    def see(exchange: Exchange) -> None:
        pointer = spec.responses.operation_pointer(exchange.operation or "")
        label = f"{exchange.method} {spec.operation(exchange.operation or '')[0]}"
        if not exchange.answered:
            if not reached:
                raise unreachable(settings.base_url, exchange.error)
            observer.problem("request-failed", pointer, f"{label}: no answer ({exchange.error})")
            return
        reached.append(True)
        if exchange.json is NO_JSON:
            observer.problem("request-failed", pointer, f"{label} answered HTTP {exchange.status} with a body that "
                                                        f"is not JSON: {exchange.text[:80]!r}")
            return
        observer.record(pointer, exchange.status, exchange.json, label)

    report = Report(settings.base_url, profile=settings.profile, seed=settings.seed, max_examples=settings.samples,
                    packs=True)
    run_pack_suite(spec, settings.base_url, key=settings.key or None, timeout=settings.timeout, headers={},
                   seed=settings.seed, report=report, model_id=settings.model_id, on_exchange=see)
    return observer.findings()
