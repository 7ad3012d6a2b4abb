"""Every command's expected failures, as a user meets them: one line on stderr, the README's exit code, no traceback.

Each case runs ``t2i`` in a process of its own, as the console script does, and fails fast: a bad flag,
a malformed URL, a service that is down (a free loopback port nothing listens on), a port in use, a
missing extra. A missing extra is made honestly: the process starts with the package's entry in
``sys.modules`` set to None, so importing it raises ModuleNotFoundError and ``importlib.util.find_spec``
finds nothing, exactly as when it is not installed. Exit codes: 2 for usage (a bad option or value, a
check that cannot run), 1 for a command that cannot start (README, "Options and exit status").
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    says: str
    """A piece of the one line: the flag, value or remedy it must name."""
    missing: tuple[str, ...] = ()
    """Packages made absent in the command's process."""


DOWN = "{down}"  # a loopback port nothing listens on
TAKEN = "{taken}"  # a loopback port another socket holds
TMP = "{tmp}"  # a folder of the test's own
UNWRITABLE = "{tmp}/a-file/folder"  # under a plain file: no folder can be made there, whoever runs the test

CASES = {
    # the host
    "t2i-unknown-command": Case(("nope",), 2, "No such command 'nope'"),
    # validate
    "validate-bad-flag": Case(("validate", "--nope", "x.json"), 2, "--nope"),
    "validate-no-body": Case(("validate",), 2, "Missing argument 'BODY'"),
    "validate-unreadable-body": Case(("validate", f"{TMP}/absent.json"), 2, "cannot read"),
    "validate-unknown-operation": Case(("validate", "--operation", "upscale", "-"), 2, "model_reload"),
    # contracts
    "contracts-extra-argument": Case(("contracts", "extra"), 2, "unexpected extra argument"),
    # mock
    "mock-bad-value": Case(("mock", "--latency", "fast"), 2, "--latency"),
    "mock-malformed-public-url": Case(("mock", "--public-url", "ftp://x"), 2, "--public-url"),
    "mock-port-in-use": Case(("mock", "--port", TAKEN), 1, "Address already in use"),
    "mock-unknown-contract": Case(("mock", "--port", "0", "--contract", "nosuch"), 2, "--contract"),
    "mock-unwritable-db": Case(("mock", "--port", "0", "--db", f"{UNWRITABLE}/m.sqlite3"), 1, "--db"),
    # test
    "test-no-base-url": Case(("test",), 2, "--base-url"),
    "test-malformed-base-url": Case(("test", "--base-url", "localhost:4010"), 2, "--base-url"),
    "test-unwritable-record": Case(("test", "--base-url", f"http://127.0.0.1:{DOWN}", "--record",
                                    f"{UNWRITABLE}/run.har"), 2, "--record"),
    "test-server-down": Case(("test", "--no-progress", "--base-url", f"http://127.0.0.1:{DOWN}"), 2,
                             "no server answers"),
    # serve
    "serve-bad-flag": Case(("serve", "--nope"), 2, "--nope"),
    "serve-no-models": Case(("serve", "--port", DOWN), 2, "--models"),
    "serve-queue-without-scheme": Case(("serve", "--queue", "localhost:6379", "--data", TMP), 2, "redis://"),
    "serve-queue-down": Case(("serve", "--port", "0", "--queue", f"redis://127.0.0.1:{DOWN}/0", "--data", TMP), 1,
                             "does not answer"),
    "serve-queue-extra-missing": Case(("serve", "--port", "0", "--queue", f"redis://127.0.0.1:{DOWN}/0", "--data",
                                       TMP), 1, "pip install -e '.[queue]'", missing=("redis",)),
    "serve-backend-extra-missing": Case(("serve", "--port", "0", "--models", TMP), 1, "pip install -e '.[backend]'",
                                        missing=("torch",)),
    "serve-port-in-use": Case(("serve", "--port", TAKEN, "--models", TMP), 1, "Address already in use"),
    "serve-unknown-contract": Case(("serve", "--port", "0", "--models", TMP, "--contract", "nosuch"), 2,
                                   "--contract"),
    "serve-unwritable-data": Case(("serve", "--port", "0", "--models", TMP, "--data", UNWRITABLE), 1,
                                  "cannot write into"),
    # the mock's --workers and --threads mean something else there: refused, naming serve's own flag
    "serve-mock-workers": Case(("serve", "--models", TMP, "--workers", "2"), 2,
                               "t2i serve has no --workers (that is the mock's process count); generation threads "
                               "are --generation-threads"),
    "serve-mock-threads": Case(("serve", "--models", TMP, "--threads=2"), 2,
                               "t2i serve has no --threads (that is the mock's request threads per process); torch "
                               "CPU threads are --torch-threads"),
    # worker
    "worker-no-queue": Case(("worker",), 2, "--queue"),
    "worker-queue-without-scheme": Case(("worker", "--queue", "localhost:6379", "--models", TMP, "--data", TMP), 2,
                                        "redis://"),
    "worker-no-data": Case(("worker", "--queue", f"redis://127.0.0.1:{DOWN}/0", "--models", TMP), 2, "--data"),
    "worker-queue-down": Case(("worker", "--queue", f"redis://127.0.0.1:{DOWN}/0", "--models", TMP, "--data", TMP), 1,
                              "does not answer"),
    "worker-queue-extra-missing": Case(("worker", "--queue", f"redis://127.0.0.1:{DOWN}/0", "--models", TMP,
                                        "--data", TMP), 1, "pip install -e '.[queue]'", missing=("redis",)),
    "worker-backend-extra-missing": Case(("worker", "--queue", f"redis://127.0.0.1:{DOWN}/0", "--models", TMP,
                                          "--data", TMP), 1, "pip install -e '.[backend]'", missing=("torch",)),
    "worker-unwritable-data": Case(("worker", "--queue", f"redis://127.0.0.1:{DOWN}/0", "--models", TMP,
                                    "--data", UNWRITABLE), 1, "cannot write into"),
    "worker-mock-workers": Case(("worker", "--workers", "2"), 2, "t2i worker has no --workers"),
    "worker-mock-threads": Case(("worker", "--queue", f"redis://127.0.0.1:{DOWN}/0", "--threads", "1"), 2,
                                "torch CPU threads are --torch-threads"),
    # make-tiny-model
    "make-tiny-model-no-directory": Case(("make-tiny-model",), 2, "Missing argument 'DIRECTORY'"),
    "make-tiny-model-bad-seed": Case(("make-tiny-model", "--seed", "x", TMP), 2, "--seed"),
    "make-tiny-model-unwritable": Case(("make-tiny-model", UNWRITABLE), 1, "cannot write into"),
    "make-tiny-model-backend-extra-missing": Case(("make-tiny-model", f"{TMP}/tiny"), 1, "pip install -e '.[backend]'",
                                                  missing=("torch",)),
    # lint, diff
    "lint-absent-document": Case(("lint", f"{TMP}/absent.yaml"), 2, "absent.yaml"),
    "lint-bad-level": Case(("lint", "--fail-on", "loud"), 2, "--fail-on"),
    "lint-unwritable-output": Case(("lint", "--output", f"sarif={UNWRITABLE}/lint.sarif"), 2, "--output"),
    "lint-malformed-yaml": Case(("lint", f"{TMP}/a-file"), 2, "neither valid YAML nor JSON"),
    "diff-one-document": Case(("diff", "spec/text2img.yaml"), 2, "two documents"),
    # drift, proxy
    "drift-no-base-url": Case(("drift",), 2, "--base-url"),
    "drift-malformed-base-url": Case(("drift", "--base-url", "localhost:4010"), 2, "base_url"),
    "drift-server-down": Case(("drift", "--no-progress", "--samples", "1", "--base-url", f"http://127.0.0.1:{DOWN}"),
                              2, "cannot reach"),
    "proxy-malformed-upstream": Case(("proxy", "--upstream", "localhost:4010"), 2, "upstream"),
    "proxy-port-in-use": Case(("proxy", "--upstream", f"http://127.0.0.1:{DOWN}", "--port", TAKEN), 1,
                              "Address already in use"),
}


def test_every_command_has_failure_cases() -> None:
    """A command added to pyproject's t2i.commands is walked here too."""
    from importlib.metadata import entry_points

    commands = {ep.name for ep in entry_points(group="t2i.commands")}
    walked = {case.args[0] for case in CASES.values()}
    assert commands - walked == set(), f"commands without failure cases: {sorted(commands - walked)}"


@pytest.fixture(scope="module")
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def _run(case: Case, tmp_path: Path, taken: int) -> subprocess.CompletedProcess[str]:
    (tmp_path / "a-file").write_text("openapi: [3.1\n")
    values = {DOWN: str(free_port()), TAKEN: str(taken), TMP: str(tmp_path)}
    args = []
    for arg in case.args:
        for mark, value in values.items():
            arg = arg.replace(mark, value)
        args.append(arg)
    shim = (f"import sys; sys.modules.update(dict.fromkeys({list(case.missing)!r})); sys.argv[0] = 't2i'; "
            "from t2i_contract.spec.cli import run; run()")
    env = {name: value for name, value in os.environ.items() if not name.startswith("T2I_")}
    return subprocess.run([sys.executable, "-c", shim, *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_an_expected_failure_is_one_line_with_the_readme_exit_code(case: Case, tmp_path: Path,
                                                                   taken_port: int) -> None:
    result = _run(case, tmp_path, taken_port)
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert case.says in lines[0], lines[0]
    assert result.returncode == case.code, (result.returncode, lines[0])


def test_a_usage_error_points_at_the_commands_help(tmp_path: Path, taken_port: int) -> None:
    result = _run(CASES["worker-no-queue"], tmp_path, taken_port)
    assert result.stderr.strip().endswith("(see 't2i worker --help')"), result.stderr
