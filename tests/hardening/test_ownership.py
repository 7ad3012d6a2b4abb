"""Issue 10, item 7: a job id grants nothing: images under unguessable names, jobs owned by their key.

Reproduced before the fixes (5471b43): the backend served images by sequential name
(``/images/1-0.png``, ``/images/2-0.png``...) to anyone, the mock by job id
(``/generations/1/0.png``), so the fetch ownership check meant little; and the mock with
``--keys k1,k2`` let k2 fetch k1's job. Now an image name carries at least 128 random bits,
as the hosted API's CDN links do, and another valid key gets the unknown-job answer (the
backend already gave it on 5471b43; its case guards the rule on both servers).
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.servers.targets import KEY, Target

from .answers import job_id
from .conftest import KINDS, Launch

OTHER_KEY = "second-key"
RANDOM_NAME = re.compile(r"[A-Za-z0-9_-]{22,}")  # 22 base64url characters hold 128 bits, 32 hex ones too
OLD_NAMES = {"backend": "/images/{job}-0.png", "mock": "/generations/{job}/0.png"}


def _image_urls(target: Target) -> tuple[int, list[str]]:
    answer = target.text2img()
    body = answer.json()
    assert body["status"] == "success", body
    return job_id(answer), body["output"]


@pytest.mark.parametrize("kind", KINDS)
def test_images_are_served_under_names_with_128_random_bits(launch: Launch, kind: str) -> None:
    target = launch(kind)
    job, urls = _image_urls(target)
    _, more = _image_urls(target)
    for url in urls + more:
        path = urlsplit(url).path
        name = path.rsplit("/", 1)[-1].removesuffix(".png")
        assert RANDOM_NAME.search(name), f"{url}: the name is guessable"
        assert f"/{job}/" not in path and not name.startswith(f"{job}-"), f"{url} carries the job id"
        image = target.request("GET", url)
        assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(set(urls + more)) == len(urls + more)
    guessed = target.request("GET", target.url + OLD_NAMES[kind].format(job=job))
    assert guessed.status_code == 404, f"the sequential name {OLD_NAMES[kind]} still serves job {job}'s image"


@pytest.mark.parametrize("kind", KINDS)
def test_another_valid_key_gets_the_unknown_job_answer(launch: Launch, kind: str) -> None:
    target = launch(kind, keys=(KEY, OTHER_KEY))
    job = job_id(target.text2img())
    assert target.fetch_by_id(job).status_code == 200
    unknown = target.fetch_by_id(job + 10_000, key=OTHER_KEY)
    for answer in (target.fetch_by_id(job, key=OTHER_KEY), target.fetch_by_body(job, key=OTHER_KEY)):
        assert answer.status_code == 404 == unknown.status_code, answer.text
        assert "output" not in answer.json() and "future_links" not in answer.json(), answer.text
