"""One reading of a document per :class:`~t2i_contract.spec.Spec`: the wire's readers are cached on it.

The route table, the ``x-t2i-wire`` facts and the answer builders are derived from
a document once and shared by every server and client in the process; a document
that is no longer used takes its derived objects with it (a weak cache).
"""
from __future__ import annotations

import functools
import weakref
from typing import Callable, TypeVar

from t2i_contract.spec import Spec

__all__ = ["per_document"]

T = TypeVar("T")


def per_document(read: Callable[[Spec], T]) -> Callable[[Spec], T]:
    """Decorate a reader of a document so it runs once per :class:`Spec`."""
    cache: weakref.WeakKeyDictionary[Spec, T] = weakref.WeakKeyDictionary()

    @functools.wraps(read)
    def cached(spec: Spec) -> T:
        try:
            return cache[spec]
        except KeyError:
            value = cache[spec] = read(spec)
            return value
    return cached
