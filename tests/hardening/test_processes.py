"""Issue 18, items 2 and 3: one port, one server, however they start; and no process outlives its server.

Reproduced before the fixes: two ``t2i mock --port P`` started together both listened (2 tries
of 3 here), and ``t2i serve`` and ``t2i mock`` started together on P both listened (granian
binds with SO_REUSEPORT, after the probe); after ``kill -9`` of ``t2i mock`` or ``t2i
serve`` the granian worker became a child of PID 1, kept answering, and a restart on the
port failed with "Address already in use". Nothing here waits a fixed time: a test polls
for the state it needs, with a generous deadline.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import requests

from t2i_contract.reference_backend import TinyModel
from tests.processes import TIMEOUT, Process, running, start, stop, worker_of
from tests.support import free_port, wait_for

TRIES = 3


def _refused_in_one_line(process: Process, port: int) -> None:
    lines = process.lines()
    assert process.popen.returncode not in (0, None), process.output
    assert len(lines) == 1 and str(port) in lines[0] and "in use" in lines[0], process.output
    assert "Traceback" not in process.output and "panicked" not in process.output


def _serving(url: str, path: str) -> bool:
    try:
        return requests.get(url + path, headers={"Connection": "close"}, timeout=TIMEOUT).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.parametrize("attempt", range(TRIES))
def test_of_two_mocks_started_together_on_one_port_exactly_one_serves(tmp_path: Path, attempt: int) -> None:
    port = free_port()
    first = start("mock", ["--port", str(port)], tmp_path / "a.log", port)
    second = start("mock", ["--port", str(port)], tmp_path / "b.log", port)
    try:
        wait_for(lambda: first.popen.poll() is not None or second.popen.poll() is not None, timeout=TIMEOUT,
                 interval=0.05)
        loser, winner = (first, second) if first.popen.poll() is not None else (second, first)
        wait_for(lambda: _serving(winner.url, "/__mock/health"), timeout=TIMEOUT, interval=0.1)
        assert winner.popen.poll() is None, winner.output
    finally:
        stop(first)
        stop(second)
    _refused_in_one_line(loser, port)


def test_serve_and_a_mock_started_together_on_one_port_leave_exactly_one_serving(tiny: TinyModel,
                                                                                 tmp_path: Path) -> None:
    """``t2i serve`` takes a while to start (it checks its models); the mock is started meanwhile."""
    port = free_port()
    serve = start("serve", ["--models", str(tiny.models_dir), "--port", str(port), "--data", str(tmp_path / "d")],
                  tmp_path / "serve.log", port)
    mock = start("mock", ["--port", str(port)], tmp_path / "mock.log", port)
    try:
        wait_for(lambda: serve.popen.poll() is not None or mock.popen.poll() is not None, timeout=TIMEOUT,
                 interval=0.05)
        loser, winner = (serve, mock) if serve.popen.poll() is not None else (mock, serve)
        wait_for(lambda: _serving(winner.url, "/__mock/health" if winner is mock else "/"), timeout=TIMEOUT,
                 interval=0.1)
        assert winner.popen.poll() is None, winner.output
    finally:
        stop(mock)
        stop(serve)
    _refused_in_one_line(loser, port)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _kill_nine_frees_everything(process: Process, port: int, ready: str) -> None:
    wait_for(lambda: _serving(process.url, ready), timeout=TIMEOUT, interval=0.1)
    workers = _children(process.popen.pid)
    assert workers, "the server started no worker process"
    process.popen.send_signal(signal.SIGKILL)
    process.popen.wait(timeout=TIMEOUT)
    try:
        wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=60, interval=0.05)
    finally:
        for pid in workers:  # whatever happens, the test leaves nothing behind
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_kill_nine_of_a_mock_kills_its_worker_and_frees_the_port(tmp_path: Path) -> None:
    port = free_port()
    mock = start("mock", ["--port", str(port)], tmp_path / "a.log", port)
    try:
        _kill_nine_frees_everything(mock, port, "/__mock/health")
    finally:
        stop(mock)
    assert worker_of(mock.url) is None, "something still answers on the port"
    with running("mock", ["--port", str(port)], tmp_path / "b.log", port) as again:
        assert worker_of(again.url) is not None


@pytest.mark.slow
def test_kill_nine_of_serve_kills_its_worker_and_frees_the_port(tiny: TinyModel, tmp_path: Path) -> None:
    port = free_port()
    args = ["--models", str(tiny.models_dir), "--port", str(port), "--data", str(tmp_path / "d")]
    serve = start("serve", args, tmp_path / "a.log", port)
    try:
        _kill_nine_frees_everything(serve, port, "/")
    finally:
        stop(serve)
    with running("serve", args, tmp_path / "b.log", port, ready="/") as again:
        assert _serving(again.url, "/")
