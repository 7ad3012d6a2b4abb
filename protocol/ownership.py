"""Who may see a job, and names that grant nothing: one implementation for every server.

- :class:`KeyHasher` turns an API key into the digest a store keeps beside a job:
  HMAC-SHA256 under a secret of the store's own (:func:`new_secret`, made once per
  store and kept in it), so a copied store does not give away which key made
  which job, and a digest is useless against any other store.
- :meth:`KeyHasher.owns` is the fetch rule: with keys configured, a job belongs to
  the key that made it; any other key, valid or not, gets the same answer as an
  unknown id. Without keys every caller is anonymous and sees every job.
- A job's images are named by a token of 128 bits (32 hex characters), as the
  hosted API's CDN links are, so knowing or guessing a job id grants nothing.
  Sample ``n`` is the file :func:`image_name` ``<token>-<n>.png`` on both servers;
  :func:`parse_image_name` checks a served name against that pattern before
  anything is looked up. Both servers derive the token from the job id with
  :class:`ImageNames`: a keyed permutation of 128-bit blocks (a four-round Feistel
  network over HMAC-SHA256, Luby-Rackoff), so the token of a job is known before
  its images exist (``future_links``), the job of a token is read back without a
  lookup table in whichever process serves it (the backend's jobs live in SQLite or
  Redis, its images are written by worker processes), and without the secret
  neither can be predicted.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = ["IMAGE_NAME", "SECRET_BYTES", "TOKEN_BYTES", "ImageNames", "KeyHasher", "image_name", "new_secret",
           "parse_image_name"]

TOKEN_BYTES = 16
"""Random bytes in an image token: 128 bits."""
SECRET_BYTES = 32
IMAGE_NAME = re.compile(r"(?P<token>[0-9a-f]{%d})-(?P<index>[0-9]{1,3})\.png" % (2 * TOKEN_BYTES))


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


class ImageNames:
    """Tokens for job ids under a secret, and back: ``job_of(token(n)) == n``; a forged token gives None."""

    ROUNDS = 4
    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        if len(secret) < 2 * 16:
            raise ValueError("an image-name secret needs at least 128 bits (32 hex characters)")
        # a key of its own, so a store may hand the same secret to KeyHasher
        self._secret = hmac.new(bytes.fromhex(secret), b"t2i image names", hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "ImageNames(<secret>)"

    def _round(self, number: int, half: bytes) -> bytes:
        return hmac.digest(self._secret, bytes([number]) + half, "sha256")[:TOKEN_BYTES // 2]  # one-shot, in C

    @staticmethod
    def _xor(a: bytes, b: bytes) -> bytes:
        return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")

    def token(self, job_id: int) -> str:
        """The token of a job id (0 <= id < 2**64)."""
        left, right = bytes(TOKEN_BYTES // 2), job_id.to_bytes(TOKEN_BYTES // 2, "big")
        for number in range(self.ROUNDS):
            left, right = right, self._xor(left, self._round(number, right))
        return (left + right).hex()

    def job_of(self, token: str) -> int | None:
        """The job id a token was made for, or None when no job id gives this token."""
        if not IMAGE_NAME.fullmatch(token + "-0.png"):
            return None
        block = bytes.fromhex(token)
        left, right = block[:TOKEN_BYTES // 2], block[TOKEN_BYTES // 2:]
        for number in reversed(range(self.ROUNDS)):
            left, right = self._xor(right, self._round(number, left)), left
        return int.from_bytes(right, "big") if left == bytes(TOKEN_BYTES // 2) else None

    def name(self, job_id: int, index: int) -> str:
        return image_name(self.token(job_id), index)

    def job_of_name(self, name: str) -> tuple[int, int] | None:
        """``(job id, index)`` of a served image name, or None when it is not one of ours."""
        parsed = parse_image_name(name)
        job_id = self.job_of(parsed[0]) if parsed else None
        return None if job_id is None or parsed is None else (job_id, parsed[1])


class KeyHasher:
    """Keyed digests of API keys, and the ownership rule over them."""

    __slots__ = ("_recent", "_secret")

    RECENT = 256
    """Digests kept for the keys last seen: a client sends its key with every call (issue 22)."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 2 * 16:
            raise ValueError("a key-hashing secret needs at least 128 bits (32 hex characters)")
        self._secret = secret.encode("ascii")
        self._recent: dict[str, str] = {}

    def __repr__(self) -> str:
        return "KeyHasher(<secret>)"

    def digest(self, key: str) -> str:
        """The digest a store keeps for ``key``; a key that is not valid UTF-8 hashes its escaped form."""
        found = self._recent.get(key)
        if found is None:
            if len(self._recent) >= self.RECENT:  # many keys (or made-up ones): start over, never grow
                self._recent.clear()
            data = key.encode("utf-8", "surrogatepass")
            found = self._recent[key] = hmac.digest(self._secret, data, "sha256").hex()
        return found

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
