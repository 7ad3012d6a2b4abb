"""Generated images on disk, named only by numbers, and served only by those names.

An image file is ``<job id>-<index>.png`` in one folder. A name from a URL is
matched against that pattern before anything touches the disk, so no request can
name another path. ``temp`` images expire: the job row carries ``expires_at`` and
:meth:`ImageStore.sweep` deletes the files of expired jobs.
"""
from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["IMAGE_NAME", "ImageStore"]

IMAGE_NAME = re.compile(r"(?P<job>[0-9]{1,18})-(?P<index>[0-9])\.png")


class ImageStore:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder

    @staticmethod
    def name(job_id: int, index: int) -> str:
        return f"{job_id}-{index}.png"

    def save(self, job_id: int, images: list[Image]) -> list[str]:
        names = []
        for index, image in enumerate(images):
            name = self.name(job_id, index)
            tmp = self.folder / (name + ".part")
            image.save(tmp, format="PNG")
            tmp.replace(self.folder / name)
            names.append(name)
        return names

    def path(self, name: str) -> Path | None:
        """The file for a served name, or None when the name is not one of ours or is gone."""
        if not IMAGE_NAME.fullmatch(name):
            return None
        path = self.folder / name
        return path if path.is_file() else None

    def base64(self, name: str) -> str:
        path = self.path(name)
        if path is None:
            raise FileNotFoundError(name)
        return base64.b64encode(path.read_bytes()).decode("ascii")

    def delete(self, names: list[str]) -> None:
        for name in names:
            path = self.path(name)
            if path is not None:
                path.unlink(missing_ok=True)
