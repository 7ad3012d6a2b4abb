"""`t2i validate` and `t2i --help`, run as the installed console script."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

T2I = shutil.which("t2i", path=str(Path(sys.executable).parent))


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert T2I, "the t2i console script is not installed in this environment"
    return subprocess.run([T2I, *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_validate_accepts_the_upstream_example(repo_root: Path) -> None:
    result = run("validate", str(repo_root / "examples" / "upstream-example.json"))
    assert result.returncode == 0, result.stderr
    normalised = json.loads(result.stdout)
    assert normalised["width"] == 512 and isinstance(normalised["width"], int)
    assert normalised["safety_checker"] is True
    assert normalised["lora_model"] == ["teddy-jacket-v1-0", "a-simple-china-dress-v6-0"]
    assert normalised["lora_strength"] == [0.45, 0.55]


def test_validate_prints_the_error_body_and_exits_1_for_a_bad_body() -> None:
    result = run("validate", "-", stdin=json.dumps({"key": "k", "model_id": "m", "prompt": "p", "width": 2048}))
    assert result.returncode == 1
    body = json.loads(result.stdout)
    assert body["message"] == "width must be at most 1024, got 2048"
    assert body["errors"][0]["field"] == "width"


def test_validate_reports_non_json_in_the_error_shape() -> None:
    result = run("validate", "-", stdin="not json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["status"] == "error"
    assert "Traceback" not in result.stderr


def test_validate_exits_2_for_a_file_it_cannot_read_as_lint_does(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "absent.json"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: cannot read {tmp_path / 'absent.json'}: No such file or directory" in result.stderr
    assert run("lint", str(tmp_path / "absent.json")).returncode == 2


@pytest.mark.parametrize("command", ["validate", "mock", "test", "serve", "make-tiny-model", "lint", "diff",
                                     "drift", "proxy"])
def test_help_lists_every_subcommand(command: str) -> None:
    result = run("--help")
    assert result.returncode == 0
    assert any(line.split()[:1] == [command] for line in result.stdout.splitlines()), result.stdout


def test_a_subcommand_that_cannot_be_imported_is_reported_not_crashed() -> None:
    from click.testing import CliRunner

    from t2i_contract.spec.cli import PluginGroup, main

    class Broken(PluginGroup):
        def _entry_points(self) -> dict[str, object]:
            class EntryPoint:
                name = "ghost"

                def load(self) -> object:
                    raise ImportError("No module named 'ghost_pkg'")

            return {"ghost": EntryPoint()}

    group = Broken(name="t2i", commands=main.commands)
    runner = CliRunner()
    listing = runner.invoke(group, ["--help"])
    assert listing.exit_code == 0 and "unavailable: ImportError" in listing.output
    invoked = runner.invoke(group, ["ghost", "--anything"])
    assert invoked.exit_code == 1 and "`t2i ghost` is unavailable here" in invoked.output
    assert invoked.exception is None or isinstance(invoked.exception, SystemExit)


@pytest.mark.parametrize(("example", "operation", "flag"), [
    ("upstream-example.json", "text2img", "text2img"),
    ("upstream-img2img.json", "img2img", "img2img"),
    ("upstream-inpaint.json", "inpaint", "inpaint"),
    ("upstream-img2img.json", "img2img", "auto"),
    ("upstream-inpaint.json", "inpaint", "auto"),
], ids=["text2img", "img2img", "inpaint", "img2img-detected", "inpaint-detected"])
def test_validate_accepts_each_vendor_example_with_its_operation(repo_root: Path, example: str, operation: str,
                                                                 flag: str) -> None:
    result = run("validate", "--operation", flag, str(repo_root / "examples" / example))
    assert result.returncode == 0, result.stdout + result.stderr
    normalised = json.loads(result.stdout)
    assert normalised["operation"] == operation
    assert normalised["samples"] == 1 and normalised["num_inference_steps"] == 20  # "31" and "21" capped at 20
    if operation != "text2img":
        assert normalised["init_image"].startswith("https://example.com/images/")
        assert normalised["strength"] == 0.7
        assert normalised["negative_prompt"] is None  # null means absent (D22)
    assert "steps" not in normalised["extra"]  # the alias of D19 is read, not left over


def test_validate_refuses_the_inpaint_example_as_text2img_naming_the_field(repo_root: Path) -> None:
    body = json.loads((repo_root / "examples" / "upstream-inpaint.json").read_text())
    del body["prompt"]
    assert run("validate", "--operation", "inpaint", "-", stdin=json.dumps(body)).returncode == 0
    result = run("validate", "--operation", "text2img", "-", stdin=json.dumps(body))
    assert result.returncode == 1
    assert json.loads(result.stdout)["errors"][0]["field"] == "prompt"


def test_validate_checks_a_model_reload_body() -> None:
    good = run("validate", "--operation", "modelReload", "-", stdin=json.dumps({"key": "k", "model_id": "m"}))
    assert good.returncode == 0, good.stdout
    assert json.loads(good.stdout) == {"operation": "modelReload", "model_id": "m", "key": "k", "extra": {}}
    bad = run("validate", "--operation", "modelReload", "-", stdin=json.dumps({"key": "k"}))
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["errors"][0]["field"] == "model_id"


def test_validate_refuses_an_unknown_operation_as_a_usage_error() -> None:
    result = run("validate", "--operation", "upscale", "-", stdin="{}")
    assert result.returncode == 2
    assert "upscale" in result.stderr
