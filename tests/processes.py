"""``t2i mock`` and ``t2i serve`` as users run them: their own process, on a port a test chooses."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests

from tests.support import wait_for

__all__ = ["Process", "descendants", "kill_tree", "running", "start", "stop", "worker_of"]

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120.0  # polling deadline: generous, never a claim about speed


class Process:
    """A started command, its output file and the URL it should listen on."""

    def __init__(self, popen: subprocess.Popen[bytes], log: Path, url: str) -> None:
        self.popen = popen
        self.log = log
        self.url = url

    @property
    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]


def start(command: str, args: list[str], log: Path, port: int, env: dict[str, str] | None = None) -> Process:
    with log.open("wb") as out:
        popen = subprocess.Popen([sys.executable, "-c", "from t2i_contract.spec.cli import run; run()", command,
                                  *args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                 env={**os.environ, **(env or {})})
    return Process(popen, log, f"http://127.0.0.1:{port}")


def stop(process: Process) -> int:
    """SIGTERM, then wait (generously) for the exit status; one that will not go is SIGKILLed with its
    children (a server's workers), so nothing is left behind either way."""
    if process.popen.poll() is None:
        process.popen.send_signal(signal.SIGTERM)
        try:
            process.popen.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_tree(process.popen)
    return process.popen.returncode


def descendants(pid: int) -> list[int]:
    """The living processes below ``pid`` (children, theirs, ...), read from /proc; none where there is none."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def kill_tree(popen: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """SIGKILL a started process and everything below it, and reap it."""
    below = descendants(popen.pid)
    popen.kill()
    for pid in below:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    popen.wait()


def worker_of(url: str, path: str = "/__mock/health") -> str | None:
    """Which mock worker answered a fresh connection (None when nothing answers)."""
    try:
        answer = requests.get(url + path, headers={"Connection": "close"}, timeout=TIMEOUT)
    except requests.ConnectionError:
        return None
    return answer.headers.get("X-T2I-Mock-Worker", "?")


@contextmanager
def running(command: str, args: list[str], log: Path, port: int, ready: str = "/__mock/health",
            env: dict[str, str] | None = None) -> Iterator[Process]:
    """Start a server and wait until ``ready`` answers; SIGTERM it when the block ends."""
    process = start(command, args, log, port, env)

    def up() -> bool:
        assert process.popen.poll() is None, f"{command} exited with {process.popen.returncode}: {process.output}"
        try:
            return requests.get(process.url + ready, timeout=TIMEOUT).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(up, timeout=TIMEOUT, interval=0.1)
        yield process
    finally:
        stop(process)
