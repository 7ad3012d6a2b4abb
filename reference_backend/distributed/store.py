"""The distributed job store: the embedded store's jobs, in Redis, shared by every API and worker process.

:class:`RedisJobStore` answers the same questions as the SQLite
:class:`~reference_backend.jobs.JobStore` (``add``, ``get``, ``succeed``, ``fail``,
``work_until``, ...), so :class:`~reference_backend.service.JobService` runs on
either. A job is one hash ``<ns>:job:<id>`` with the SQLite row's columns (lists
and dicts as JSON). Beside it, a few indexes keep every question one round trip:

- ``<ns>:unfinished``: a sorted set of queued and running job ids (score = id), and
  ``<ns>:cost``: their costs, so ``work_until`` (the ETA) sums the queue in Lua;
- ``<ns>:waiting:<key hash>``: the unfinished jobs of one key, for ``--max-queued``:
  the count and the insert are one Lua script, so the limit holds across every API
  process (Redis runs a script atomically);
- ``<ns>:outbox``: jobs stored whose queue message is not known to be sent. ``add``
  writes the job and its outbox entry in one script; the API process removes the
  entry once the message is sent, and any live process (API or worker) sends the
  message of an entry older than a few seconds (:meth:`RedisJobStore.unsent`), so an
  API process killed between storing and sending loses nothing;
- ``<ns>:running``: started_at per running job; ``<ns>:pace``: the last 20 seconds
  per unit of cost; ``<ns>:expiring``: temp jobs by expiry time, and
  ``<ns>:expiring_images``: their image names, kept apart from the job so the images
  are deleted even after the job's record has gone.

Records expire with their images: a finished job keeps no input images (only a run
needs them), and a temp job's record expires ``RECORD_LINGER`` seconds after its
images do (until then fetch says they expired; after it, that the id is unknown).

``claim`` is a compare-and-set in Lua: a worker takes a job that is queued, or one
left running by a worker that is no longer alive (the caller says which), and no
two workers can both win.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from t2i_contract.protocol import Clock, SystemClock
from t2i_contract.protocol.ownership import KeyHasher, new_secret
from t2i_contract.protocol.webhooks import NONE, unsettled

from ..jobs import FAILED, QUEUED, SUCCESS, Job, JobStore, job_cost, request_to_json

__all__ = ["DEFAULT_NAMESPACE", "RedisJobStore"]

DEFAULT_NAMESPACE = "t2i"
PACE_SAMPLES = 20
PERSIST_RETRY = 0.5
RECORD_LINGER = 3600.0
"""Seconds a temp job's record outlives its images, so fetch can say they expired."""
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 30.0
"""Seconds before a Redis that stopped answering counts as away (an answer of 503, not a hung request)."""
_T = TypeVar("_T")

_ADD = """
local ns, key_hash, limit = KEYS[1], ARGV[1], tonumber(ARGV[2])
local waiting = ns .. ':waiting:' .. key_hash
if limit > 0 and redis.call('scard', waiting) >= limit then return 0 end
local id = redis.call('incr', ns .. ':next_id')
redis.call('hset', ns .. ':job:' .. id, 'id', id, 'state', ARGV[3], 'key_hash', key_hash, 'request', ARGV[4],
           'seed', ARGV[5], 'cost', ARGV[6], 'created_at', ARGV[7], 'base_url', ARGV[8], 'webhook_status', ARGV[9])
redis.call('sadd', waiting, id)
redis.call('zadd', ns .. ':unfinished', id, id)
redis.call('hset', ns .. ':cost', id, ARGV[6])
local now = redis.call('time')
redis.call('zadd', ns .. ':outbox', tonumber(now[1]) + tonumber(now[2]) / 1000000, id)
return id
"""

_CLAIM = """
local ns, id, worker, now, dead = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local job = ns .. ':job:' .. id
local state = redis.call('hget', job, 'state')
local owner = redis.call('hget', job, 'worker')
if state == 'queued' or (state == 'running' and (owner == dead or owner == worker)) then
  redis.call('hset', job, 'state', 'running', 'worker', worker, 'started_at', now)
  redis.call('zadd', ns .. ':running', now, id)
  return 1
end
return 0
"""

_FINISH = """
local ns, id, owner = KEYS[1], ARGV[1], ARGV[2]
local job = ns .. ':job:' .. id
local state = redis.call('hget', job, 'state')
if state == false or state == 'success' or state == 'failed' then return 0 end
if owner ~= '' and redis.call('hget', job, 'worker') ~= owner then return 0 end
for i = 3, #ARGV, 2 do redis.call('hset', job, ARGV[i], ARGV[i + 1]) end
redis.call('zrem', ns .. ':outbox', id)
redis.call('srem', ns .. ':waiting:' .. redis.call('hget', job, 'key_hash'), id)
redis.call('zrem', ns .. ':unfinished', id)
redis.call('hdel', ns .. ':cost', id)
redis.call('zrem', ns .. ':running', id)
return 1
"""

_RELEASE = """
local ns, id, worker = KEYS[1], ARGV[1], ARGV[2]
local job = ns .. ':job:' .. id
if redis.call('hget', job, 'state') ~= 'running' or redis.call('hget', job, 'worker') ~= worker then return 0 end
redis.call('hset', job, 'state', 'queued', 'worker', '', 'started_at', '')
redis.call('zrem', ns .. ':running', id)
return 1
"""

_UNSENT = """
local ns, grace = KEYS[1], tonumber(ARGV[1])
local t = redis.call('time')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ids = redis.call('zrangebyscore', ns .. ':outbox', '-inf', now - grace, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do redis.call('zadd', ns .. ':outbox', now, id) end
return ids
"""

_CLEAR_IMAGES = """
local ns, id, linger = KEYS[1], ARGV[1], tonumber(ARGV[2])
local job = ns .. ':job:' .. id
if redis.call('exists', job) == 1 then
  redis.call('hset', job, 'images', '[]')
  local ttl = redis.call('pttl', job)
  if ttl < 0 or ttl > linger then redis.call('pexpire', job, linger) end
end
redis.call('zrem', ns .. ':expiring', id)
redis.call('hdel', ns .. ':expiring_images', id)
return 1
"""

_WORK_UNTIL = """
local ns, id = KEYS[1], ARGV[1]
local ids = redis.call('zrangebyscore', ns .. ':unfinished', '-inf', id)
local total = 0
for _, each in ipairs(ids) do total = total + tonumber(redis.call('hget', ns .. ':cost', each) or '0') end
return tostring(total)
"""

@dataclass(frozen=True)
class ExpiredImages:
    """What the sweep needs of an expired temp job: its id and its image names."""

    id: int
    images: list[str]


_NULLABLE = ("started_at", "finished_at", "generation_time", "error", "error_status", "expires_at")


def _float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


class RedisJobStore:
    """Jobs in Redis. Safe to share between threads and processes (redis-py pools its connections)."""

    def __init__(self, client: Any, clock: Clock | None = None, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.client = client
        self.clock = clock or SystemClock()
        self.ns = namespace
        self._add = client.register_script(_ADD)
        self._claim = client.register_script(_CLAIM)
        self._finish = client.register_script(_FINISH)
        self._work_until = client.register_script(_WORK_UNTIL)
        self._release = client.register_script(_RELEASE)
        self._unsent = client.register_script(_UNSENT)
        self._clear_images = client.register_script(_CLEAR_IMAGES)
        self.worker = ""
        """Set by a worker: then only a job this worker holds can be finished through this store."""
        self.persist_for = 0.0
        """Set by a worker: results and webhook statuses are written again for that many seconds while Redis
        is away (restarting), so a finished generation is recorded rather than run again."""
        self._owners: KeyHasher | None = None

    def key_digest(self, key: str) -> str:
        """What the store keeps of ``key``: its HMAC under a secret made once per namespace (``<ns>:secret``)."""
        if self._owners is None:
            self.client.set(f"{self.ns}:secret", new_secret(), nx=True)
            self._owners = KeyHasher(self.client.get(f"{self.ns}:secret"))
        return self._owners.digest(key)

    @classmethod
    def from_url(cls, url: str, clock: Clock | None = None) -> RedisJobStore:
        import redis

        return cls(redis.Redis.from_url(url, decode_responses=True, health_check_interval=10,
                                        socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=COMMAND_TIMEOUT), clock)

    def close(self) -> None:
        self.client.close()

    def _key(self, job_id: int) -> str:
        return f"{self.ns}:job:{job_id}"

    @staticmethod
    def _decode(row: dict[str, str]) -> Job:
        """The hash as the SQLite store's typed row, decoded by that store: one decoder for both."""
        typed: dict[str, Any] = {name: row.get(name) or None for name in _NULLABLE}
        typed |= {"id": int(row["id"]), "state": row["state"], "key_hash": row["key_hash"], "request": row["request"],
                  "seed": int(row["seed"]), "cost": float(row["cost"]), "created_at": float(row["created_at"]),
                  "images": row.get("images") or "[]", "nsfw": row.get("nsfw") or "[]", "info": row.get("info") or "{}",
                  "webhook_status": row.get("webhook_status") or NONE, "base_url": row.get("base_url", "")}
        for name in ("started_at", "finished_at", "generation_time", "expires_at"):
            typed[name] = _float(typed[name])
        typed["error_status"] = int(typed["error_status"]) if typed["error_status"] else None
        return JobStore._decode(typed)  # type: ignore[arg-type]

    # -- life cycle -----------------------------------------------------------------
    def add(self, request: Any, key: str, seed: int, base_url: str, webhook_status: str = NONE,
            max_waiting: int = 0, inputs: Any = None) -> int | None:
        """Store a queued job; its id, or None when ``key`` already has ``max_waiting`` unfinished jobs."""
        stored = request_to_json(request) if inputs is None else request_to_json(request, inputs)
        job_id = int(self._add(keys=[self.ns], args=[
            self.key_digest(key), max_waiting, QUEUED, stored, seed, job_cost(request), self.clock.now(),
            base_url, webhook_status]))
        return job_id or None

    def claim(self, job_id: int, worker: str, dead_owner: str = "") -> bool:
        """Mark ``job_id`` running on ``worker`` if it is queued (or was running on ``dead_owner``)."""
        return bool(self._claim(keys=[self.ns], args=[job_id, worker, self.clock.now(), dead_owner or "\0"]))

    def release(self, job_id: int, worker: str) -> bool:
        """Put ``job_id`` back to queued if ``worker`` holds it (a worker stopping mid-job hands it back)."""
        return bool(self._release(keys=[self.ns], args=[job_id, worker]))

    # -- the outbox: jobs stored whose queue message may not have been sent ------------------
    def unsent(self, grace: float, limit: int = 100) -> list[int]:
        """Jobs stored at least ``grace`` seconds ago (Redis's clock) whose message nobody has confirmed sent.

        Each returned id is leased for another ``grace`` seconds, so two processes draining at once rarely
        send it twice (and a duplicate message is harmless: claiming is a compare-and-set)."""
        return [int(i) for i in self._unsent(keys=[self.ns], args=[grace, limit])]

    def sent(self, job_id: int) -> None:
        """The queue holds ``job_id``'s message: out of the outbox."""
        self.client.zrem(f"{self.ns}:outbox", str(job_id))

    def owner(self, job_id: int) -> str:
        """The worker that runs (or ran) the job; empty before one took it."""
        return self.client.hget(self._key(job_id), "worker") or ""

    def _finish_job(self, job_id: int, values: dict[str, Any]) -> bool:
        stored = self.client.hget(self._key(job_id), "request")
        if stored:  # a finished job keeps no input images: only a run needs them
            request = json.loads(stored)
            if request.get("inputs"):
                values = {**values, "request": json.dumps({**request, "inputs": {}})}
        args: list[Any] = [job_id, self.worker]
        for name, value in values.items():
            args += [name, "" if value is None else value]
        return bool(self._finish(keys=[self.ns], args=args))

    def _persist(self, write: Callable[[], _T]) -> _T:
        import redis

        deadline = time.monotonic() + self.persist_for
        while True:
            try:
                return write()
            except (redis.ConnectionError, redis.TimeoutError):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(PERSIST_RETRY)

    def succeed(self, job_id: int, images: list[str], nsfw: list[bool], info: dict[str, Any],
                generation_time: float, expires_at: float | None, image_bytes: int = 0) -> None:
        """As the SQLite store's; ``image_bytes`` is not counted here (records expire instead, see evict)."""
        self._persist(lambda: self._succeed(job_id, images, nsfw, info, generation_time, expires_at))

    def _succeed(self, job_id: int, images: list[str], nsfw: list[bool], info: dict[str, Any],
                 generation_time: float, expires_at: float | None) -> None:
        if self._finish_job(job_id, {"state": SUCCESS, "finished_at": self.clock.now(), "images": json.dumps(images),
                                     "nsfw": json.dumps(nsfw), "info": json.dumps(info),
                                     "generation_time": generation_time, "expires_at": expires_at}):
            cost = float(self.client.hget(self._key(job_id), "cost") or 0)
            pipe = self.client.pipeline()
            if cost > 0:
                pipe.lpush(f"{self.ns}:pace", generation_time / cost).ltrim(f"{self.ns}:pace", 0, PACE_SAMPLES - 1)
            if expires_at is not None:
                pipe.zadd(f"{self.ns}:expiring", {str(job_id): expires_at})
                pipe.hset(f"{self.ns}:expiring_images", str(job_id), json.dumps(images))
                lifetime = expires_at - self.clock.now() + RECORD_LINGER
                pipe.pexpire(self._key(job_id), max(1, int(lifetime * 1000)))
            pipe.execute()

    def fail(self, job_id: int, message: str, status: int, body: dict[str, Any] | None = None) -> None:
        values = {"state": FAILED, "finished_at": self.clock.now(), "error": message, "error_status": status,
                  "info": json.dumps(body or {})}
        self._persist(lambda: self._finish_job(job_id, values))

    def set_webhook_status(self, job_id: int, status: str) -> None:
        self._persist(lambda: self.client.hset(self._key(job_id), "webhook_status", status))

    def recover(self) -> int:
        """Nothing to do: the queue redelivers the messages of a dead worker (see the broker module)."""
        return 0

    # -- queries ----------------------------------------------------------------------
    def get(self, job_id: int) -> Job | None:
        row = self.client.hgetall(self._key(job_id))
        return self._decode(row) if row else None

    def waiting(self, key: str | None = None) -> int:
        if key is None:
            return int(self.client.zcard(f"{self.ns}:unfinished"))
        return int(self.client.scard(f"{self.ns}:waiting:{self.key_digest(key)}"))

    def queued(self, limit: int) -> list[Job]:
        """Up to ``limit`` of the oldest unfinished jobs that are still queued (for a worker gathering a batch)."""
        ids = self.client.zrange(f"{self.ns}:unfinished", 0, limit - 1)
        pipe = self.client.pipeline()
        for job_id in ids:
            pipe.hgetall(self._key(int(job_id)))
        rows = pipe.execute() if ids else []
        return [self._decode(row) for row in rows if row and row.get("state") == QUEUED]

    def work_until(self, job_id: int) -> float:
        return float(self._work_until(keys=[self.ns], args=[job_id]))

    def claimed_elapsed(self, now: float) -> float:
        return sum(now - started for _, started in self.client.zrange(f"{self.ns}:running", 0, -1, withscores=True))

    def seconds_per_cost(self, last: int = PACE_SAMPLES) -> float | None:
        samples = [float(v) for v in self.client.lrange(f"{self.ns}:pace", 0, last - 1)]
        return sum(samples) / len(samples) if samples else None

    def undelivered_webhooks(self) -> list[Job]:
        """Finished jobs whose webhook is unsettled. Their queue messages are still unacknowledged (a worker
        acknowledges only once the webhook settled), so the queue, not a restart, resumes them."""
        return []

    def unsettled_webhook(self, job_id: int) -> bool:
        job = self.get(job_id)
        return job is not None and job.finished and unsettled(job.webhook_status)

    def expired(self, now: float) -> list[ExpiredImages]:
        """Temp jobs whose images are due for deletion (whether or not their record is still there)."""
        ids = self.client.zrangebyscore(f"{self.ns}:expiring", "-inf", now)
        if not ids:
            return []
        names = self.client.hmget(f"{self.ns}:expiring_images", ids)
        return [ExpiredImages(int(i), json.loads(n or "[]")) for i, n in zip(ids, names)]

    def evict(self, max_bytes: int) -> list[str]:
        """Nothing: the SQLite store's byte bound (``--max-store-bytes``) is not kept in Redis; records expire
        with their images instead (``RECORD_LINGER``) and images live in the shared folder or bucket."""
        return []

    def clear_images(self, job_id: int) -> None:
        """The job's images are deleted: its record says so, and goes ``RECORD_LINGER`` seconds later."""
        self._clear_images(keys=[self.ns], args=[job_id, int(RECORD_LINGER * 1000)])

    def __repr__(self) -> str:
        return f"RedisJobStore(namespace={self.ns!r})"

