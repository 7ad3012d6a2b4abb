"""The SQLite job store: shared between instances (as between workers), atomic queue limit, expiry."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from t2i_contract.mock_server.store import FIRST_ID, JobStore
from t2i_contract.protocol import ManualClock
from tests.conftest import ROOT

META = {"width": 256, "height": 256, "samples": 1, "num_inference_steps": 20, "prompt": "p"}


def _add(store: JobStore, delay: float = 0.0, max_pending: int | None = None) -> int | None:
    job = store.add_job(meta=META, base_url="http://x", delay=delay, webhook=None, track_id=None,
                        max_pending=max_pending)
    return None if job is None else job.id


def _add_in_child(path: str, count: int) -> None:
    store = JobStore(Path(path), ttl=60, journal_limit=10)
    for _ in range(count):
        _add(store)
    store.close()


def test_two_stores_on_one_file_see_each_others_jobs(tmp_path: Path) -> None:
    first = JobStore(tmp_path / "s.sqlite3", ttl=60, journal_limit=10)
    second = JobStore(tmp_path / "s.sqlite3", ttl=60, journal_limit=10)
    job_id = _add(first)
    assert job_id is not None and job_id > FIRST_ID
    found = second.get_job(job_id)
    assert found is not None and found.meta == META
    assert second.get_job(job_id + 1) is None
    first.close()
    second.close()


# Plain subprocesses, not multiprocessing: a spawned multiprocessing.Process starts the parent's resource
# tracker, a process that lives as long as pytest does (the session's leftover-process check caught it).
CHILD = "import sys; from tests.mock_server.test_store import _add_in_child; _add_in_child(sys.argv[1], int(sys.argv[2]))"


def test_processes_writing_at_once_get_distinct_ids(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = JobStore(path, ttl=60, journal_limit=10)
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(path), "50"], cwd=ROOT) for _ in range(2)]
    try:
        for _ in range(50):
            _add(store)
        assert [child.wait(timeout=120) for child in children] == [0, 0]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert store.count_jobs() == 150
    store.close()


def test_max_pending_holds_under_concurrent_writers(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "s.sqlite3", ttl=60, journal_limit=10)
    results: list[int | None] = []
    lock = threading.Lock()

    def worker() -> None:
        job_id = _add(store, delay=30, max_pending=3)
        with lock:
            results.append(job_id)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 12
    assert sum(r is not None for r in results) == 3
    assert store.pending_count() == 3
    assert _add(store, delay=0, max_pending=3) is not None  # an immediate job never queues
    store.close()


def test_inserts_keep_jobs_and_journal_within_their_limits_and_sweep_drops_expired(tmp_path: Path) -> None:
    clock = ManualClock()
    store = JobStore(tmp_path / "s.sqlite3", ttl=0.2, journal_limit=2, max_jobs=2, clock=clock)
    ids = [_add(store) for _ in range(4)]
    for n in range(4):
        store.record({"n": n})
    # no sweep needed: each insert pushes the oldest row out
    assert store.count_jobs() == 2
    assert [store.get_job(i) is not None for i in ids] == [False, False, True, True]  # type: ignore[arg-type]
    assert [e["n"] for e in store.journal()] == [2, 3]
    assert store.sweep() == 0
    clock.advance(0.25)
    assert store.get_job(ids[-1]) is None  # type: ignore[arg-type]  # expired reads as gone at once
    assert store.sweep() == 2
    assert store.count_jobs() == 0
    store.close()


def test_a_sweep_deletes_in_small_bites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import t2i_contract.mock_server.store as store_module

    monkeypatch.setattr(store_module, "SWEEP_CHUNK", 2)
    clock = ManualClock()
    store = JobStore(tmp_path / "s.sqlite3", ttl=0.1, journal_limit=1, max_jobs=100, clock=clock)
    for n in range(5):
        _add(store)
        store.record({"n": n})
    assert [e["n"] for e in store.journal()] == [4]
    clock.advance(0.15)  # every job has expired: the sweep takes them out two at a time
    assert [store.sweep() for _ in range(4)] == [2, 2, 1, 0]
    assert store.count_jobs() == 0
    store.close()
