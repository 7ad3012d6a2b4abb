"""The Makefile's own targets: `make help` lists them all, `make stop` stops what `make run` started, `make clean`.

Each test runs make in a folder holding copies of the Makefile, scripts/ and pyproject.toml
(dated 1970, so ``make run`` installs nothing) and this checkout's .venv by a symlink: the
working tree's Makefile, as a reader's clone would have it. What a fresh clone's `make run`
installs, and how, is tests/test_install.py's part (offline); how long it takes is measured
by hand and written in the README's set-up section.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT
from tests.support import free_port, wait_for


def make(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=folder, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture()
def checkout(tmp_path: Path) -> Path:
    folder = tmp_path / "checkout"
    folder.mkdir()
    shutil.copy(ROOT / "Makefile", folder / "Makefile")
    shutil.copytree(ROOT / "scripts", folder / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    os.utime(folder / "pyproject.toml", (0, 0))  # older than .venv's stamps: make installs nothing
    (folder / ".venv").symlink_to(ROOT / ".venv")
    return folder


def phony_targets(folder: Path) -> set[str]:
    found = re.search(r"^\.PHONY:(.*)$", (folder / "Makefile").read_text(), re.MULTILINE)
    assert found, "the Makefile declares no .PHONY targets"
    return set(found.group(1).split())


def listed_targets(folder: Path) -> set[str]:
    """The targets `make help` names, each with a description."""
    done = make(folder, "help")
    assert done.returncode == 0, done.stderr
    return {found.group(1) for found in re.finditer(r"^\s+make (\w+)\s+\S.*$", done.stdout, re.MULTILINE)}


def test_make_help_describes_every_target(checkout: Path) -> None:
    assert phony_targets(checkout) == {"help", "run", "test", "stop", "clean"}
    assert listed_targets(checkout) == phony_targets(checkout)
    assert make(checkout).stdout == make(checkout, "help").stdout  # plain `make` helps; it builds nothing


def test_a_target_without_a_description_is_missing_from_help(checkout: Path) -> None:
    makefile = checkout / "Makefile"
    makefile.write_text(re.sub(r"^(stop:.*?)\s*## .*$", r"\1", makefile.read_text(), flags=re.MULTILINE))
    assert listed_targets(checkout) == phony_targets(checkout) - {"stop"}


def answers(url: str) -> bool:
    try:
        requests.get(url, timeout=5)
    except requests.ConnectionError:
        return False
    return True


def test_make_stop_stops_what_make_run_started(checkout: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with open(checkout / "run.log", "wb") as log:
        run = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=checkout, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        wait_for(lambda: run.poll() is not None or answers(url), timeout=120, interval=0.2)
        assert run.poll() is None, (checkout / "run.log").read_text()
        assert (checkout / ".make-run" / f"{port}.pid").is_file()
        stopped = make(checkout, "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert f"make stop: stopped the mock on port {port}" in stopped.stdout
        assert run.wait(timeout=60) == 0  # `make run` ends, and not as a failure
        assert not answers(url)
        assert not (checkout / ".make-run" / f"{port}.pid").exists()
        again = make(checkout, "stop")
        assert again.returncode == 0 and "no mock started by make run is running" in again.stdout
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()


def test_make_stop_leaves_a_process_that_is_not_its_mock_alone(checkout: Path) -> None:
    """A pid file left by a server ended with Ctrl-C may name a process that took the number since."""
    other = subprocess.Popen(["cat"], stdin=subprocess.PIPE)  # runs until its input closes
    try:
        (checkout / ".make-run").mkdir()
        (checkout / ".make-run" / "4010.pid").write_text(f"{other.pid}\n")
        (checkout / ".make-run" / "4011.pid").write_text("not a number\n")
        done = make(checkout, "stop")
        assert done.returncode == 0 and "no mock started by make run is running" in done.stdout
        assert other.poll() is None
        assert list((checkout / ".make-run").iterdir()) == []  # both stale files go
    finally:
        assert other.stdin is not None
        other.stdin.close()
        other.wait(timeout=60)


def test_make_clean_removes_what_was_built_and_keeps_the_rest(checkout: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "a-venv-elsewhere"
    (elsewhere / "bin").mkdir(parents=True)
    (elsewhere / "bin" / "python").write_text("")
    (checkout / ".venv").unlink()
    (checkout / ".venv").symlink_to(elsewhere)  # clean removes the link, never what it points at
    built = [".make-run/4010.pid", "build/lib/x.py", "dist/x.whl", "t2i_contract.egg-info/PKG-INFO",
             ".pytest_cache/v/x", ".hypothesis/examples/x", "tests/artifacts/page.png", "spec/__pycache__/x.pyc"]
    kept = ["tiny/model/weights.safetensors", "spec/text2img.yaml", "tests/test_x.py"]
    for name in built + kept:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text("x")
    done = make(checkout, "clean")
    assert done.returncode == 0, done.stderr
    assert not (checkout / ".venv").is_symlink() and not (checkout / ".venv").exists()
    assert (elsewhere / "bin" / "python").exists()
    assert [name for name in built if (checkout / name).exists()] == []
    assert [name for name in kept if not (checkout / name).exists()] == []
    assert (checkout / "Makefile").exists() and (checkout / "scripts" / "install.py").exists()
