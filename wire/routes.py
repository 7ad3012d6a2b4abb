"""The route table of a contract, read once from its document, for servers and clients alike.

Every operation of the document is a :class:`Route`: its method, its path as the
document writes it (``/api/v6/images/fetch/{id}``), the names of its path
parameters, and the three ways the toolkit needs that path:

- a server routes it (:attr:`Route.rule`, werkzeug's ``<id>`` form, which Flask takes);
- a proxy or a journal recognises a request path (:meth:`RouteTable.match`);
- a client builds the URL to call on a server given its base URL
  (:meth:`RouteTable.url`), where the base may already end with part of the
  route (``https://host/api`` and ``/api/v6/...``).

Before this module the same table was derived three times (the protocol
pipeline, the validating proxy and the contract suite's client).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import quote, urlsplit

from t2i_contract.spec import Spec

from .cache import per_document

__all__ = ["Route", "RouteMatch", "RouteTable", "route_table"]

_PARAM = re.compile(r"\{([^{}/]+)\}")


@dataclass(frozen=True)
class Route:
    """One operation of the document, as HTTP sees it."""

    operation_id: str
    method: str                 # upper case: POST
    path: str                   # as the document writes it: /api/v6/images/fetch/{id}
    params: tuple[str, ...]     # path parameters in order: ("id",)
    pattern: re.Pattern[str] = field(repr=False, compare=False)

    @property
    def rule(self) -> str:
        """The path as werkzeug (and so Flask) writes a rule: ``/api/v6/images/fetch/<id>``."""
        return _PARAM.sub(lambda m: f"<{m.group(1)}>", self.path)

    def format(self, **params: Any) -> str:
        """The path with its parameters filled in (each quoted as one path segment)."""
        missing = [name for name in self.params if name not in params]
        if missing:
            raise KeyError(f"{self.operation_id} needs path parameter(s) {', '.join(missing)}")
        return _PARAM.sub(lambda m: quote(str(params[m.group(1)]), safe=""), self.path)


@dataclass(frozen=True)
class RouteMatch:
    """A request path recognised as an operation, with its path parameters."""

    route: Route
    params: dict[str, str]

    @property
    def operation_id(self) -> str:
        return self.route.operation_id


class RouteTable:
    """Every route of one document, in document order."""

    def __init__(self, routes: tuple[Route, ...]) -> None:
        self.routes = routes
        self._by_id = {route.operation_id: route for route in routes}

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)

    def __contains__(self, operation_id: object) -> bool:
        return operation_id in self._by_id

    def __getitem__(self, operation_id: str) -> Route:
        try:
            return self._by_id[operation_id]
        except KeyError:
            raise KeyError(f"the contract has no operation {operation_id!r}") from None

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The operation ``method path`` calls, or None (a path of another method is not a match)."""
        method = method.upper()
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return RouteMatch(route, found.groupdict())
        return None

    def methods_at(self, path: str) -> tuple[str, ...]:
        """Every method the document routes at ``path`` (what a 405's ``Allow`` lists)."""
        return tuple(sorted({r.method for r in self.routes if r.pattern.match(path)}))

    def url(self, base_url: str, operation_id: str, **params: Any) -> str:
        """The URL of an operation on a server whose root is ``base_url``.

        ``base_url`` may end with the first segments of the route: with
        ``https://host/api``, text2img (``/api/v6/images/text2img``) is
        ``https://host/api/v6/images/text2img``, not ``.../api/api/v6/...``.
        """
        base = base_url.rstrip("/")
        route = self[operation_id].format(**params)
        base_path = urlsplit(base).path.rstrip("/")
        segments = route.split("/")
        for count in range(len(segments) - 1, 1, -1):
            shared = "/".join(segments[:count])
            if base_path.endswith(shared):
                return base + route[len(shared):]
        return base + route


def _route(operation_id: str, path: str, method: str) -> Route:
    params = tuple(_PARAM.findall(path))
    pieces, last = [], 0
    for found in _PARAM.finditer(path):
        pieces.append(re.escape(path[last:found.start()]))
        pieces.append(f"(?P<{found.group(1)}>[^/]+)")
        last = found.end()
    pieces.append(re.escape(path[last:]))
    return Route(operation_id, method.upper(), path, params, re.compile("^" + "".join(pieces) + "$"))


@per_document
def route_table(spec: Spec) -> RouteTable:
    """The document's route table, built once per :class:`Spec`."""
    return RouteTable(tuple(_route(op_id, path, method) for op_id, path, method, _ in spec.operations()))
