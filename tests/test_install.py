"""scripts/install.py, what `make run` and `make test` install with: uv with pip's settings, pip when uv fails.

Everything here is offline: the wheels are built on the spot into a folder that a pip
configuration file names (``no-index``, ``find-links``), so a test that passes shows that
uv was handed pip's settings, the way the real install finds the local torch CPU wheel.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT
from tests.test_layout import PACKAGES


def load_install() -> ModuleType:
    spec = importlib.util.spec_from_file_location("t2i_install_script", ROOT / "scripts" / "install.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


install = load_install()


def make_wheel(folder: Path, name: str, files: dict[str, str]) -> Path:
    """A real wheel ``name-1.0-py3-none-any.whl`` holding files (path in the wheel -> text)."""
    info = f"{name}-1.0.dist-info"
    files = files | {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    wheel = folder / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            entry = zipfile.ZipInfo(path)
            entry.external_attr = (0o100755 if ".data/scripts/" in path else 0o100644) << 16  # scripts run
            archive.writestr(entry, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel


DEMO = install.Target(("tinydemo",), "tinydemo, a wheel of this test", 1, 5)


@pytest.fixture()
def offline_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip configured, through a file only, to install from tmp_path/wheels and nothing else; the folder."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "tinydemo", {"tinydemo/__init__.py": "VALUE = 42\n"})
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nno-index = true\nfind-links = {wheels}\n")
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_")) or name == "VIRTUAL_ENV":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("UV_OFFLINE", "1")  # uv never reaches an index, whatever it is handed
    return wheels


def imports_tinydemo(venv: Path) -> bool:
    done = subprocess.run([str(venv / "bin" / "python"), "-c", "import tinydemo; assert tinydemo.VALUE == 42"],
                          capture_output=True)
    return done.returncode == 0


def real_uv() -> str | None:
    """The uv `make test` bootstrapped into this checkout's venv, else one on the PATH."""
    own = Path(sys.executable).with_name("uv")
    return str(own) if own.exists() else shutil.which("uv")


# -- pip's settings become uv's --------------------------------------------------------------

LISTING = """\
:env:.find-links='/opt/wheels'
global.cert='/etc/ssl/certs/ca-certificates.crt'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/somewhere/else'
install.index-url='https://mirror.example/simple'
global.index-url='https://ignored.example/simple'
not a setting
"""


def test_pip_settings_are_read_with_pips_precedence() -> None:
    settings = install.parse_pip_config(LISTING)
    assert settings["find-links"] == "/opt/wheels"  # the environment beats the files
    assert settings["index-url"] == "https://mirror.example/simple"  # [install] beats [global]
    assert settings["extra-index-url"] == "file:///opt/pypi/simple file:///opt/pypi-more/simple"
    assert "not a setting" not in "".join(settings)


def test_uv_is_handed_the_settings_that_choose_wheels() -> None:
    args, _ = install.uv_options(install.parse_pip_config(LISTING))
    pairs = list(zip(args, args[1:]))
    assert ("--find-links", "/opt/wheels") in pairs
    assert ("--index-url", "https://mirror.example/simple") in pairs
    assert ("--extra-index-url", "file:///opt/pypi/simple") in pairs
    assert ("--extra-index-url", "file:///opt/pypi-more/simple") in pairs
    assert ("--index-strategy", "unsafe-best-match") in pairs  # pip's rule across several indexes
    assert ("-c", "/etc/xdg/pip/constraints.txt") in pairs
    assert install.uv_options({}) == ([], {})
    assert install.uv_options({"no-index": "true"})[0] == ["--no-index"]
    assert install.uv_options({"no-index": "false"})[0] == []


@pytest.fixture()
def uv_on_path(offline_pip: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uv = real_uv()
    if uv is None:
        pytest.skip("no uv in this venv or on the PATH: make test bootstraps it into .venv")
    monkeypatch.setenv("PATH", f"{Path(uv).parent}{os.pathsep}/usr/bin:/bin")
    return uv


def test_uv_installs_from_the_wheels_pip_is_configured_with(uv_on_path: str, tmp_path: Path,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    venv = tmp_path / "venv"
    assert install.install(venv, "demo", DEMO) == 0
    err = capfd.readouterr().err
    assert "with uv" in err and "pip instead" not in err and "demo installed in" in err
    assert imports_tinydemo(venv)
    assert not (venv / "bin" / "pip").exists()  # uv did it all: the venv was made without pip


def test_without_pips_settings_uv_finds_nothing_and_pip_takes_over(
        uv_on_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """What the settings are for: uv alone does not read pip's find-links (nor pip's torch CPU wheel)."""
    monkeypatch.setattr(install, "uv_options", lambda settings: ([], {}))
    venv = tmp_path / "venv"
    assert install.install(venv, "demo", DEMO) == 0
    err = capfd.readouterr().err
    assert "uv failed (exit" in err and "installing with pip instead" in err
    assert imports_tinydemo(venv)


def test_without_uv_it_is_bootstrapped_with_pip_and_pip_installs_when_it_fails(
        offline_pip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    """No uv on the PATH: pip installs one into the venv (here a uv that fails), then pip installs instead."""
    make_wheel(offline_pip, "uv", {"uv-1.0.data/scripts/uv": "#!/bin/sh\necho 'uv: broken' >&2\nexit 3\n"})
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert shutil.which("uv") is None
    venv = tmp_path / "venv"
    assert install.install(venv, "demo", DEMO) == 0
    err = capfd.readouterr().err
    assert "bootstrapping uv into the venv with pip" in err
    assert "uv: broken" in err and "uv failed (exit 3); installing with pip instead" in err
    assert "with pip, about 5 s" in err and "demo installed in" in err
    assert (venv / "bin" / "uv").exists() and imports_tinydemo(venv)


def test_when_pip_cannot_get_uv_either_pip_installs(offline_pip: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no uv, and none among the wheels pip may use
    venv = tmp_path / "venv"
    assert install.install(venv, "demo", DEMO) == 0
    err = capfd.readouterr().err
    assert "bootstrapping uv" in err and "could not get uv; installing with pip instead" in err
    assert imports_tinydemo(venv) and not (venv / "bin" / "uv").exists()


def test_pip_alone_when_asked(offline_pip: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    venv = tmp_path / "venv"
    assert install.install(venv, "demo", DEMO, installer="pip") == 0
    err = capfd.readouterr().err
    assert "uv" not in err and "with pip" in err
    assert imports_tinydemo(venv) and not (venv / "bin" / "uv").exists()


def test_a_failed_install_says_so_and_fails(offline_pip: Path, tmp_path: Path) -> None:
    missing = install.Target(("no-such-package-here",), "a package nobody has", 1, 1)
    assert install.install(tmp_path / "venv", "missing", missing, installer="pip") != 0


def test_each_set_has_pip_and_make_test_has_what_the_wheel_build_test_needs() -> None:
    """tests/test_packaging.py runs pip wheel --no-build-isolation in the venv: pip and setuptools>=77 go in."""
    requirements = install.TARGETS["test"].requirements
    assert "pip" in requirements and any(r.startswith("setuptools>=") for r in requirements)
    assert ".[backend,queue,dev]" in requirements and "torch" not in " ".join(install.TARGETS["core"].requirements)
    assert "pip" in install.TARGETS["core"].requirements  # a reader's `pip install` in the venv lands there


# -- the build says nothing of its own ---------------------------------------------------------

def build_log(tree: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(tree / "dist"), str(tree)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def test_building_the_package_gives_no_setuptools_warning_of_ours(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("t2i_contract", *PACKAGES):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tree / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tree / name)
    assert "absent from the `packages` configuration" not in build_log(tree)

    pyproject = (tree / "pyproject.toml").read_text()
    (tree / "pyproject.toml").write_text(pyproject.replace("include-package-data = false", ""))
    shutil.rmtree(tree / "build", ignore_errors=True)
    assert "absent from the `packages` configuration" in build_log(tree)  # what the setting silences
