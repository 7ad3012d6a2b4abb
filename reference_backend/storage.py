"""Generated images on disk, under names that grant nothing, and served only by those names.

Sample ``n`` of a job is the file ``<token>-<n>.png`` in one folder, where the token
is 128 bits derived from the job id under a secret of the folder's own
(:class:`~t2i_contract.protocol.ownership.ImageNames`): as the hosted API's CDN links,
a name cannot be guessed from a job id, and the job of a name is read back from it
without a lookup table, in whichever process serves it. The secret is the file
``.names-secret`` in the folder (mode 0600), made once by whichever process comes
first; every API process and worker that shares the folder reads the same one.

A name from a URL is matched against the pattern before anything touches the disk,
so no request can name another path. ``temp`` images expire: the job row carries
``expires_at`` and the service's sweep deletes the files of expired jobs; the files of jobs the
store drops to keep within ``--max-store-bytes`` (``jobs.py``) are deleted with them, and
:meth:`ImageStore.size` is what they counted against it.
"""
from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from t2i_contract.protocol.ownership import IMAGE_NAME, ImageNames, new_secret

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["IMAGE_NAME", "SECRET_FILE", "ImageStore"]

SECRET_FILE = ".names-secret"
# names written before images were named by token; still read (base64 output of old jobs), never served
_LEGACY_NAME = re.compile(r"[0-9]{1,18}-[0-9]\.png")


def _folder_secret(folder: Path) -> str:
    """The folder's secret, made atomically (write a private file, then link it in) the first time."""
    path = folder / SECRET_FILE
    if not path.exists():
        draft = folder / f"{SECRET_FILE}.{os.getpid()}.part"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new_secret())
        try:
            os.link(draft, path)  # fails if another process linked its own first: then that one is the secret
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    return path.read_text("ascii").strip()


class ImageStore:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.names = ImageNames(_folder_secret(folder))

    def name(self, job_id: int, index: int) -> str:
        return self.names.name(job_id, index)

    def job_of(self, name: str) -> tuple[int, int] | None:
        """``(job id, index)`` of a served name, or None when it is not a name this folder gives."""
        return self.names.job_of_name(name)

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
        """The file for a stored name, or None when the name is not one of ours or is gone."""
        if not (IMAGE_NAME.fullmatch(name) or _LEGACY_NAME.fullmatch(name)):
            return None
        path = self.folder / name
        return path if path.is_file() else None

    def base64(self, name: str) -> str:
        path = self.path(name)
        if path is None:
            raise FileNotFoundError(name)
        return base64.b64encode(path.read_bytes()).decode("ascii")

    def size(self, names: list[str]) -> int:
        """Bytes the files of ``names`` take on disk (those gone count nothing)."""
        paths = [self.path(name) for name in names]
        return sum(path.stat().st_size for path in paths if path is not None)

    def delete(self, names: list[str]) -> None:
        for name in names:
            path = self.path(name)
            if path is not None:
                path.unlink(missing_ok=True)
