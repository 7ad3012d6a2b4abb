"""Issue 10, item 6: the backend's intake bounds bodies and reads JSON only, as the mock's does.

Reproduced before the fixes (5471b43): a 10 MB prompt was read and queued (the process grew
from 857 MB to 2.29 GB, for good), and a cross-site ``text/plain`` form queued a job and chose
its webhook. The limits at exactly the protocol's bound and one byte over are probed on both
servers by tests/servers (cases.py); ``--max-queued`` under 32 simultaneous requests by
tests/reference_backend/test_app.py::test_max_queued_holds_when_many_requests_arrive_at_once.
"""
from __future__ import annotations

import json

from tests.support import WebhookListener

from .answers import error_fields, in_error_shape, job_id, raw_post
from .conftest import Launch


def test_a_ten_mb_prompt_is_refused_before_it_is_queued(launch: Launch) -> None:
    target = launch("backend")
    before = job_id(target.text2img())
    response = raw_post(target, "text2img", json.dumps(target.body(prompt="x" * 10_000_000)))
    in_error_shape("text2img", response)
    assert "Content-Length" in error_fields(response), response.text[:300]
    assert target.fetch_by_id(before + 1).status_code == 404


def test_a_cross_site_text_plain_form_queues_nothing_and_posts_no_webhook(launch: Launch,
                                                                          receiver: WebhookListener) -> None:
    target = launch("backend", url_allow=("127.0.0.1",))
    before = job_id(target.text2img())
    form = json.dumps(target.body(webhook=receiver.url))
    response = raw_post(target, "text2img", form, headers={"Content-Type": "text/plain",
                                                            "Origin": "https://evil.example"})
    in_error_shape("text2img", response)
    assert "Content-Type" in error_fields(response), response.text
    assert target.fetch_by_id(before + 1).status_code == 404
    assert not receiver.received
