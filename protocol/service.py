"""The seam between the shared pipeline and a server: how jobs are stored and images made.

In the spirit of httpx's ``BaseTransport``: the pipeline does everything the
contract says (routing, intake, keys, Prefer, validation, answers, errors) and
asks a :class:`Service` only what differs between servers. The mock's service
draws placeholder images and stores jobs in shared SQLite; the reference backend's
queues real generations. A :class:`Call` carries one API call through both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from t2i_contract.spec import FetchRequest, ModelReloadRequest
from t2i_contract.wire.answers import JobView
from t2i_contract.wire.prefer import NO_PREFERENCES, Preferences


__all__ = ["Call", "OperationNotImplemented", "Service"]


@dataclass
class Call:
    """One API call on its way through the pipeline.

    ``base_url`` is where the client reached the server (links are built on it);
    ``raw`` the body once read; ``inputs`` the request's input images (``init_image``,
    ``mask_image``, ``ip_adapter_image``), loaded and checked by the pipeline before
    ``submit``, and ``input_data`` their bytes as the client sent them (what a service
    stores with the job: a job never fetches at run time); ``answer`` the
    JSON body answered, once known (for :meth:`Service.finish`); ``state`` is
    the service's own per-call data (the mock keeps its journal entry there).
    """

    operation_id: str
    environ: dict[str, Any]
    base_url: str
    prefs: Preferences = NO_PREFERENCES
    raw: bytes = b""
    body: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    input_data: dict[str, bytes] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    spec: Any = None  # the contract the call was made under (a server may serve several)


class Service:
    """What a server supplies. Subclasses implement :meth:`submit` and :meth:`fetch`."""

    def begin(self, call: Call) -> None:
        """Called first for every API call (before Prefer, body and key are read)."""

    def finish(self, call: Call, status: int) -> None:
        """Called with the answer's status once the answer of an API call is known; must not raise."""

    def check(self, call: Call, request: Any) -> None:
        """Refuse a generation that cannot run (an unknown model, a field its model cannot use) before the
        pipeline fetches its input images: a request refused for its fields costs no fetch."""

    def submit(self, call: Call, request: Any) -> JobView:
        """Start a generation for a valid request; the view as the client should see it now."""
        raise NotImplementedError

    def fetch(self, call: Call, request: FetchRequest) -> JobView:
        """The generation ``request.request_id`` as ``request.key`` may see it, or :class:`~.errors.NotFound`."""
        raise NotImplementedError

    def reload_model(self, call: Call, request: ModelReloadRequest) -> dict[str, Any]:
        """Load ``request.model_id`` (again); a ``ModelReloadResponse`` body (status, message, eta?)."""
        raise OperationNotImplemented(call.operation_id)

    def operation(self, call: Call, values: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Any other operation of the spec, its body validated: (status, JSON body)."""
        raise OperationNotImplemented(call.operation_id)

    # -- what contract packs ask of a server (protocol.generic) --------------------------
    def default_model(self) -> str:
        """The model a generation gets when its contract, or its request, names none."""
        return "default"

    def settle(self, call: Call, view: JobView) -> JobView:
        """``view``'s job once finished: a synchronous contract answers with the result, never "processing"."""
        return view

    def models(self, call: Call) -> list[str]:
        """The ids of the models this server offers (a pack's ``models`` operation)."""
        raise OperationNotImplemented(call.operation_id)

    def progress(self, call: Call) -> tuple[float, float]:
        """(fraction done, seconds left) of the work in hand (a pack's ``progress`` operation)."""
        raise OperationNotImplemented(call.operation_id)


class OperationNotImplemented(Exception):
    """A service does not serve this operation: the pipeline answers the document's not-implemented signal."""

    def __init__(self, operation_id: str) -> None:
        super().__init__(operation_id)
        self.operation_id = operation_id
