"""The protocol layer every server of the contract sits on (being built: issue 9)."""
from __future__ import annotations

__all__: list[str] = []
