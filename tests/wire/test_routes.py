"""The route table: one reading of the document's paths for servers, proxies and clients."""
from __future__ import annotations

import copy

import pytest

from t2i_contract.spec import Spec, load_spec
from t2i_contract.wire.routes import route_table

TABLE = route_table(load_spec())


def test_every_operation_of_the_document_has_one_route() -> None:
    assert [route.operation_id for route in TABLE] == [op_id for op_id, *_ in load_spec().operations()]
    assert TABLE["fetchById"].params == ("id",) and TABLE["fetchById"].rule == "/api/v6/images/fetch/<id>"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/api/v6/images/text2img", ("text2img", {})),
        ("post", "/api/v6/images/fetch/12", ("fetchById", {"id": "12"})),
        ("POST", "/api/v6/images/fetch", ("fetch", {})),
        ("GET", "/api/v6/images/text2img", None),
        ("POST", "/api/v6/images/fetch/12/more", None),
        ("POST", "/api/v6/images/text2img/", None),
    ],
    ids=["static", "parameter", "static-sibling", "other-method", "deeper", "trailing-slash"],
)
def test_a_request_path_is_matched_to_its_operation(method: str, path: str, expected: tuple | None) -> None:
    found = TABLE.match(method, path)
    assert (None if found is None else (found.operation_id, found.params)) == expected


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://h:1", "http://h:1/api/v6/images/fetch/7"),
        ("http://h:1/", "http://h:1/api/v6/images/fetch/7"),
        ("https://modelslab.com/api", "https://modelslab.com/api/v6/images/fetch/7"),
        ("https://modelslab.com/api/v6", "https://modelslab.com/api/v6/images/fetch/7"),
        ("http://proxy/prefix", "http://proxy/prefix/api/v6/images/fetch/7"),
    ],
    ids=["root", "root-slash", "api", "api-v6", "unrelated-prefix"],
)
def test_a_client_url_joins_a_base_that_ends_with_part_of_the_route(base: str, expected: str) -> None:
    assert TABLE.url(base, "fetchById", id=7) == expected


def test_path_parameters_are_quoted_as_one_segment_and_required() -> None:
    assert TABLE["fetchById"].format(id="../x y").endswith("/fetch/..%2Fx%20y")
    with pytest.raises(KeyError, match="id"):
        TABLE.url("http://h", "fetchById")


def test_an_operation_added_to_the_document_is_routed() -> None:
    document = copy.deepcopy(load_spec().document)
    document["paths"]["/api/v6/images/upscale/{job}"] = {"get": {"operationId": "upscale", "responses": {}}}
    table = route_table(Spec(document))
    assert table.match("GET", "/api/v6/images/upscale/3").params == {"job": "3"}
    assert table.methods_at("/api/v6/images/upscale/3") == ("GET",)
