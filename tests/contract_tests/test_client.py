"""The suite's client: URLs from the spec's routes, whatever part of the path the base URL already has."""
from __future__ import annotations

import pytest

from t2i_contract.contract_tests.client import Client
from t2i_contract.spec import load_spec

SPEC = load_spec()
ROUTE = SPEC.operation("fetchById")[0].format(id=5)


@pytest.mark.parametrize("base", ["http://h", "http://h/", "http://h/api", "http://h/api/v6", "http://h/api/v6/images"],
                         ids=["root", "root-slash", "api", "api-v6", "base-path"])
def test_url_for_never_repeats_the_part_of_the_route_the_base_url_has(base: str) -> None:
    client = Client(SPEC, base, key="k", timeout=1, retries=0, max_retry_wait=0)
    assert client.url_for("fetchById", id=5) == "http://h" + ROUTE
    assert client.url_for("text2img") == "http://h" + SPEC.operation("text2img")[0]


def test_url_for_keeps_a_base_url_path_the_route_does_not_start_with() -> None:
    client = Client(SPEC, "http://h/proxy", key="k", timeout=1, retries=0, max_retry_wait=0)
    assert client.url_for("fetchById", id=5) == "http://h/proxy" + ROUTE
