"""The image folder (reference_backend/storage.py): names from the folder's secret, shared by every process."""
from __future__ import annotations

from pathlib import Path

from t2i_contract.reference_backend.storage import SECRET_FILE, ImageStore


def test_image_stores_on_one_folder_share_its_secret(tmp_path: Path) -> None:
    first, second = ImageStore(tmp_path / "images"), ImageStore(tmp_path / "images")
    assert first.name(7, 0) == second.name(7, 0)
    assert (tmp_path / "images" / SECRET_FILE).stat().st_mode & 0o077 == 0
    assert first.path(SECRET_FILE) is None, "the secret is never a servable name"
    assert ImageStore(tmp_path / "other").name(7, 0) != first.name(7, 0)
