"""The import rules the README's layout section states, checked on the source."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("spec", "wire", "protocol", "mock_server", "reference_backend", "contract_tests", "drift")
ALLOWED = {
    "spec": set(),
    "wire": {"spec"},
    "protocol": {"spec", "wire"},
    "mock_server": {"spec", "wire", "protocol"},
    "reference_backend": {"spec", "wire", "protocol"},
    "contract_tests": {"spec", "wire"},
    "drift": {"spec", "wire", "contract_tests"},
}
HEAVY = {"torch", "diffusers", "transformers", "peft", "safetensors", "accelerate"}


TOP = "t2i_contract"


def _root(module: str) -> str:
    """The toolkit package a module belongs to (``t2i_contract.spec.x`` -> ``spec``), else its top name."""
    parts = module.split(".")
    return parts[1] if parts[0] == TOP and len(parts) > 1 else parts[0]


def imported_roots(path: Path) -> list[tuple[str, int, bool]]:
    """(package, line, at module level) for every absolute import in a file.

    A toolkit package is named by its folder (``spec``), whether imported as
    ``t2i_contract.spec`` or, wrongly, as a bare ``spec``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(_root(alias.name), node.lineno, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((_root(node.module), node.lineno, id(node) in top_level))
    return found


def violations(package: str, root_dir: Path = ROOT) -> list[str]:
    problems = []
    for path in sorted((root_dir / package).rglob("*.py")):
        for root, line, _ in imported_roots(path):
            if root in PACKAGES and root != package and root not in ALLOWED[package]:
                problems.append(f"{path.relative_to(root_dir)}:{line} imports {root}")
    return problems


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_only_the_layers_below_them(package: str) -> None:
    assert violations(package) == []


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "reference_backend"])
def test_heavy_ml_libraries_stay_inside_the_backend(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        heavy = [f"{root} (line {line})" for root, line, _ in imported_roots(path) if root in HEAVY]
        assert heavy == [], f"{path.relative_to(ROOT)} imports {heavy}"


def test_the_checker_reports_a_forbidden_import(tmp_path: Path) -> None:
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "bad.py").write_text("import os\n\ndef f():\n    from t2i_contract.mock_server import create_app\n")
    (tmp_path / "drift").mkdir()
    (tmp_path / "drift" / "ok.py").write_text("from t2i_contract.contract_tests.generation import valid_bodies\n")
    assert violations("spec", tmp_path) == ["spec/bad.py:4 imports mock_server"]
    assert violations("drift", tmp_path) == []


_NAMES = "|".join(PACKAGES)
_CODE_IMPORT = re.compile(rf"(?:^|[;\n])\s*(?:from ({_NAMES})(?:\.\w+)* import |import ({_NAMES})(?:[.;\s]|$))")


def bare_imports(root_dir: Path = ROOT) -> list[str]:
    """Imports of a toolkit package by its folder name instead of through ``t2i_contract``."""
    problems = []
    for folder in (*PACKAGES, "tests", "benchmarks"):
        for path in sorted((root_dir / folder).rglob("*.py")):
            if path.resolve() == Path(__file__).resolve():
                continue  # this file's strings are the checker's own broken fixtures
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
                problems += [f"{path.relative_to(root_dir)}:{node.lineno} imports {n}"
                             for n in names if n.split(".")[0] in PACKAGES]
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    # Code handed to a subprocess (``python -c "from spec.cli import run"``).
                    problems += [f"{path.relative_to(root_dir)}:{node.lineno} runs code importing {m.group(1) or m.group(2)}"
                                 for m in _CODE_IMPORT.finditer(node.value)]
    return problems


def test_toolkit_packages_are_imported_through_the_one_top_level_name() -> None:
    assert bare_imports() == []


def test_the_checker_reports_a_bare_import(tmp_path: Path) -> None:
    for folder in (*PACKAGES, "tests", "benchmarks"):
        (tmp_path / folder).mkdir()
    (tmp_path / "tests" / "t.py").write_text("import json\nfrom spec import load_spec\nimport t2i_contract.spec\n"
                                             "CODE = 'from drift.cli import run; run()'\n"
                                             "FINE = 'from t2i_contract.drift.cli import run'\n")
    assert bare_imports(tmp_path) == ["tests/t.py:2 imports spec", "tests/t.py:4 runs code importing drift"]
