"""The distribution installs one top-level import name, and users' own packages never shadow ours.

API projects often keep a ``spec/`` or ``drift/`` package of their own, and PyPI
has distributions named ``spec``, ``drift`` and ``mock-server``. Everything this
toolkit installs lives under ``t2i_contract``; these tests build the wheel and run
``t2i`` and the pytest plugin inside a project that has its own ``spec`` and ``drift``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from t2i_contract.mock_server import MockConfig, create_app
from tests.support import ServerThread
from tests.test_layout import PACKAGES, ROOT

if sys.version_info >= (3, 11):
    import tomllib  # novm: Python 3.10 reads pyproject.toml with tomli, the same parser (dev extra)
else:
    import tomli as tomllib

T2I = Path(sys.executable).with_name("t2i")


def listed_packages() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])


def package_folders(root: Path = ROOT) -> set[str]:
    """Every folder with an ``__init__.py`` under the toolkit's root folders, as an import name."""
    names = {"t2i_contract"}
    for package in PACKAGES:
        for init in (root / package).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                names.add(".".join(("t2i_contract", *init.parent.relative_to(root).parts)))
    return names


def test_every_package_folder_is_listed_in_pyproject() -> None:
    assert package_folders() == listed_packages()


def test_the_folder_check_notices_an_unlisted_subpackage(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "drift" / "newthing").mkdir()
    (tmp_path / "drift" / "newthing" / "__init__.py").write_text("")
    assert "t2i_contract.drift.newthing" in package_folders(tmp_path) - listed_packages()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("t2i_contract-*.whl")
    return built


def test_the_wheel_installs_exactly_one_top_level_import_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"t2i_contract"}
    assert "t2i_contract/spec/text2img.yaml" in names
    assert "t2i_contract/drift/lint/__init__.py" in names


@pytest.fixture()
def user_project(tmp_path: Path) -> Path:
    """A project with packages named like ours; importing either of them is a failure we can see."""
    for name in ("spec", "drift", "mock_server", "contract_tests"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('the user project\\'s own {name} was imported')\n")
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    assert True\n")
    return tmp_path


def _env(project: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(project)}


def test_t2i_runs_inside_a_project_with_its_own_spec_and_drift(user_project: Path) -> None:
    lint = subprocess.run([str(T2I), "lint"], cwd=user_project, env=_env(user_project),
                          capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "no findings" in lint.stdout
    body = user_project / "body.json"
    body.write_text('{"key": "k", "model_id": "m", "prompt": "p", "width": "2048"}')
    validate = subprocess.run([str(T2I), "validate", str(body)], cwd=user_project, env=_env(user_project),
                              capture_output=True, text=True, timeout=120)
    assert validate.returncode == 1, validate.stdout + validate.stderr
    assert "width must be at most 1024" in validate.stdout + validate.stderr
    assert "the user project" not in validate.stdout + validate.stderr


@pytest.mark.slow
def test_the_pytest_plugin_runs_inside_a_project_with_its_own_spec(user_project: Path) -> None:
    with ServerThread(create_app(MockConfig())) as server:
        done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v",
                               "--t2i-base-url", server.url, "--t2i-max-examples", "2", "--t2i-seed", "1",
                               "-k", "defaults or mine"],
                              cwd=user_project, env=_env(user_project), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "t2i_contract[defaults] PASSED" in done.stdout
    assert "test_mine.py::test_mine PASSED" in done.stdout
