"""Who may see a job, and names that grant nothing: one implementation for every server.

- :class:`KeyHasher` turns an API key into the digest a store keeps beside a job:
  HMAC-SHA256 under a secret of the store's own (:func:`new_secret`, made once per
  store and kept in it), so a copied store does not give away which key made
  which job, and a digest is useless against any other store.
- :meth:`KeyHasher.owns` is the fetch rule: with keys configured, a job belongs to
  the key that made it; any other key, valid or not, gets the same answer as an
  unknown id. Without keys every caller is anonymous and sees every job.
- :func:`image_token` names a job's images: 128 random bits (32 hex characters),
  as the hosted API's CDN links are, so knowing or guessing a job id grants
  nothing. Sample ``n`` is the file :func:`image_name` ``<token>-<n>.png`` on both
  servers; :func:`parse_image_name` checks a served name against that pattern
  before anything is looked up.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = ["IMAGE_NAME", "SECRET_BYTES", "TOKEN_BYTES", "KeyHasher", "image_name", "image_token", "new_secret",
           "parse_image_name"]

TOKEN_BYTES = 16
"""Random bytes in an image token: 128 bits."""
SECRET_BYTES = 32
IMAGE_NAME = re.compile(r"(?P<token>[0-9a-f]{%d})-(?P<index>[0-9]{1,3})\.png" % (2 * TOKEN_BYTES))


def image_token() -> str:
    """A fresh, unguessable name for a job's images (lower-case hex)."""
    return secrets.token_hex(TOKEN_BYTES)


def image_name(token: str, index: int) -> str:
    """The file name sample ``index`` of a job is served under."""
    return f"{token}-{index}.png"


def parse_image_name(name: str) -> tuple[str, int] | None:
    """``(token, index)`` of a served name, or None when it is not one of ours."""
    match = IMAGE_NAME.fullmatch(name)
    return (match["token"], int(match["index"])) if match else None


def new_secret() -> str:
    """A fresh per-store secret for :class:`KeyHasher`, as hex to keep in a store."""
    return secrets.token_hex(SECRET_BYTES)


class KeyHasher:
    """Keyed digests of API keys, and the ownership rule over them."""

    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        if len(secret) < 2 * 16:
            raise ValueError("a key-hashing secret needs at least 128 bits (32 hex characters)")
        self._secret = secret.encode("ascii")

    def __repr__(self) -> str:
        return "KeyHasher(<secret>)"

    def digest(self, key: str) -> str:
        """The digest a store keeps for ``key``; a key that is not valid UTF-8 hashes its escaped form."""
        data = key.encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()

    def owns(self, owner: str | None, key: str | None, *, enforced: bool) -> bool:
        """Whether ``key`` may see a job whose stored digest is ``owner``.

        ``enforced`` is whether the server has keys configured; without keys it is
        False and every job is visible. A job without an owner digest (made before
        ownership was recorded) is visible to any accepted key.
        """
        if not enforced or owner is None:
            return True
        if not key:
            return False
        return hmac.compare_digest(owner, self.digest(key))
