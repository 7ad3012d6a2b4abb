"""Jobs and the request journal, in one SQLite file shared by every worker.

A job is one text2img request: its normalised request (``meta``, seed filled in),
the base URL its image links were built from, when it becomes ready and when it
expires. Fetch, the image routes and the webhook sender read jobs back from here,
so an answer from any gunicorn worker sees what another worker stored.

The file runs in WAL mode with ``synchronous=OFF``: commits never wait for an fsync,
which keeps a text2img answer to well under a millisecond of storage work. The
mock's state is disposable, so losing the last commits on a crash is fine; by
default the file lives in memory (/dev/shm) anyway.

Connections come from a small per-process pool (a connection must not be used by
two threads at once, nor cross a fork), so thread-per-request servers do not
reconnect on every request. Writers across processes take turns on an ``flock``
(see :meth:`JobStore._write_lock`). Expired jobs and old journal entries are swept
in small bites, four times a second, from a write, and the pages they freed are
given back to the file system (incremental vacuum), so the file (in memory, on
/dev/shm, by default) shrinks again. The jobs are bounded in number (``max_jobs``) and
in bytes (``max_bytes``: a running count kept by triggers, the oldest dropped first),
and the journal likewise (``journal.py``).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from t2i_contract.protocol import Clock, SystemClock, initial_status
from t2i_contract.protocol.jsonio import json_text
from t2i_contract.protocol.ownership import new_secret
from t2i_contract.protocol.webhooks import PENDING, RETRYING_PREFIX

from . import journal as journal_table
from .journal import JournalQuery, Redactor

__all__ = ["Job", "JobStore", "temporary_folder"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    ready_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    base_url TEXT NOT NULL,
    meta TEXT NOT NULL,
    webhook TEXT,
    track_id TEXT,
    webhook_status TEXT NOT NULL,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (ready_at);
CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (expires_at);
CREATE TABLE IF NOT EXISTS store_secret (id INTEGER PRIMARY KEY CHECK (id = 1), secret TEXT NOT NULL);
"""
# The running byte count of the jobs (their meta, input images included), kept by triggers.
_SIZE_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs_size (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO jobs_size (id, bytes) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS jobs_in AFTER INSERT ON jobs
    BEGIN UPDATE jobs_size SET bytes = bytes + NEW.bytes WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS jobs_out AFTER DELETE ON jobs
    BEGIN UPDATE jobs_size SET bytes = bytes - OLD.bytes WHERE id = 1; END;
"""
# Columns added since the first layout, for stores kept with --db across versions.
_ADDED_COLUMNS = (("owner", "TEXT"), ("bytes", "INTEGER NOT NULL DEFAULT 0"))
_JOB_COLUMNS = "id, created, ready_at, expires_at, base_url, meta, webhook, track_id, webhook_status, owner"
# Ids start here so they look like the hosted API's (eight digits) and never collide
# with small integers a client might hard-code.
FIRST_ID = 10_000_000
SQLITE_MAX_INT = 2**63 - 1
# Sweep often and in small bites (see _sweep): at most this many rows per table, this often.
SWEEP_EVERY = 0.25
SWEEP_CHUNK = 2000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
"""Bytes all jobs may take together (their requests, input images included), oldest dropped first."""


def temporary_folder() -> Path:
    """A new private folder for a store: on /dev/shm (memory) where possible, else the temp dir."""
    shm = Path("/dev/shm")
    parent = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="t2i-mock-", dir=parent))


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    created: float
    ready_at: float
    expires_at: float
    base_url: str
    meta: dict[str, Any]
    webhook: str | None
    track_id: str | None
    webhook_status: str
    owner: str | None = None  # keyed digest of the key that made it (protocol.ownership), with --keys

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Job:
        return cls(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7], row[8], row[9])

    def ready(self, now: float) -> bool:
        return now >= self.ready_at

    def eta(self, now: float) -> float:
        return max(0.0, round(self.ready_at - now, 2))


# The columns a job's row is written with, ids included (see JobStore.group).
_INSERT_COLUMNS = ("id", "created", "ready_at", "expires_at", "base_url", "meta", "webhook", "track_id",
                   "webhook_status", "owner", "bytes")
_ROWS_PER_INSERT = 64
"""Rows one INSERT statement writes (SQLite allows 32,766 parameters in one)."""


@dataclass(slots=True)
class _Writes:
    """What one transaction of :meth:`JobStore.group` writes when it ends, and the ids it gave out."""

    next_job: int | None = None  # the next job id to give out; read from SQLite at the first job
    next_entry: int | None = None  # the same for the journal's seq
    jobs: list[tuple[Any, ...]] = field(default_factory=list)
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    waiting: dict[str | None, int] = field(default_factory=dict)  # jobs added that wait, by owner
    failed: bool = False


def _insert_rows(db: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """``rows`` into ``table``, many to one statement: SQLite runs (and the GIL is given up for) one step each."""
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start:start + _ROWS_PER_INSERT]
        one = "(" + ", ".join("?" * len(columns)) + ")"
        db.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * len(chunk))}",
                   [value for row in chunk for value in row])


class JobStore:
    """SQLite-backed jobs and journal; one instance per app, usable from any thread."""

    def __init__(self, path: Path, ttl: float, journal_limit: int, max_jobs: int = 100_000,
                 clock: Clock | None = None, keys: tuple[str, ...] = (),
                 journal_bytes: int = journal_table.MAX_BYTES, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.clock = clock or SystemClock()
        self.ttl = ttl
        self.journal_limit = journal_limit
        self.max_jobs = max_jobs
        self.journal_bytes = journal_bytes
        self.max_bytes = max_bytes
        self.redactor = Redactor(keys)
        self._pool: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._pid = os.getpid()
        self._thread_lock = threading.Lock()
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock_file: BinaryIO | None = None
        self._lock_pid: int | None = None
        self._writer: sqlite3.Connection | None = None  # see _conn(write=True)
        self._writer_pid: int | None = None
        self._group: int | None = None  # the thread inside group(), which holds the write lock
        self._writes: _Writes | None = None  # what that group wrote
        self._next_sweep = 0.0
        self._sweep_every = min(SWEEP_EVERY, ttl / 4)
        with self._conn(write=True) as db:
            self._incremental_vacuum(db)
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for name, kind in _ADDED_COLUMNS:
                if name not in columns:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
            db.executescript(_SIZE_SCHEMA)
            journal_table.migrate(db)
            db.execute(
                "INSERT OR IGNORE INTO sqlite_sequence (name, seq) SELECT 'jobs', ? "
                "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs')",
                (FIRST_ID,),
            )
            db.execute("INSERT OR IGNORE INTO store_secret (id, secret) VALUES (1, ?)", (new_secret(),))
            self.secret: str = db.execute("SELECT secret FROM store_secret WHERE id = 1").fetchone()[0]

    @staticmethod
    def _incremental_vacuum(db: sqlite3.Connection) -> None:
        """Make the file one that can give freed pages back (a new file at once; an old one by one VACUUM)."""
        if db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            return
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        db.execute("VACUUM")  # even a new file: WAL mode has already written its first page

    # -- connections -------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA busy_timeout=30000")
        # checkpoint the WAL every MiB and cut it back to that after: a burst of big journal
        # entries must not leave a WAL file of many MB behind
        db.execute("PRAGMA wal_autocheckpoint=256")
        db.execute("PRAGMA journal_size_limit=1048576")
        return db

    @contextlib.contextmanager
    def _conn(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for this thread's exclusive use until the block ends.

        ``write=True`` also holds the store's write lock for the block (see :meth:`_write_lock`).
        """
        if write:  # writers take turns (the write lock), so one connection per process serves them all
            if self._group == threading.get_ident():  # inside this thread's group(): its transaction
                assert self._writer is not None
                yield self._writer
                return
            with self._write_lock():
                if self._writer_pid != os.getpid():  # forked, or the first write: a connection of our own
                    self._writer, self._writer_pid = self._connect(), os.getpid()
                assert self._writer is not None
                yield self._writer
            return
        with self._pool_lock:
            if self._pid != os.getpid():  # forked: the parent's connections are not ours
                self._pool, self._pid = [], os.getpid()
            db = self._pool.pop() if self._pool else None
        if db is None:
            db = self._connect()
        try:
            yield db
        finally:
            with self._pool_lock:
                if len(self._pool) < 16:
                    self._pool.append(db)
                    db = None
            if db is not None:
                db.close()

    @contextlib.contextmanager
    def group(self) -> Iterator[None]:
        """Every write of this thread in the block, in one transaction, committed when the block ends.

        Every write goes through one (a write outside a group makes a group of its own), so
        several calls answered together (``FastPath``) pay for one transaction. Its rows are
        written as it ends, each table's in one INSERT, with ids given out in the block (the
        transaction holds SQLite's write lock from its start, so no other writer can take
        them); then the trims (jobs beyond ``max_jobs`` or ``max_bytes``, the journal beyond
        its limits) and the sweep run once for all. A call in the block costs no SQLite
        statement of its own, and the thread leading a group keeps the GIL, which every
        statement would give up to the request threads waiting for it (issue 22).
        ``max_pending`` stays exact: the block counts the jobs it added.

        A write that fails inside the block fails the whole block, even when the call it
        belonged to was answered (with a 500), and so does an exception out of it: nothing of
        it is stored, and the caller answers each call again on its own. Nothing written in
        the block is seen by other connections, or by reads, before it ends, so its calls must
        not be answered before then.
        """
        if self._group == threading.get_ident():  # inside this thread's group: its transaction
            yield
            return
        with self._conn(write=True) as db:
            db.execute("BEGIN IMMEDIATE")
            self._group, self._writes = threading.get_ident(), _Writes()
            try:
                yield
                writes = self._writes
                if writes.failed:
                    raise sqlite3.OperationalError("a write of this group failed: nothing of the group is stored")
                self._flush(db, writes)
            except BaseException:
                self._group = self._writes = None
                db.execute("ROLLBACK")
                raise
            self._group = self._writes = None
            db.execute("COMMIT")

    @contextlib.contextmanager
    def _write(self) -> Iterator[tuple[sqlite3.Connection, _Writes]]:
        """The writer connection, in this thread's group (one of its own if none), and what the group writes.

        An exception out of the block fails the whole group (see :meth:`group`).
        """
        with self.group():
            writes = self._writes
            assert writes is not None
            try:
                with self._conn(write=True) as db:
                    yield db, writes
            except BaseException:
                writes.failed = True
                raise

    @staticmethod
    def _next_ids(db: sqlite3.Connection, writes: _Writes) -> None:
        """The first job id and journal seq this transaction gives out (AUTOINCREMENT's own counters)."""
        seqs = dict(db.execute("SELECT name, seq FROM sqlite_sequence WHERE name IN ('jobs', 'journal')").fetchall())
        writes.next_job, writes.next_entry = seqs.get("jobs", FIRST_ID) + 1, seqs.get("journal", 0) + 1

    def _flush(self, db: sqlite3.Connection, writes: _Writes) -> None:
        """The group's rows in, then, once for all: the jobs and the journal back within their limits, the sweep."""
        if writes.jobs:
            _insert_rows(db, "jobs", _INSERT_COLUMNS, writes.jobs)
            newest = writes.jobs[-1][0]
            # one row out per row in keeps the store at max_jobs without the periodic bulk
            # deletes that stalled every worker (see _sweep)
            db.execute("DELETE FROM jobs WHERE id <= ?", (newest - self.max_jobs,))
            self._trim_bytes(db, newest)
        if writes.entries:
            _insert_rows(db, "journal", journal_table.COLUMNS, writes.entries)
            journal_table.trim(db, writes.entries[-1][0], max(row[3] for row in writes.entries),
                               limit=self.journal_limit, max_bytes=self.journal_bytes)
        self._maybe_sweep(db, self.clock.now())

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Serialise writers across threads and processes before SQLite has to.

        SQLite makes a writer that finds the file locked sleep and retry (1, 2, 5, 10 ...
        up to 100 ms), which turns two busy gunicorn workers into a p99 of tens of
        milliseconds. ``flock`` on a side file instead blocks in the kernel and wakes the
        next writer the moment the lock is free.
        """
        with self._thread_lock:
            if self._lock_pid != os.getpid():
                self._lock_file = open(self._lock_path, "a+b")  # noqa: SIM115 - kept for the process's life
                self._lock_pid = os.getpid()
            assert self._lock_file is not None
            fd = self._lock_file.fileno()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._lock_file is not None and self._lock_pid == os.getpid():
            self._lock_file.close()
            self._lock_pid = None
        with self._pool_lock:
            pool, self._pool = self._pool, []
        with self._thread_lock:
            if self._writer is not None and self._writer_pid == os.getpid():
                pool.append(self._writer)
            self._writer = self._writer_pid = None
        for db in pool:
            db.close()

    # -- jobs ----------------------------------------------------------------
    def add_job(self, *, meta: dict[str, Any], base_url: str, delay: float, webhook: str | None,
                track_id: str | None, journal: dict[str, Any] | None = None,
                max_pending: int | None = None, owner: str | None = None) -> Job | None:
        """Store a new job (and its journal entry, in the same transaction); return it with its id.

        With ``max_pending``, a job that would wait (``delay > 0``) is refused, and None
        returned, when ``owner`` (the key's digest) already has that many jobs pending. The
        count and the insert share one write transaction, so concurrent workers cannot
        overshoot the limit.
        """
        now = self.clock.now()
        status = initial_status(webhook)
        with self._write() as (db, writes):
            if writes.next_job is None:
                self._next_ids(db, writes)
            if max_pending is not None and delay > 0:
                stored = db.execute("SELECT COUNT(*) FROM jobs WHERE ready_at > ? AND owner IS ?",
                                    (now, owner)).fetchone()[0]
                if stored + writes.waiting.get(owner, 0) >= max_pending:
                    return None
            text = json_text(meta)
            size = len(text) + len(base_url) + len(webhook or "") + len(track_id or "")
            assert writes.next_job is not None
            job_id, writes.next_job = writes.next_job, writes.next_job + 1
            writes.jobs.append((job_id, now, now + delay, now + delay + self.ttl, base_url, text, webhook, track_id,
                                status, owner, size))
            if delay > 0:
                writes.waiting[owner] = writes.waiting.get(owner, 0) + 1
            if journal is not None:
                journal["job_id"] = job_id
                self._journal_insert(db, writes, journal)
        return Job(job_id, now, now + delay, now + delay + self.ttl, base_url, meta, webhook, track_id, status,
                   owner)

    def _trim_bytes(self, db: sqlite3.Connection, newest: int) -> None:
        """Drop the oldest jobs until all of them take at most ``max_bytes`` (the newest one stays)."""
        while db.execute("SELECT bytes FROM jobs_size WHERE id = 1").fetchone()[0] > self.max_bytes:
            gone = db.execute("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE id < ? ORDER BY id LIMIT 16)",
                              (newest,)).rowcount
            if not gone:
                return

    def stored_bytes(self) -> int:
        """Bytes the jobs take (their meta, input images included), as the store counts them."""
        with self._conn() as db:
            return int(db.execute("SELECT bytes FROM jobs_size WHERE id = 1").fetchone()[0])

    def get_job(self, job_id: int) -> Job | None:
        """The job, or None when it never existed or has expired."""
        if not 0 <= job_id <= SQLITE_MAX_INT:  # the spec sets no maximum; SQLite integers stop here
            return None
        with self._conn() as db:
            row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ? AND expires_at > ?",
                             (job_id, self.clock.now())).fetchone()
        return None if row is None else Job.from_row(row)

    def pending_count(self) -> int:
        with self._conn() as db:
            return int(db.execute("SELECT COUNT(*) FROM jobs WHERE ready_at > ?", (self.clock.now(),)).fetchone()[0])

    def set_webhook_status(self, job_id: int, status: str) -> None:
        with self._conn(write=True) as db:
            db.execute("UPDATE jobs SET webhook_status = ? WHERE id = ?", (status, job_id))

    def unsettled_webhooks(self) -> list[Job]:
        """Live jobs whose webhook was pending or between retries when the last process stopped."""
        with self._conn() as db:
            rows = db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE webhook IS NOT NULL AND expires_at > ? AND "
                "(webhook_status = ? OR webhook_status LIKE ?) ORDER BY id",
                (self.clock.now(), PENDING, RETRYING_PREFIX + "%"),
            ).fetchall()
        return [Job.from_row(r) for r in rows]

    # -- journal -----------------------------------------------------------
    def _journal_insert(self, db: sqlite3.Connection, writes: _Writes, entry: dict[str, Any]) -> None:
        if writes.next_entry is None:
            self._next_ids(db, writes)
        assert writes.next_entry is not None
        writes.entries.append(journal_table.row(writes.next_entry, entry, self.redactor))
        writes.next_entry += 1

    def record(self, entry: dict[str, Any]) -> None:
        """Append one request to the journal (redacted and cut as ``journal.py`` says; ``body`` as bytes)."""
        with self._write() as (db, writes):
            self._journal_insert(db, writes, entry)

    def journal(self, query: JournalQuery | None = None) -> list[dict[str, Any]]:
        """The journal entries still kept that match ``query`` (all by default), oldest first."""
        with self._conn() as db:
            return journal_table.select(db, query or JournalQuery())

    def clear_journal(self, owner: str | None = None) -> int:
        """Delete every journal entry (only ``owner``'s, when given) and give the space back; how many."""
        with self._conn(write=True) as db:
            return journal_table.clear(db, owner)

    # -- expiry ------------------------------------------------------------
    def _maybe_sweep(self, db: sqlite3.Connection, now: float) -> None:
        """Sweep at most every ``SWEEP_EVERY`` seconds, from a write that holds the write lock."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._sweep_every
        self._sweep(db, now)

    def sweep(self, now: float | None = None) -> int:
        """Delete expired jobs, the oldest beyond ``max_jobs`` and old journal entries; count the jobs gone.

        Deletes at most ``SWEEP_CHUNK`` rows of each kind per call; writes call it every
        ``SWEEP_EVERY`` seconds, which keeps up with several thousand requests a second.
        """
        with self._conn(write=True) as db:
            return self._sweep(db, self.clock.now() if now is None else now)

    def _sweep(self, db: sqlite3.Connection, now: float) -> int:
        # Inserts already trim the journal and the jobs beyond max_jobs one row at a time; this
        # catches up on expired jobs and on limits lowered between runs. Each statement deletes
        # at most SWEEP_CHUNK rows: a sweep holds the write lock, and deleting tens of
        # thousands of rows at once stalls every worker for tens of ms.
        gone = db.execute(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE expires_at <= ? LIMIT ?)", (now, SWEEP_CHUNK),
        ).rowcount
        oldest, newest = db.execute("SELECT MIN(id), MAX(id) FROM jobs").fetchone()
        if newest is not None:  # ids only grow: the oldest jobs have the smallest ids
            cutoff = min(newest - self.max_jobs, oldest + SWEEP_CHUNK - 1)
            gone += db.execute("DELETE FROM jobs WHERE id <= ?", (cutoff,)).rowcount
        oldest, newest = db.execute("SELECT MIN(seq), MAX(seq) FROM journal").fetchone()
        if newest is not None:
            cutoff = min(newest - self.journal_limit, oldest + SWEEP_CHUNK - 1)
            db.execute("DELETE FROM journal WHERE seq <= ?", (cutoff,))
        db.execute("PRAGMA incremental_vacuum(256)").fetchall()  # give freed pages back, a MiB at a time
        return int(gone)

    def count_jobs(self) -> int:
        """Jobs stored, expired ones not yet swept included."""
        with self._conn() as db:
            return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
