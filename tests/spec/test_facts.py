"""The contract's facts are read from the document, and follow it when it changes."""
from __future__ import annotations

import copy
import dataclasses

import pytest

from t2i_contract.spec import RequestField, Spec, SpecLoadError, Text2ImgRequest, load_spec


@pytest.fixture()
def document() -> dict:
    return copy.deepcopy(load_spec().document)


def test_base_path_is_the_path_every_operation_shares() -> None:
    spec = load_spec()
    assert spec.base_path == "/api/v6/images"
    assert all(route.startswith(spec.base_path + "/") for _, route, _, _ in spec.operations())


def test_base_path_follows_a_server_url_that_carries_the_prefix(document: dict) -> None:
    """The vendor's layout: server ``https://host/api/v6/images``, paths ``/text2img``."""
    document["servers"] = [{"url": "https://modelslab.com/api/v6/images"}]
    document["paths"] = {route.removeprefix("/api/v6/images"): item for route, item in document["paths"].items()}
    assert Spec(document).base_path == "/api/v6/images"


def test_documented_statuses_are_read_per_operation(document: dict) -> None:
    spec = load_spec()
    assert spec.documented_statuses("text2img") == (200, 400, 401, 402, 404, 429, 500, 503)
    assert 402 not in spec.documented_statuses("fetchById")
    del document["paths"]["/api/v6/images/text2img"]["post"]["responses"]["503"]
    assert 503 not in Spec(document).documented_statuses("text2img")


def test_request_fields_carry_schema_default_and_required_flag() -> None:
    fields = {f.name: f for f in load_spec().request_fields("text2img")}
    assert fields["prompt"].required and not fields["prompt"].has_default
    assert fields["width"] == RequestField("width", fields["width"].schema, False, True, 512)
    assert fields["width"].schema["maximum"] == 1024
    assert fields["scheduler"].schema["enum"][0] == "DDPMScheduler"  # the $ref is resolved


def test_the_typed_request_defaults_are_the_documents_defaults() -> None:
    """Text2ImgRequest restates the defaults for speed; this keeps the two from drifting apart.

    List fields (``x-t2i-list``) are normalised to tuples, empty when not sent.
    """
    typed = {f.name: f.default for f in dataclasses.fields(Text2ImgRequest) if f.default is not dataclasses.MISSING}
    fields = load_spec().request_fields("text2img")
    scalars = {f.name: f.default for f in fields if f.has_default and "x-t2i-list" not in f.schema}
    assert len(scalars) > 10, "the document declares defaults"
    assert {name: typed[name] for name in scalars} == scalars
    assert all(typed[f.name] == () for f in fields if "x-t2i-list" in f.schema)


def test_wire_booleans_come_from_the_coercions_block(document: dict) -> None:
    assert dict(load_spec().wire_booleans) == {"yes": True, "true": True, "no": False, "false": False}
    document["x-t2i-coercions"]["boolean"]["truthy"].append("On")
    assert Spec(document).wire_booleans["on"] is True


def test_non_sampler_schedulers_are_declared_beside_the_enum(document: dict) -> None:
    assert load_spec().non_sampler_schedulers == {"DDIMInverseScheduler", "KarrasVeScheduler", "ScoreSdeVeScheduler"}
    document["components"]["schemas"]["Scheduler"]["x-t2i-non-samplers"] = ["NoSuchScheduler"]
    with pytest.raises(SpecLoadError, match="NoSuchScheduler"):
        Spec(document).non_sampler_schedulers


def test_model_dependent_fields_are_those_marked_in_the_document(document: dict) -> None:
    spec = load_spec()
    assert {op: spec.model_dependent_fields(op) for op in ("text2img", "img2img", "inpaint", "modelReload")} == {
        "text2img": {"scheduler"}, "img2img": {"scheduler"}, "inpaint": {"scheduler"}, "modelReload": set()}
    del document["components"]["schemas"]["Scheduler"]["x-t2i-model-dependent"]
    assert Spec(document).model_dependent_fields("text2img") == frozenset()


def test_output_size_applies_the_documented_upscale_factor(document: dict) -> None:
    spec = load_spec()
    assert spec.output_size(256, 512, upscale=False) == (256, 512)
    assert spec.output_size(256, 512, upscale=True) == (512, 1024)
    document["components"]["schemas"]["Text2ImgRequest"]["allOf"][1]["properties"]["upscale"]["x-t2i-scale"] = 4
    assert Spec(document).output_size(256, 512, upscale=True) == (1024, 2048)
