"""The embedded job store: every accepted generation is a row in SQLite.

A job is ``queued`` when accepted, ``running`` while a worker has it, then
``success`` or ``failed``. Because the row is written before the client gets its
answer, a restart loses nothing: :meth:`JobStore.recover` puts jobs that were
``running`` when the process died back in the queue, queued jobs simply wait for
the new workers, and finished jobs stay fetchable.

The request is stored as the normalised ``meta`` JSON plus unknown fields, never
with its API key; only a keyed digest of the key is kept (HMAC-SHA256 under a secret
made once per store and kept in it, :class:`~t2i_contract.protocol.ownership.KeyHasher`),
so fetch can check that the caller is the one who started the generation, and a
copied file cannot be checked against guessed keys elsewhere. A job's input images
(``init_image``, ``mask_image``, ``ip_adapter_image``, as the client sent them) are kept
while it waits or runs, and dropped when it finishes, so the store holds the inputs of
the queue only (bounded by ``--max-queued`` per key and the intake's byte limits).

The store is bounded in bytes with the images of its jobs (``--max-store-bytes``): each
row counts its own bytes, and its image files' once saved (``bytes``); triggers keep the
running total (``jobs_size``), and :meth:`JobStore.evict` drops finished jobs, oldest
first, until the total is back under the bound, giving the freed pages back to the file
system (incremental vacuum). A queued or running job, one whose webhook is still to be
delivered, and the newest finished job are never dropped; a dropped job is gone, so its
fetch is the usual 404.
One connection is shared by all threads behind a lock (SQLite serialises writers anyway); the file uses WAL so
readers in other processes are not blocked.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from t2i_contract.protocol import Clock, SystemClock
from t2i_contract.protocol.ownership import KeyHasher, new_secret
from t2i_contract.protocol.webhooks import NONE, PENDING, RETRYING_PREFIX
from t2i_contract.spec import GenerationRequest

from .operations import request_json, stored_request

__all__ = ["FAILED", "QUEUED", "RUNNING", "SUCCESS", "Job", "JobStore"]

QUEUED, RUNNING, SUCCESS, FAILED = "queued", "running", "success", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    state TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    request TEXT NOT NULL,
    seed INTEGER NOT NULL,
    cost REAL NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    generation_time REAL,
    images TEXT NOT NULL DEFAULT '[]',
    nsfw TEXT NOT NULL DEFAULT '[]',
    info TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    error_status INTEGER,
    expires_at REAL,
    base_url TEXT NOT NULL DEFAULT '',
    webhook_status TEXT NOT NULL DEFAULT '',
    image_bytes INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE TABLE IF NOT EXISTS store_secret (id INTEGER PRIMARY KEY CHECK (id = 1), secret TEXT NOT NULL);
"""
# Columns added since the first layout, for stores kept with --data across versions.
_ADDED_COLUMNS = (("image_bytes", "INTEGER NOT NULL DEFAULT 0"), ("bytes", "INTEGER NOT NULL DEFAULT 0"))
# The running byte count of all jobs, kept by triggers.
_SIZE_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs_size (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO jobs_size (id, bytes) SELECT 1, COALESCE(SUM(bytes), 0) FROM jobs;
CREATE TRIGGER IF NOT EXISTS jobs_in AFTER INSERT ON jobs
    BEGIN UPDATE jobs_size SET bytes = bytes + NEW.bytes WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS jobs_out AFTER DELETE ON jobs
    BEGIN UPDATE jobs_size SET bytes = bytes - OLD.bytes WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS jobs_resized AFTER UPDATE OF bytes ON jobs
    BEGIN UPDATE jobs_size SET bytes = bytes + NEW.bytes - OLD.bytes WHERE id = 1; END;
"""
_ROW_OVERHEAD = 128
"""Bytes a row takes besides its text columns (numbers, the index, the page's own bookkeeping), roughly."""
_MEASURE = (f"bytes = {_ROW_OVERHEAD} + image_bytes + length(CAST(request AS BLOB)) + length(CAST(images AS BLOB)) "
            "+ length(CAST(nsfw AS BLOB)) + length(CAST(info AS BLOB)) + COALESCE(length(CAST(error AS BLOB)), 0) "
            "+ length(CAST(base_url AS BLOB)) + length(CAST(webhook_status AS BLOB))")
"""What a row counts: its text as stored and its image files (``image_bytes``)."""
_EVICT_BATCH = 64
_WAL_LIMIT = 4 * 1024 * 1024
"""Bytes the write-ahead log is cut back to after a checkpoint, so it does not keep its largest size."""


_DROP_INPUTS = "request = json_remove(request, '$.inputs')"
"""A finished job's input images are no longer needed: only queued and running jobs keep theirs (as sent)."""


def job_cost(request: GenerationRequest) -> float:
    """Work in units of one 512x512 image with 20 steps; the ETA scales with it."""
    passes = 2 if getattr(request, "highres_fix", False) else 1
    return request.width * request.height * request.num_inference_steps * request.samples * passes / (512 * 512 * 20)


def request_to_json(request: GenerationRequest, inputs: Any = None) -> str:
    return request_json(request, inputs)


def request_from_json(text: str) -> GenerationRequest:
    return stored_request(text)[0]


@dataclass(frozen=True)
class Job:
    """One row of the store, decoded."""

    id: int
    state: str
    key_hash: str
    request: GenerationRequest
    seed: int
    cost: float
    created_at: float
    started_at: float | None
    finished_at: float | None
    generation_time: float | None
    images: list[str]
    nsfw: list[bool]
    info: dict[str, Any]
    error: str | None
    error_status: int | None
    expires_at: float | None
    webhook_status: str
    base_url: str
    inputs: dict[str, str] = field(default_factory=dict)
    """img2img/inpaint input images as PNG base64 (``operations.decode_inputs``)."""

    @property
    def finished(self) -> bool:
        return self.state in (SUCCESS, FAILED)


class JobStore:
    """Jobs in one SQLite file. Safe to share between threads."""

    def __init__(self, path: Path, clock: Clock | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            if self._db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # freed pages can be given back
                self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
                self._db.execute("VACUUM")  # takes effect on a file that already has pages only after one
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT}")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
            for name, kind in _ADDED_COLUMNS:
                if name not in columns:
                    self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
                    if name == "bytes":
                        self._db.execute(f"UPDATE jobs SET {_MEASURE}")
            self._db.executescript(_SIZE_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO store_secret (id, secret) VALUES (1, ?)", (new_secret(),))
            secret = self._db.execute("SELECT secret FROM store_secret WHERE id = 1").fetchone()[0]
        self._owners = KeyHasher(secret)

    def key_digest(self, key: str) -> str:
        """What the store keeps of ``key``: its HMAC under this store's secret."""
        return self._owners.digest(key)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def _change(self, job_id: int, sql: str, args: tuple[Any, ...] = ()) -> None:
        """Run ``sql`` on the job's row and count its bytes again, in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(sql, args)
                self._db.execute(f"UPDATE jobs SET {_MEASURE} WHERE id = ?", (job_id,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @staticmethod
    def _decode(row: sqlite3.Row) -> Job:
        request, inputs = stored_request(row["request"])
        return Job(
            id=row["id"], state=row["state"], key_hash=row["key_hash"], request=request, inputs=inputs,
            seed=row["seed"], cost=row["cost"], created_at=row["created_at"], started_at=row["started_at"],
            finished_at=row["finished_at"], generation_time=row["generation_time"],
            images=json.loads(row["images"]), nsfw=json.loads(row["nsfw"]), info=json.loads(row["info"]),
            error=row["error"], error_status=row["error_status"], expires_at=row["expires_at"],
            webhook_status=row["webhook_status"], base_url=row["base_url"],
        )

    # -- life cycle -------------------------------------------------------------
    def add(self, request: GenerationRequest, key: str, seed: int, base_url: str, webhook_status: str = NONE,
            max_waiting: int = 0, inputs: Any = None) -> int | None:
        """Store a queued job; its id. With ``max_waiting``, None instead when that key already has that
        many jobs queued or running: the count and the insert are one transaction, so concurrent
        requests cannot overshoot the limit."""
        key_hash = self.key_digest(key)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if max_waiting:
                    waiting = self._db.execute("SELECT COUNT(*) FROM jobs WHERE state IN (?, ?) AND key_hash = ?",
                                               (QUEUED, RUNNING, key_hash)).fetchone()[0]
                    if waiting >= max_waiting:
                        self._db.execute("ROLLBACK")
                        return None
                cursor = self._db.execute(
                    "INSERT INTO jobs (state, key_hash, request, seed, cost, created_at, base_url, webhook_status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (QUEUED, key_hash, request_to_json(request, inputs), seed, job_cost(request), self.clock.now(),
                     base_url, webhook_status),
                )
                self._db.execute(f"UPDATE jobs SET {_MEASURE} WHERE id = ?", (cursor.lastrowid,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return int(cursor.lastrowid or 0)

    def claim(self) -> Job | None:
        """Take the oldest queued job and mark it running, atomically."""
        row = self._one(
            "UPDATE jobs SET state = ?, started_at = ? WHERE id = "
            "(SELECT id FROM jobs WHERE state = ? ORDER BY id LIMIT 1) RETURNING *",
            (RUNNING, self.clock.now(), QUEUED),
        )
        return self._decode(row) if row is not None else None

    def succeed(self, job_id: int, images: list[str], nsfw: list[bool], info: dict[str, Any],
                generation_time: float, expires_at: float | None, image_bytes: int = 0) -> None:
        """Mark a job done; ``image_bytes`` is what its image files take, counted against the bound."""
        self._change(
            job_id,
            "UPDATE jobs SET state = ?, finished_at = ?, images = ?, nsfw = ?, info = ?, generation_time = ?, "
            f"expires_at = ?, image_bytes = ?, {_DROP_INPUTS} WHERE id = ?",
            (SUCCESS, self.clock.now(), json.dumps(images), json.dumps(nsfw), json.dumps(info), generation_time,
             expires_at, image_bytes, job_id),
        )

    def fail(self, job_id: int, message: str, status: int, body: dict[str, Any] | None = None) -> None:
        """Mark a job failed; ``body`` (the error answer, with its problems) is kept in ``info``."""
        self._change(job_id, f"UPDATE jobs SET state = ?, finished_at = ?, error = ?, error_status = ?, info = ?, "
                     f"{_DROP_INPUTS} WHERE id = ?",
                     (FAILED, self.clock.now(), message, status, json.dumps(body or {}), job_id))

    def set_webhook_status(self, job_id: int, status: str) -> None:
        self._write("UPDATE jobs SET webhook_status = ? WHERE id = ?", (status, job_id))

    def recover(self) -> int:
        """Put jobs left ``running`` by a previous process back in the queue; return how many."""
        return self._write("UPDATE jobs SET state = ?, started_at = NULL WHERE state = ?", (QUEUED, RUNNING))

    # -- queries ------------------------------------------------------------------
    def get(self, job_id: int) -> Job | None:
        row = self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return self._decode(row) if row is not None else None

    def waiting(self, key: str | None = None) -> int:
        """Jobs queued or running, for one key or for everyone."""
        if key is None:
            row = self._one("SELECT COUNT(*) FROM jobs WHERE state IN (?, ?)", (QUEUED, RUNNING))
        else:
            row = self._one("SELECT COUNT(*) FROM jobs WHERE state IN (?, ?) AND key_hash = ?",
                            (QUEUED, RUNNING, self.key_digest(key)))
        return int(row[0]) if row is not None else 0

    def work_until(self, job_id: int) -> float:
        """The cost of the unfinished jobs up to and including this one."""
        row = self._one("SELECT SUM(cost) FROM jobs WHERE state IN (?, ?) AND id <= ?", (QUEUED, RUNNING, job_id))
        return float(row[0]) if row is not None and row[0] is not None else 0.0

    def claimed_elapsed(self, now: float) -> float:
        """Seconds the running jobs have been running, summed."""
        row = self._one("SELECT SUM(? - started_at) FROM jobs WHERE state = ?", (now, RUNNING))
        return float(row[0]) if row is not None and row[0] is not None else 0.0

    def seconds_per_cost(self, last: int = 20) -> float | None:
        """Recent seconds per unit of cost; None before the first success."""
        row = self._one("SELECT AVG(generation_time / cost) FROM (SELECT generation_time, cost FROM jobs "
                        "WHERE state = ? AND cost > 0 ORDER BY id DESC LIMIT ?)", (SUCCESS, last))
        return float(row[0]) if row is not None and row[0] is not None else None

    def undelivered_webhooks(self) -> list[Job]:
        """Finished jobs whose webhook was still pending or between retries when the last process stopped."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE state IN (?, ?) AND (webhook_status = ? OR "
                                    "webhook_status LIKE ?) ORDER BY id",
                                    (SUCCESS, FAILED, PENDING, RETRYING_PREFIX + "%")).fetchall()
        return [self._decode(row) for row in rows]

    def expired(self, now: float) -> list[Job]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ? "
                                    "AND images != '[]'", (now,)).fetchall()
        return [self._decode(row) for row in rows]

    def clear_images(self, job_id: int) -> None:
        self._change(job_id, "UPDATE jobs SET images = '[]', image_bytes = 0 WHERE id = ?", (job_id,))

    # -- the byte bound -------------------------------------------------------------
    def stored_bytes(self) -> int:
        """Bytes all jobs take, their image files included, as the store counts them."""
        with self._lock:
            return self._total()

    def evict(self, max_bytes: int) -> list[str]:
        """Drop finished jobs, oldest first, until all jobs take at most ``max_bytes``; the names of the
        images of the jobs dropped (the caller deletes the files). Never a queued or running job, one
        whose webhook is still pending or between retries, or the newest finished job (its client may
        be reading it), so the total can stay above the bound while those alone exceed it."""
        with self._lock:
            if self._total() <= max_bytes:
                return []
            self._db.execute("BEGIN IMMEDIATE")
            try:
                names = self._evict(max_bytes)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            # give the freed pages back: move them to the end and cut the file, then the log
            self._db.execute("PRAGMA incremental_vacuum").fetchall()
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return names

    def _total(self) -> int:
        return int(self._db.execute("SELECT bytes FROM jobs_size WHERE id = 1").fetchone()[0])

    def _evict(self, max_bytes: int) -> list[str]:
        names: list[str] = []
        newest = self._db.execute("SELECT MAX(id) FROM jobs WHERE state IN (?, ?)", (SUCCESS, FAILED)).fetchone()[0]
        after = 0
        while newest is not None and self._total() > max_bytes:
            rows = self._db.execute(
                "SELECT id, images FROM jobs WHERE id > ? AND id < ? AND state IN (?, ?) AND webhook_status != ? "
                "AND webhook_status NOT LIKE ? ORDER BY id LIMIT ?",
                (after, newest, SUCCESS, FAILED, PENDING, RETRYING_PREFIX + "%", _EVICT_BATCH)).fetchall()
            if not rows:
                break
            for row in rows:
                after = row["id"]
                self._db.execute("DELETE FROM jobs WHERE id = ?", (after,))
                names.extend(json.loads(row["images"]))
                if self._total() <= max_bytes:
                    break
        return names
