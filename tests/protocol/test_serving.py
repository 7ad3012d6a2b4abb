"""Settings travel to granian's worker processes as JSON and come back as the same dataclass."""
from __future__ import annotations

from pathlib import Path

from t2i_contract.mock_server.config import MockConfig
from t2i_contract.protocol.serving import settings_from_env, settings_to_env
from t2i_contract.reference_backend.config import BackendConfig


def test_backend_settings_come_back_equal_with_paths_and_tuples(tmp_path: Path) -> None:
    config = BackendConfig(models_dir=tmp_path, data_dir=tmp_path / "data", keys=("k1", "k2"), queue="redis://h:1/0",
                           url_allow=("10.0.0.0/8",), port=0)
    back = settings_from_env(BackendConfig, settings_to_env(config))
    assert back == config
    assert isinstance(back.models_dir, Path) and back.keys == ("k1", "k2") and back.url_allow == ("10.0.0.0/8",)


def test_mock_settings_come_back_equal(tmp_path: Path) -> None:
    config = MockConfig(db_path=tmp_path / "m.sqlite3", keys=("k",))
    back = settings_from_env(MockConfig, settings_to_env(config))
    assert back == config and isinstance(back.db_path, Path)
