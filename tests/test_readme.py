"""Every shell command of README.md, run as a reader would run it; one that fails fails the suite.

``tests/readme_commands.py`` finds the commands (```sh blocks, and the ``run:`` steps of
the ```yaml CI recipes); each is one test, run in README order with bash in a fresh
clone of this repository (``git clone --shared``, so ``origin/main`` exists as after
``actions/checkout`` with ``fetch-depth: 0``), whose ``.venv`` is this checkout's
(``t2i`` is on PATH as after ``. .venv/bin/activate``; the clone's pyproject.toml is
dated 1970 so ``make run`` reinstalls nothing). What the test changes, and why:

- **Ports.** The README's ports are rewritten to free ones: a command that reaches
  ``127.0.0.1:4010`` reaches a ``t2i mock`` this test started on a free port, and
  ``127.0.0.1:8000`` a ``t2i serve`` on the tiny models (``t2i make-tiny-model``),
  both started on first use. A server command (``t2i mock``, ``t2i serve``, ``t2i
  proxy``, ``make run``) listens on a new free port (``--port N``, ``PORT=N`` and the
  ``T2I_<COMMAND>_PORT`` variable are rewritten or set), and passes once it answers
  HTTP; run in the background (``&``), it serves the rest of its block, as it would in
  a shell or a CI job; otherwise it is stopped at once.
- **Seeds.** ``t2i test`` without ``--seed`` draws one at random and prints it. Here
  ``T2I_TEST_SEED`` pins it (``tests.conftest.CI_SUITE_SEED``, on every run, not only
  under CI), so the README's commands do the same thing
  on every run: a test that passes or fails by the draw is a flaky test. Breadth over
  inputs belongs to tests that name their inputs, such as
  ``tests/reference_backend/test_schedulers_from_image.py`` (every scheduler on every
  path that starts from an image, which a random draw once caught failing).
- **curl** gets ``--fail-with-body``, so an HTTP error is a failing command. A command
  must exit 0, or N where the README marks it ``# exits N: <why>``.
- **CI steps** run as GitHub runs them (``bash -eo pipefail``) with the step's ``env``;
  ``${{ secrets.NAME }}`` become test values (``STAGING_URL`` is the test's mock),
  ``if:`` conditions are taken as true, and ``uses:`` steps are actions, not commands.

A command marked ``# not run: <why>`` is skipped with that reason (pytest's ``-ra``
summary lists them); nothing else is ever skipped. Commands depend on earlier ones
(``t2i serve ./tiny`` on ``t2i make-tiny-model ./tiny``): select them all, not one.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.conftest import CI_SUITE_SEED, ROOT
from tests.leaks import SESSION_MARK
from tests.readme_commands import Command, MarkerError, extract
from tests.support import free_port, wait_for

COMMANDS = extract((ROOT / "README.md").read_text("utf-8"))
VENV_BIN = ROOT / ".venv" / "bin"
COMMAND_TIMEOUT = 600.0
SERVER_DEADLINE = 300.0  # generous: a server on two shared cores, loading models
SECRETS = {"T2I_KEY": "readme-test-key-0123", "STAGING_API_KEY": "readme-test-key-0123"}
SERVER = re.compile(r"(?:^|[\s;&|(])(?:\S*/)?(t2i\s+(mock|serve|proxy)|make\s+run)\b")
DEFAULT_LISTEN = {"mock": 4010, "serve": 8000, "proxy": 4011, "run": 4010}
PORT_VARIABLES = ("T2I_MOCK_PORT", "T2I_SERVE_PORT", "T2I_PROXY_PORT")


def _code(text: str) -> str:
    """The command without its trailing comments (where markers and notes live)."""
    return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())


def server_kind(command: Command) -> str | None:
    """mock, serve, proxy or run when the command starts a server, else None."""
    code = _code(command.text)
    found = SERVER.search(code)
    if found is None or "--help" in code:
        return None
    return found.group(2) or "run"


class Harness:
    """The clone, the servers this test starts, and the background servers of the current block."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clone = root / "clone"
        subprocess.run(["git", "clone", "--quiet", "--shared", str(ROOT), str(self.clone)], check=True)
        (self.clone / ".venv").symlink_to(ROOT / ".venv")
        os.utime(self.clone / "pyproject.toml", (0, 0))  # older than .venv's stamps: make installs nothing
        # the session's mark stays (tests/leaks.py: whatever a README command leaves running is found)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("T2I_") or k == SESSION_MARK}
        self.env["T2I_TEST_SEED"] = CI_SUITE_SEED
        self.env["PATH"] = f"{VENV_BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["VIRTUAL_ENV"] = str(ROOT / ".venv")
        self.shared: dict[int, int] = {}          # README port -> port of a server this test started
        self.block: int | None = None
        self.block_ports: dict[int, int] = {}     # README port -> port of a background server of this block
        self.processes: list[subprocess.Popen[bytes]] = []
        self.block_processes: list[subprocess.Popen[bytes]] = []

    # -- servers ------------------------------------------------------------------------
    def _start(self, argv_or_text: list[str] | str, port: int, env: dict[str, str], name: str,
               ) -> subprocess.Popen[bytes]:
        argv = ["bash", "-c", argv_or_text] if isinstance(argv_or_text, str) else argv_or_text
        with open(self.root / f"{name}-{port}.log", "wb") as log:  # the server keeps its own copy of the fd
            process = subprocess.Popen(argv, cwd=self.clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        def answering() -> bool:
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode} before answering on port {port}:\n"
                            f"{self._log(name, port)}")
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=5)
            except requests.ConnectionError:
                return False
            return True

        try:
            wait_for(answering, timeout=SERVER_DEADLINE, interval=0.2)  # polling for the port: nothing to wait on
        except AssertionError:
            self._stop(process)
            pytest.fail(f"{name} did not answer on port {port} in {SERVER_DEADLINE:.0f} s:\n{self._log(name, port)}")
        return process

    def _log(self, name: str, port: int) -> str:
        return (self.root / f"{name}-{port}.log").read_text("utf-8", "replace")[-4000:]

    @staticmethod
    def _stop(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the session this test started for it
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def shared_url(self, readme_port: int) -> str | None:
        """The test's own server for a README port (4010: a mock, 8000: a backend), started on first use."""
        if readme_port not in self.shared:
            port = free_port()
            if readme_port == 4010:
                argv = [str(VENV_BIN / "t2i"), "mock", "--port", str(port)]
            elif readme_port == 8000:  # t2i serve as the README starts it, on models of its own
                tiny = self.root / "tiny"
                subprocess.run([str(VENV_BIN / "t2i"), "make-tiny-model", str(tiny)], check=True,
                               capture_output=True, env=self.env)
                serve = next(c for c in COMMANDS if server_kind(c) == "serve")
                code = _code(serve.text).rstrip().rstrip("&").replace("./tiny/", f"{tiny}/")
                argv = self.rewrite(code, listen=port)
            else:
                return None
            self.processes.append(self._start(argv, port, self.env, f"shared-{readme_port}"))
            self.shared[readme_port] = port
        return f"http://127.0.0.1:{self.shared[readme_port]}"

    def enter(self, block: int) -> None:
        """A new README block: the background servers of the last one stop."""
        if block != self.block:
            for process in self.block_processes:
                self._stop(process)
            self.block, self.block_ports, self.block_processes = block, {}, []

    def close(self) -> None:
        self.enter(-1)
        for process in self.processes:
            self._stop(process)

    # -- commands -----------------------------------------------------------------------
    def rewrite(self, text: str, listen: int | None = None) -> str:
        if listen is not None:
            text = re.sub(r"(--port[ =])\d+", rf"\g<1>{listen}", text)
            text = re.sub(r"(PORT=)\d+", rf"\g<1>{listen}", text)  # PORT=, T2I_MOCK_PORT=, ...
        for readme_port in sorted({int(p) for p in re.findall(r"(?:127\.0\.0\.1|localhost):(\d+)", text)}):
            actual = self.block_ports.get(readme_port)
            if actual is None:
                url = self.shared_url(readme_port)
                actual = int(url.rsplit(":", 1)[1]) if url else readme_port
            text = re.sub(rf"(127\.0\.0\.1|localhost):{readme_port}\b", f"127.0.0.1:{actual}", text)
        return re.sub(r"\bcurl\s", "curl --fail-with-body ", text)

    def command_env(self, command: Command) -> dict[str, str]:
        env = dict(self.env)
        for name, value in command.env.items():
            def secret(found: re.Match[str]) -> str:
                key = found.group(1)
                if key == "STAGING_URL":
                    return self.shared_url(4010) or ""
                assert key in SECRETS, f"README line {command.line}: add secrets.{key} to SECRETS in {__name__}"
                return SECRETS[key]

            env[name] = re.sub(r"\$\{\{\s*secrets\.(\w+)\s*\}\}", secret, value)
        return env

    def serve(self, command: Command, kind: str) -> None:
        code = _code(command.text)
        found = re.search(r"(?:--port[ =]|PORT=)(\d+)", code)
        readme_port = int(found.group(1)) if found else DEFAULT_LISTEN[kind]
        port = free_port()
        env = self.command_env(command) | {name: str(port) for name in PORT_VARIABLES}
        background = code.rstrip().endswith("&")
        text = self.rewrite(code.rstrip().rstrip("&"), listen=port)
        process = self._start(text, port, env, f"readme-L{command.line}")
        if background:
            self.block_ports[readme_port] = port
            self.block_processes.append(process)
        else:
            self._stop(process)

    def run(self, command: Command) -> subprocess.CompletedProcess[str]:
        shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"] if command.origin == "yaml" else ["bash", "-c"]
        text = self.rewrite(command.text)
        process = subprocess.Popen([*shell, text], cwd=self.clone, env=self.command_env(command), text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # and everything it started
            stdout, stderr = process.communicate()
            pytest.fail(f"README line {command.line} ran past {COMMAND_TIMEOUT:.0f} s:\n$ {text}\n{stderr[-3000:]}")
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # nothing it left in the background outlives it
            except ProcessLookupError:
                pass
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        if done.returncode != command.expected_status:
            pytest.fail(f"README line {command.line} exited with {done.returncode}, not "
                        f"{command.expected_status}:\n$ {text}\n"
                        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
        return done


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    made = Harness(tmp_path_factory.mktemp("readme"))
    try:
        yield made
    finally:
        made.close()


@pytest.mark.parametrize("command", COMMANDS, ids=[command.id for command in COMMANDS])
@pytest.mark.slow
def test_readme_command(command: Command, harness: Harness) -> None:
    harness.enter(command.block)
    if command.skip is not None:
        pytest.skip(f"README line {command.line}: not run: {command.skip}")
    kind = server_kind(command)
    if kind is not None:
        harness.serve(command, kind)
    else:
        harness.run(command)


# -- the harness can fail ------------------------------------------------------------------

SAMPLE = """
```sh
t2i validate a.json   # checks it
# {"status": "success"}
curl -s http://127.0.0.1:4010/x -d '{
  "a": 1}'
t2i test --base-url http://127.0.0.1:4010 \\
    --seed 1
make test   # not run: runs this very suite
```

```yaml
steps:
  - uses: actions/checkout@v4
  - name: Lint
    run: t2i lint        # not run: needs the remote
  - run: |
      echo one
      echo two
    env: {K: "${{ secrets.T2I_KEY }}"}
```
"""


def test_the_extractor_finds_commands_continuations_markers_and_steps() -> None:
    found = extract(SAMPLE)
    assert [c.text.split()[0] for c in found] == ["t2i", "curl", "t2i", "make", "t2i", "echo"]
    assert found[1].text.endswith('"a": 1}\'') and found[2].text.endswith("--seed 1")
    assert [c.skip for c in found] == [None, None, None, "runs this very suite", "needs the remote", None]
    assert found[5].origin == "yaml" and found[5].env == {"K": "${{ secrets.T2I_KEY }}"}
    assert found[0].block == found[3].block != found[4].block
    assert [c.expected_status for c in found] == [0, 0, 0, 0, 0, 0]
    assert extract("```sh\nt2i lint page.md   # exits 1: it contradicts itself\n```")[0].expected_status == 1


def test_a_marker_without_a_reason_is_an_error() -> None:
    with pytest.raises(MarkerError, match="must say why"):
        extract("```sh\nmake test   # not run\n```\n")


def test_a_failing_command_fails_and_a_dead_server_fails(harness: Harness) -> None:
    with pytest.raises(pytest.fail.Exception, match="exited with 3"):
        harness.run(Command("exit 3", 1, "sh", 0))
    with pytest.raises(pytest.fail.Exception, match="exited with 0, not 1"):
        harness.run(Command("true   # exits 1: it should have failed", 1, "sh", 0))
    harness.run(Command("exit 1   # exits 1: as marked", 1, "sh", 0))
    with pytest.raises(pytest.fail.Exception, match="exited with 1"):
        harness.run(Command("false | true", 1, "yaml", 0))  # pipefail, as GitHub runs a step
    with pytest.raises(pytest.fail.Exception, match="before answering"):
        harness.serve(Command("t2i mock --port 4010 --workers 0", 1, "sh", 0), "mock")
    assert server_kind(Command("t2i mock --help", 1, "sh", 0)) is None
    assert server_kind(Command(".venv/bin/t2i serve --models m", 1, "sh", 0)) == "serve"


@pytest.mark.slow
def test_make_run_with_port_serves_the_mock_there(harness: Harness) -> None:
    """``make run PORT=N`` (the README names it in prose): the harness rewrites N and waits for an answer."""
    assert "make run PORT=" in (ROOT / "README.md").read_text("utf-8"), "the README no longer shows make run PORT="
    harness.serve(Command("make run PORT=8080", 1, "sh", -2), "run")
