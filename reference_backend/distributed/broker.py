"""The task queue under the distributed mode: Dramatiq on its Redis broker.

Why Dramatiq (the README's distributed section has the measurements): its Redis
broker moves a message to a per-worker "acks" set while a worker holds it, and any
other worker's fetch puts the messages of a worker whose heartbeat is older than
``heartbeat_timeout`` back in the queue. A worker killed with SIGKILL therefore loses
nothing, and the delay is ``heartbeat_timeout`` (configurable, 15 s by default), where
Celery's Redis transport waits for its visibility timeout (one hour by default) and a
plain ``BRPOP`` loses the task.

A message carries only the job id; the job itself is in the
:class:`~.store.RedisJobStore`. Dramatiq's default middleware is left out on
purpose: no retries (a failed generation is a failed job, answered to the client),
no time limit (a generation takes as long as it takes), no age limit (an accepted
job is never dropped).
"""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["ACTOR_NAME", "DEFAULT_HEARTBEAT_TIMEOUT", "OUTBOX_GRACE", "QUEUE_NAME", "declare_actor", "make_broker",
           "relay_unsent", "send"]

QUEUE_NAME = "t2i-generations"
ACTOR_NAME = "t2i_generate"
NAMESPACE = "t2i-dramatiq"
DEFAULT_HEARTBEAT_TIMEOUT = 15.0
OUTBOX_GRACE = 3.0
"""Seconds a stored job's message is left to the API process that stored it before any other process sends it."""
MAINTENANCE_ALWAYS = 1_000_000
"""Dramatiq's scale for ``maintenance_chance``: every fetch looks for dead workers, so the
requeue delay is bounded by ``heartbeat_timeout``, not left to a 1-in-1000 draw."""


def make_broker(url: str, heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT) -> Any:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=url, namespace=NAMESPACE, middleware=[], maintenance_chance=MAINTENANCE_ALWAYS,
                         heartbeat_timeout=int(heartbeat_timeout * 1000))
    broker.declare_queue(QUEUE_NAME)
    return broker


def send(broker: Any, job_id: int, delay: float | None = None) -> None:
    """Queue the generation of ``job_id`` (after ``delay`` seconds)."""
    from dramatiq import Message

    message = Message(queue_name=QUEUE_NAME, actor_name=ACTOR_NAME, args=(job_id,), kwargs={}, options={})
    broker.enqueue(message, delay=int(delay * 1000) if delay else None)


def relay_unsent(store: Any, broker: Any, grace: float = OUTBOX_GRACE) -> int:
    """Send the message of every job in ``store``'s outbox older than ``grace`` seconds (its API process died
    between storing and sending, or is stuck); how many were sent."""
    ids = store.unsent(grace)
    for job_id in ids:
        send(broker, job_id)
        store.sent(job_id)
    return len(ids)


def declare_actor(broker: Any, function: Callable[[int], None]) -> Any:
    import dramatiq

    return dramatiq.Actor(function, broker=broker, actor_name=ACTOR_NAME, queue_name=QUEUE_NAME, priority=0,
                          options={})
