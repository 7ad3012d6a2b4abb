"""``t2i worker`` and ``t2i serve --queue`` as commands: what they refuse before starting anything."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from click.testing import CliRunner

from t2i_contract.reference_backend.cli import serve_command
from t2i_contract.reference_backend.distributed.cli import worker_command
from t2i_contract.reference_backend.distributed.config import WorkerSettings
from tests.reference_backend.support import ROOT
from tests.support import free_port

if TYPE_CHECKING:
    from .cluster import RedisServer


def test_worker_without_queue_models_or_data_is_a_usage_error_naming_each(tmp_path: Path) -> None:
    env = {"T2I_WORKER_QUEUE": "", "T2I_WORKER_MODELS": "", "T2I_WORKER_DATA": ""}
    result = CliRunner().invoke(worker_command, [], env=env)
    assert result.exit_code == 2 and "t2i worker needs --queue" in result.output
    result = CliRunner().invoke(worker_command, ["--queue", "redis://127.0.0.1:1/0"], env=env)
    assert result.exit_code == 2 and "t2i worker needs --models DIR (or T2I_WORKER_MODELS)" in result.output
    result = CliRunner().invoke(worker_command, ["--queue", "redis://127.0.0.1:1/0", "--models", str(tmp_path)],
                                env=env)
    assert result.exit_code == 2 and "t2i worker needs --data DIR (or T2I_WORKER_DATA)" in result.output


def test_serve_with_a_queue_needs_a_shared_data_folder_and_a_queue_that_answers(tmp_path: Path) -> None:
    port = str(free_port())  # not the default 8000, which another test process may be using
    result = CliRunner().invoke(serve_command, ["--queue", "redis://127.0.0.1:1/0", "--port", port],
                                env={"T2I_SERVE_DATA": ""})
    assert result.exit_code == 2 and "t2i serve --queue needs --data DIR" in result.output
    result = CliRunner().invoke(serve_command, ["--queue", "redis://127.0.0.1:1/0", "--data", str(tmp_path),
                                                "--port", port])
    assert result.exit_code == 1 and "--queue redis://127.0.0.1:1/0 does not answer" in result.output


def test_worker_settings_take_the_backend_settings_they_share_with_serve(tmp_path: Path) -> None:
    settings = WorkerSettings(queue="redis://h:1/0", models_dir=tmp_path, data_dir=tmp_path, max_loaded_models=1,
                              webhook_attempts=5)
    config = settings.backend_config()
    assert config.queue == "redis://h:1/0" and config.models_dir == tmp_path and config.max_loaded_models == 1
    assert config.webhook_attempts == 5 and settings.name  # HOST-PID when not given


def test_an_api_process_imports_no_ml_library(redis_server: RedisServer, tmp_path: Path) -> None:
    code = ("import sys; from t2i_contract.reference_backend import BackendConfig, create_app; "
            f"app = create_app(BackendConfig(queue={redis_server.url!r}, data_dir={str(tmp_path)!r})); "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'peft') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
