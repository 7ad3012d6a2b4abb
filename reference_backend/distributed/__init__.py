"""Distributed mode of the reference backend: API processes and workers around a task queue (issue 13)."""
from __future__ import annotations
