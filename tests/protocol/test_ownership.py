"""Ownership and image names (protocol/ownership.py): keyed digests, the owner rule, names that grant nothing."""
from __future__ import annotations

import hashlib
import secrets

import pytest

from t2i_contract.protocol.ownership import ImageNames, KeyHasher, image_name, new_secret, parse_image_name


def test_a_digest_is_keyed_by_the_secret_and_is_not_the_plain_hash() -> None:
    one, two = KeyHasher(new_secret()), KeyHasher(new_secret())
    assert one.digest("k") == one.digest("k") != two.digest("k")
    assert one.digest("k") != hashlib.sha256(b"k").hexdigest()
    assert "secret" not in repr(one).lower().replace("<secret>", "")


def test_digests_of_recent_keys_are_kept_but_never_more_than_recent() -> None:
    """A client sends its key with every call, so its digest is kept; made-up keys never grow what is kept."""
    secret = new_secret()
    hasher, fresh = KeyHasher(secret), KeyHasher(secret)
    keys = [f"key-{n}" for n in range(3 * KeyHasher.RECENT)] + ["key-1", "\udcff"]
    assert [hasher.digest(k) for k in keys] == [KeyHasher(secret).digest(k) for k in keys]
    assert hasher.digest("key-1") == fresh.digest("key-1")
    assert 0 < len(hasher._recent) <= KeyHasher.RECENT


@pytest.mark.parametrize(("enforced", "owner_key", "caller", "sees"), [
    (True, "k1", "k1", True),
    (True, "k1", "k2", False),
    (True, "k1", "", False),
    (False, "k1", "k2", True),
], ids=["owner", "another-key", "no-key", "no-keys-configured"])
def test_the_owner_rule(enforced: bool, owner_key: str, caller: str, sees: bool) -> None:
    hasher = KeyHasher(new_secret())
    assert hasher.owns(hasher.digest(owner_key), caller, enforced=enforced) is sees


@pytest.mark.parametrize("job_id", [0, 1, 2, 10_000_000, 2**63 - 1])
def test_an_image_token_gives_its_job_back(job_id: int) -> None:
    names = ImageNames(new_secret())
    token = names.token(job_id)
    assert len(token) == 32 and (job_id < 10_000 or str(job_id) not in token)
    assert names.job_of(token) == job_id
    assert names.job_of_name(names.name(job_id, 3)) == (job_id, 3)


def test_tokens_of_neighbouring_jobs_share_nothing_and_forged_ones_name_no_job() -> None:
    names = ImageNames(new_secret())
    first, second = names.token(41), names.token(42)
    assert sum(a == b for a, b in zip(first, second)) < 12  # 32 hex characters, 2 equal by chance on average
    assert ImageNames(new_secret()).token(41) != first
    assert all(names.job_of(secrets.token_hex(16)) is None for _ in range(200))
    assert names.job_of_name("41-0.png") is None and names.job_of_name("../" + names.name(41, 0)) is None


def test_image_names_parse_only_their_own_form() -> None:
    token = secrets.token_hex(16)
    assert parse_image_name(image_name(token, 2)) == (token, 2)
    for name in (f"{token}-2.jpg", f"{token[:-1]}-2.png", f"{token.upper()}-2.png", f"x{token}-2.png"):
        assert parse_image_name(name) is None, name
