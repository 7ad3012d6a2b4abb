"""``t2i make-tiny-model`` and ``t2i serve`` as commands: a real process on a real port."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from click.testing import CliRunner

from t2i_contract.reference_backend.cli import make_tiny_model_command, serve_command

from tests.support import free_port

from .support import API, decode_png, serve_process, text2img_body

if TYPE_CHECKING:
    from t2i_contract.reference_backend import TinyModel

ROOT = Path(__file__).resolve().parents[2]


def test_make_tiny_model_writes_everything(tmp_path: Path) -> None:
    result = CliRunner().invoke(make_tiny_model_command, [str(tmp_path / "tiny")])
    assert result.exit_code == 0, result.output
    assert "t2i serve --models" in result.output
    assert (tmp_path / "tiny" / "models" / "tiny-sd" / "model_index.json").is_file()
    assert {p.name for p in (tmp_path / "tiny" / "loras").iterdir()} >= {
        "tiny-detail.safetensors", "tiny-kohya.safetensors", "tiny-style.safetensors"}


def test_missing_backend_packages_say_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    for command, args in ((make_tiny_model_command, [str(tmp_path)]), (serve_command, ["--models", str(tmp_path)])):
        result = CliRunner().invoke(command, args)
        assert result.exit_code == 1
        assert "needs peft" in result.output and "pip install -e '.[backend]'" in result.output


def test_serve_refuses_a_cuda_device_that_is_not_there(tiny: TinyModel, tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    result = CliRunner().invoke(serve_command, ["--models", str(tiny.models_dir), "--device", "cuda",
                                                "--data", str(tmp_path), "--port", str(free_port())])
    assert result.exit_code == 1
    assert "torch sees no CUDA device here; use --device cpu" in result.output


def test_serve_without_models_is_a_usage_error() -> None:
    result = CliRunner().invoke(serve_command, [], env={"T2I_SERVE_MODELS": ""})
    assert result.exit_code == 2
    assert "t2i serve needs --models DIR (or T2I_SERVE_MODELS)" in result.output


def test_serve_help_names_the_environment_variables() -> None:
    from t2i_contract.spec.cli import main

    result = CliRunner().invoke(main, ["serve", "--help"], auto_envvar_prefix="T2I")
    for variable in ("T2I_SERVE_MODELS", "T2I_SERVE_PORT", "T2I_SERVE_KEYS", "T2I_SERVE_SYNC_TIMEOUT",
                     "T2I_SERVE_TORCH_THREADS", "T2I_SERVE_GENERATION_THREADS"):
        assert variable in result.output


def test_serve_runs_from_environment_variables_and_stops_cleanly(tiny: TinyModel, tmp_path: Path) -> None:
    """Also: --access-log logs each request over real HTTP, a model's loading is said, and no warning is printed
    (granian's thread count and transformers' torchvision fallback are known and filtered: reference_backend/quiet.py)."""
    with serve_process(models=str(tiny.models_dir), loras=str(tiny.loras_dir), keys="k1,k2",
                       data=str(tmp_path / "data"), access_log="1") as server:
        denied = requests.post(server.url + f"{API}/text2img", json=text2img_body(key="k3"), timeout=10)
        assert denied.status_code == 401
        body = requests.post(server.url + f"{API}/text2img", json=text2img_body(key="k2", lora_model="tiny-kohya"),
                             timeout=120).json()
        assert body["status"] == "success", body
        assert decode_png(requests.get(body["output"][0], timeout=10).content).size == (256, 256)
        image_path = body["output"][0].split(server.url, 1)[1]
        assert requests.get(server.url + "/models", timeout=10).status_code == 200  # the asserted lines are out
    assert server.process.returncode == 0, server.output
    assert "k1" not in server.output and "k2" not in server.output, "keys are never logged"
    assert (tmp_path / "data" / "jobs.sqlite3").is_file()
    for request, status in ((f"POST {API}/text2img", 401), (f"POST {API}/text2img", 200), (f"GET {image_path}", 200)):
        assert f'"{request} HTTP/1.1" {status} ' in server.output, (request, server.output)
    assert "loading model tiny-sd on cpu" in server.output and "model tiny-sd loaded (" in server.output
    assert "warn" not in server.output.lower() and "Traceback" not in server.output, server.output


def test_importing_the_package_and_its_commands_loads_no_ml_library() -> None:
    code = ("import sys, reference_backend, reference_backend.cli, reference_backend.diffusion; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'peft') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_relative_folders_are_read_against_the_working_directory(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative --data once served its images as a 500: send_file read it against the package folder."""
    from t2i_contract.reference_backend import BackendConfig

    monkeypatch.chdir(tmp_path)
    config = BackendConfig(data_dir=Path("data"), models_dir=Path("models"))
    assert config.data_dir == tmp_path / "data" and config.models_dir == tmp_path / "models"
