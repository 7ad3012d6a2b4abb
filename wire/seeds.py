"""The seeds a contract allows, read from its document: what a server picks and what a client may send.

``seed: null`` (or no seed) asks the server to pick one, which comes back in
``meta.seed``. The range a server picks from is exactly the range the request
schema allows (``minimum`` to ``maximum`` of the operation's ``seed`` field), so a
seed a server picked can always be sent back to reproduce the images. Clients
that choose seeds (the contract suite's determinism probes) draw from the same
range and step within it with :meth:`SeedRange.next`.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Callable

from t2i_contract.spec import Spec, SpecError

__all__ = ["SeedRange", "seed_range"]


@dataclass(frozen=True)
class SeedRange:
    """The seeds an operation accepts: ``low`` to ``high``, both included."""

    low: int
    high: int

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    def __contains__(self, seed: object) -> bool:
        return isinstance(seed, int) and not isinstance(seed, bool) and self.low <= seed <= self.high

    def pick(self, randbelow: Callable[[int], int] = secrets.randbelow) -> int:
        """A seed for a request that left the choice to the server."""
        return self.low + randbelow(self.size)

    def next(self, seed: int) -> int:
        """Another seed of the range (the one after ``seed``, wrapping at the top)."""
        return self.low + (seed - self.low + 1) % self.size


def seed_range(spec: Spec, operation_id: str = "text2img") -> SeedRange:
    """The ``seed`` field's range in ``operation_id``'s request body."""
    for field in spec.request_fields(operation_id):
        if field.name == "seed":
            low, high = field.schema.get("minimum"), field.schema.get("maximum")
            if isinstance(low, int) and isinstance(high, int) and low <= high:
                return SeedRange(low, high)
            raise SpecError(f"{operation_id}'s seed needs an integer minimum and maximum, got {low!r} and {high!r}")
    raise SpecError(f"{operation_id} has no seed field")
