"""Generated images in an S3 (or S3-compatible) bucket: processes of the distributed mode share no folder.

``--images s3://BUCKET/PREFIX`` (with ``--images-endpoint URL`` for MinIO, Ceph,
moto, ...) makes :func:`image_store` return an :class:`ObjectImageStore` instead
of the folder :class:`~reference_backend.storage.ImageStore`. It answers the same
calls: a worker's ``save`` puts the PNGs in the bucket straight from memory; an
API process's ``path`` (the image route) and ``base64`` read them back, through a
small cache in its own scratch folder (``--data``); the sweep's ``delete`` removes
expired temp images from the bucket. Image names are the same unguessable names
as the folder's, under a secret kept in Redis (``<ns>:names-secret``), made once by
whichever process comes first. boto3 (``pip install 't2i-contract[queue]'``) is the
client; it reads credentials as it always does (``AWS_ACCESS_KEY_ID``, ...).
"""
from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from t2i_contract.protocol.ownership import IMAGE_NAME, ImageNames, new_secret

from ..errors import ConfigError
from ..storage import ImageStore

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["SCRATCH_FILES", "ObjectImageStore", "image_store", "parse_images_url"]

SCRATCH_FILES = 256
"""Images an API process keeps in its scratch folder after serving them; the oldest go first."""


def parse_images_url(url: str) -> tuple[str, str]:
    """``s3://BUCKET/PREFIX`` as (bucket, prefix ending in ``/`` or empty); a ConfigError naming the flag else."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"--images must be s3://BUCKET/PREFIX (an S3 or S3-compatible bucket), got {url!r}",
                          field="images", value=url)
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


class ObjectImageStore:
    """The folder ImageStore's calls, on a bucket; ``scratch`` caches what this process has read."""

    def __init__(self, url: str, secret: str, scratch: Path, *, endpoint: str | None = None,
                 client: Any = None) -> None:
        self.bucket, self.prefix = parse_images_url(url)
        self.url = url
        if client is None:
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint)
        self.client = client
        self.names = ImageNames(secret)
        scratch.mkdir(parents=True, exist_ok=True)
        self.scratch = scratch

    def name(self, job_id: int, index: int) -> str:
        return self.names.name(job_id, index)

    def job_of(self, name: str) -> tuple[int, int] | None:
        return self.names.job_of_name(name)

    def save(self, job_id: int, images: list[Image]) -> list[str]:
        names = []
        for index, image in enumerate(images):
            name = self.name(job_id, index)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + name, Body=buffer.getvalue(),
                                   ContentType="image/png")
            names.append(name)
        return names

    def _read(self, name: str) -> bytes | None:
        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)["Body"].read())
        except self.client.exceptions.NoSuchKey:
            return None

    def path(self, name: str) -> Path | None:
        """A local copy of a stored image (fetched into the scratch folder once), or None when it is not ours."""
        if not IMAGE_NAME.fullmatch(name):
            return None
        local = self.scratch / name
        if local.is_file():
            return local
        data = self._read(name)
        if data is None:
            return None
        draft = self.scratch / f"{name}.{os.getpid()}.part"
        draft.write_bytes(data)
        draft.replace(local)
        self._trim()
        return local

    def _trim(self) -> None:
        copies = sorted(self.scratch.glob("*.png"), key=lambda p: p.stat().st_mtime)
        for old in copies[:max(0, len(copies) - SCRATCH_FILES)]:
            old.unlink(missing_ok=True)

    def base64(self, name: str) -> str:
        path = self.path(name)
        if path is None:
            raise FileNotFoundError(name)
        return base64.b64encode(path.read_bytes()).decode("ascii")

    def size(self, names: list[str]) -> int:
        """Bytes the objects of ``names`` take in the bucket (those gone count nothing)."""
        total = 0
        for name in names:
            if IMAGE_NAME.fullmatch(name):
                try:
                    total += int(self.client.head_object(Bucket=self.bucket, Key=self.prefix + name)["ContentLength"])
                except self.client.exceptions.ClientError:
                    pass
        return total

    def delete(self, names: list[str]) -> None:
        ours = [name for name in names if IMAGE_NAME.fullmatch(name)]
        if ours:
            self.client.delete_objects(Bucket=self.bucket,
                                       Delete={"Objects": [{"Key": self.prefix + n} for n in ours], "Quiet": True})
        for name in ours:
            (self.scratch / name).unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"ObjectImageStore({self.url!r})"


def image_store(images: str | None, endpoint: str | None, data_dir: Path, redis_client: Any,
                namespace: str) -> ImageStore | ObjectImageStore:
    """The images of a distributed process: the bucket of ``--images`` (``data_dir`` its scratch), or else the
    folder ``data_dir/images`` that every process shares."""
    if not images:
        return ImageStore(data_dir.resolve() / "images")
    key = f"{namespace}:names-secret"
    redis_client.set(key, new_secret(), nx=True)
    secret = redis_client.get(key)
    return ObjectImageStore(images, secret if isinstance(secret, str) else secret.decode(), data_dir / "scratch",
                            endpoint=endpoint)
