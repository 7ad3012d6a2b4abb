"""Install t2i-contract into the checkout's virtual environment in seconds: what `make run` and `make test` call.

    python3 scripts/install.py [--venv .venv] core|test

``core`` is what the mock needs (``make run``), ``test`` adds the ``backend`` and ``queue``
extras and the test tools (``make test``). Each says what it installs and about how long it
takes, then how long it took. It needs nothing but Python 3 (standard library only).

**Why uv.** uv (https://docs.astral.sh/uv/) is a well-kept installer made for exactly this job,
a drop-in for ``pip install``: on the project's 2-core machine the core install took 22.4 s
with pip and 2.3 s with uv. It is used from ``.venv/bin/uv`` or the PATH; when there is none it
is bootstrapped into ``.venv`` with pip (about 2 s). If uv cannot be had, or fails, pip
installs instead (about 20 s for ``core``, 2 minutes for ``test``); ``T2I_INSTALLER=pip`` asks
for pip from the start.

**Bytecode for the test install.** uv, unlike pip, does not compile what it installs, and Python
then compiles each module on its first import and writes the ``.pyc`` beside it, unless
``PYTHONDONTWRITEBYTECODE`` is set, as it is on the project's machines and CI: there every
process compiled torch, diffusers and transformers again, 10.2 s to import them against 4.5 s
from bytecode, in each of the dozens of servers and workers the suite starts (a fresh clone's
``make test`` took 13 min 12 s). So ``test`` installs with ``--compile-bytecode`` (pip compiles
anyway). ``core`` does not: the mock imports in a fraction of a second either way, and ``make
run`` answers sooner without it.

**How torch's wheel is found.** The ``backend`` extra pins ``torch==2.13.0``. pip finds it through
its configuration (``pip config list``): on the project's machines a ``find-links`` folder holds
the CPU wheel ``torch-2.13.0+cpu``, which ``==2.13.0`` matches. uv does not read pip's
configuration, and an unconfigured uv resolves the same pin to PyPI's CUDA build (several GB of
``nvidia-*`` packages). So this script reads pip's settings and hands the ones that choose
wheels to uv: ``find-links``, ``index-url``, ``extra-index-url`` (with pip's rule: the best
version across all indexes), ``no-index``, ``constraint``, and ``cert`` (as ``SSL_CERT_FILE``).
Both installers then see the same wheels.
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "install:"
TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class Target:
    requirements: tuple[str, ...]
    what: str
    uv_seconds: int   # about how long uv takes here (2 cores, uv's cache cold), bootstrapping included
    pip_seconds: int  # the same with pip
    compile: bool = False  # write every module's bytecode at install (see below)


def build_requirements(pyproject: Path = ROOT / "pyproject.toml") -> tuple[str, ...]:
    """``[build-system] requires``: tests/test_packaging.py builds the wheel in the venv without isolation."""
    block = re.search(r"^\[build-system\][^\[]*?^requires\s*=\s*\[(.*?)\]", pyproject.read_text("utf-8"),
                      re.MULTILINE | re.DOTALL)
    return tuple(re.findall(r"\"([^\"]+)\"", block.group(1))) if block else ()


TARGETS = {
    # pip too: the venv is made without it (uv needs none), and a reader's `pip install` must land in it
    "core": Target(("-e", ".", "pip"), "what the mock needs (Flask, granian, jsonschema, schemathesis, ...; "
                   "no torch) and pip", 5, 20),
    "test": Target(("-e", ".[backend,queue,dev]", "pip", *build_requirements()),
                   "the backend extra (torch 2.13, diffusers, transformers), the queue extra "
                   "(dramatiq, redis) and the test tools (pytest, selenium, pip)", 25, 120, compile=True),
}


def say(text: str) -> None:
    print(f"{PREFIX} {text}", file=sys.stderr, flush=True)


# -- pip's settings, for uv -----------------------------------------------------------------

def parse_pip_config(listing: str) -> dict[str, str]:
    """``pip config list`` output as {option: value}, with pip's precedence: environment > [install] > [global]."""
    rank = {"global": 0, "install": 1, ":env:": 2}
    found: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines():
        name, equals, raw = line.partition("=")
        section, _, option = name.rpartition(".")
        if not equals or section not in rank:
            continue
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            continue
        if option not in found or rank[section] >= found[option][0]:
            found[option] = (rank[section], str(value))
    return {option: value for option, (_, value) in found.items()}


class PipSettings:
    """pip's configuration (files and PIP_* variables) as ``python -m pip`` sees it, read in the background."""

    def __init__(self, python: str) -> None:
        try:
            self.process: subprocess.Popen[str] | None = subprocess.Popen(
                [python, "-m", "pip", "config", "list"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError:
            self.process = None

    def result(self) -> dict[str, str]:
        """The settings; {} where this Python has no pip."""
        if self.process is None:
            return {}
        try:
            listing, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            return {}
        return parse_pip_config(listing) if self.process.returncode == 0 else {}


def uv_options(settings: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """uv's arguments and environment for the pip settings that decide which wheels install."""
    args: list[str] = []
    if settings.get("index-url"):
        args += ["--index-url", settings["index-url"].split()[0]]
    extra = settings.get("extra-index-url", "").split()
    for url in extra:
        args += ["--extra-index-url", url]
    if extra:  # pip takes the best version across every index; uv's default stops at the first that has it
        args += ["--index-strategy", "unsafe-best-match"]
    for place in settings.get("find-links", "").split():
        args += ["--find-links", place]
    for constraints in settings.get("constraint", "").split():
        args += ["-c", constraints]
    if settings.get("no-index", "").lower() in TRUE:
        args.append("--no-index")
    env: dict[str, str] = {}
    cert = settings.get("cert")
    if cert and Path(cert).is_file() and "SSL_CERT_FILE" not in os.environ:
        env["SSL_CERT_FILE"] = cert
    return args, env


# -- the installers -------------------------------------------------------------------------

def run(argv: Sequence[str], env: dict[str, str] | None = None, quiet: bool = False,
        show_failure: bool = True) -> int:
    """The exit status of argv run in the checkout; quiet keeps its output unless it fails."""
    try:
        done = subprocess.run(list(argv), cwd=ROOT, env=env, capture_output=quiet, text=True)
    except OSError as error:
        say(f"cannot run {argv[0]}: {error}")
        return 127
    if quiet and show_failure and done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
    return done.returncode


def has_pip(venv: Path) -> bool:
    return any(venv.glob("lib/python*/site-packages/pip/__init__.py"))


def find_uv(venv: Path) -> str | None:
    """The venv's uv (bootstrapped earlier), else one on the PATH."""
    own = venv / "bin" / "uv"
    return str(own) if own.exists() else shutil.which("uv")


def ensure_pip(venv: Path) -> int:
    """pip in the venv (made ``--without-pip``): from the wheel every Python carries, offline."""
    if has_pip(venv):
        return 0
    return run([str(venv / "bin" / "python"), "-m", "ensurepip", "--default-pip"], quiet=True)


def bootstrap_uv(venv: Path) -> str | None:
    """Install uv into the venv with pip: this Python's pip (>= 22.3 has --python), else the venv's own."""
    python = str(venv / "bin" / "python")
    uv = venv / "bin" / "uv"
    say("bootstrapping uv into the venv with pip (about 2 s)")
    pip_uv = ["install", "--quiet", "--no-deps", "--no-compile", "uv"]
    if not has_pip(venv) and run([sys.executable, "-m", "pip", "--python", python, *pip_uv], quiet=True,
                                 show_failure=False) == 0 and uv.exists():
        return str(uv)
    if ensure_pip(venv) == 0 and run([python, "-m", "pip", *pip_uv], quiet=True) == 0 and uv.exists():
        return str(uv)
    return None


def uv_install(uv: str, venv: Path, target: Target, settings: dict[str, str]) -> int:
    args, env = uv_options(settings)
    compile_bytecode = ["--compile-bytecode"] if target.compile else []
    return run([uv, "pip", "install", "--python", str(venv / "bin" / "python"), *compile_bytecode, *args,
                *target.requirements], env=os.environ | env)


def pip_install(venv: Path, target: Target) -> int:
    status = ensure_pip(venv)
    if status != 0:
        return status
    return run([str(venv / "bin" / "python"), "-m", "pip", "install", *target.requirements])


def install(venv: Path, name: str, target: Target, installer: str = "uv") -> int:
    """Create the venv when missing and install target into it: uv, else pip. The exit status."""
    started = time.monotonic()
    if not (venv / "bin" / "python").exists():
        status = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
        if status != 0:
            say(f"could not create {venv} with {sys.executable} -m venv")
            return status
    status = None
    if installer != "pip":
        reading = PipSettings(sys.executable)  # read while uv is found or bootstrapped
        uv = find_uv(venv) or bootstrap_uv(venv)
        settings = reading.result()
        if uv is None:
            say("could not get uv; installing with pip instead")
        else:
            say(f"installing {target.what} into {venv} with uv, about {target.uv_seconds} s")
            status = uv_install(uv, venv, target, settings)
            if status != 0:
                say(f"uv failed (exit {status}); installing with pip instead")
    if status != 0:
        say(f"installing {target.what} into {venv} with pip, about {target.pip_seconds} s")
        status = pip_install(venv, target)
    if status == 0:
        say(f"{name} installed in {time.monotonic() - started:.1f} s")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="the virtual environment (made if missing)")
    parser.add_argument("target", choices=sorted(TARGETS), help="core: what the mock needs; test: and the extras")
    args = parser.parse_args(argv)
    installer = os.environ.get("T2I_INSTALLER", "uv")
    if installer not in ("uv", "pip"):
        parser.error(f"T2I_INSTALLER={installer!r}: use uv (the default, pip if uv fails) or pip")
    return install(args.venv.absolute(), args.target, TARGETS[args.target], installer)


if __name__ == "__main__":
    sys.exit(main())
