"""Image links through ``t2i proxy``: rewrite them in answers, then check what they serve.

An answer's image URLs and its fetch link point at the upstream: which fields
hold them is the contract's (``x-t2i-wire``: the output field, its mirrors, the
future links and the fetch result; an image may be an object, OpenAI's
``{"url": ...}``). :class:`Relinker` rewrites every such URL
under the upstream's base to the same path under the proxy, so a client's image
downloads and fetches go through the proxy too, and remembers for each rewritten
image path the size the answer's ``meta`` promises (``width`` x ``height``, times
the spec's upscale factor with ``upscale``). When that path is downloaded,
:meth:`Relinker.image_problems` says what is wrong with it: not a 200, not a
decodable image, or another size. A URL on any other host is left as it is: the
proxy forwards only to its upstream, never to a host an answer names.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from t2i_contract.contract_tests.images import decode_image
from t2i_contract.spec import Spec
from t2i_contract.wire.contract import wire_of

__all__ = ["Relinker"]

_REMEMBERED = 2048


class Relinker:
    """Rewrites upstream links to the proxy and checks the images served at them."""

    def __init__(self, spec: Spec, upstream: str) -> None:
        self.spec = spec
        self.upstream = upstream.rstrip("/")
        wire = wire_of(spec)
        self.image_fields = tuple(f for f in (wire.output.field, *wire.output.mirrors, wire.lifecycle.future_field) if f)
        self.link_fields = self.image_fields + ((wire.lifecycle.result_field,) if wire.lifecycle.result_field else ())
        self.item_key = (wire.output.item or {}).get("url")
        self._expected: OrderedDict[str, tuple[int, int] | None] = OrderedDict()
        self._lock = threading.Lock()

    def _local(self, url: str) -> str | None:
        """The part of ``url`` after the upstream's base, or None when it is not under it."""
        if not url.startswith(self.upstream):
            return None
        rest = url[len(self.upstream):]
        return rest if rest == "" or rest.startswith(("/", "?")) else None

    def _size(self, answer: dict[str, Any]) -> tuple[int, int] | None:
        meta = answer.get("meta")
        if not isinstance(meta, dict):
            return None
        width, height = meta.get("width"), meta.get("height")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (width, height)):
            return None
        return self.spec.output_size(width, height, meta.get("upscale") is True)

    def rewrite(self, answer: Any, proxy_base: str) -> bool:
        """Point ``answer``'s upstream links at ``proxy_base`` in place; True when something changed."""
        if not isinstance(answer, dict):
            return False
        changed, size = False, self._size(answer)
        for name in self.link_fields:
            value = answer.get(name)
            items = value if isinstance(value, list) else [value]
            rewritten = []
            for item in items:
                holder = item if isinstance(item, dict) and self.item_key else None
                link = holder.get(self.item_key) if holder is not None else item  # type: ignore[arg-type]
                rest = self._local(link) if isinstance(link, str) else None
                if rest is None:
                    rewritten.append(item)
                    continue
                changed = True
                moved = proxy_base.rstrip("/") + rest
                rewritten.append(holder | {self.item_key: moved} if holder is not None else moved)  # type: ignore[dict-item]
                if name in self.image_fields:
                    self._remember(urlsplit(rest).path, size)
            if name in answer:
                answer[name] = rewritten if isinstance(value, list) else rewritten[0]
        return changed

    def _remember(self, path: str, size: tuple[int, int] | None) -> None:
        with self._lock:
            self._expected[path] = size
            self._expected.move_to_end(path)
            while len(self._expected) > _REMEMBERED:
                self._expected.popitem(last=False)

    def knows(self, route: str) -> bool:
        """Whether ``route`` (a path the proxy received) is an image link it rewrote."""
        with self._lock:
            return route in self._expected

    def image_problems(self, route: str, status: int, content: bytes) -> list[str]:
        """What is wrong with an image download of a rewritten link (empty when it is fine)."""
        with self._lock:
            expected = self._expected.get(route)
        if status != 200:
            return [f"image: GET {route} answered HTTP {status}"]
        try:
            size = decode_image(content)[0]
        except ValueError as exc:
            return [f"image: GET {route} is {exc}"]
        if expected is not None and size != expected:
            return [f"image: GET {route} is {size[0]}x{size[1]}, meta promises {expected[0]}x{expected[1]}"]
        return []
