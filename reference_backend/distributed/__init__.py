"""The reference backend past one process and one machine (issue 13): Dramatiq on Redis.

``t2i serve --queue redis://...`` runs API processes (:mod:`.api`) that accept,
validate, store and enqueue jobs and answer fetches, loading no model;
``t2i worker --queue ... --models DIR`` runs generation workers (:mod:`.worker`).
Jobs live in Redis (:mod:`.store`), images in a folder every process shares
(``--data``), live workers in a TTL registry (:mod:`.registry`), and the messages
that carry job ids in Dramatiq's Redis broker (:mod:`.broker`). Importing this
package imports neither Redis nor Dramatiq nor torch (``pip install 't2i-contract[queue]'``).
"""
from __future__ import annotations

from .api import NoLiveWorker, QueueService, queue_service
from .config import WorkerSettings
from .registry import WorkerInfo, WorkerRegistry
from .store import RedisJobStore

__all__ = ["NoLiveWorker", "QueueService", "RedisJobStore", "WorkerInfo", "WorkerRegistry", "WorkerSettings",
           "queue_service"]
