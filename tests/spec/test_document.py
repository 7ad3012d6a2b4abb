"""The OpenAPI document itself: valid, loadable by the ecosystem, faithful to upstream."""
from __future__ import annotations

import dataclasses
import warnings

import pytest

from t2i_contract.spec import (
    SPEC_PATH,
    Img2ImgRequest,
    InpaintRequest,
    ModelReloadRequest,
    Text2ImgRequest,
    load_spec,
    parse_text2img,
)
from t2i_contract.spec.errors import SpecLoadError

UPSTREAM_FIELDS = """key model_id prompt negative_prompt width height samples num_inference_steps
safety_checker safety_checker_type seed guidance_scale use_karras_sigmas algorithm_type vae
lora_model lora_strength clip_skip base64 temp webhook track_id ip_adapter_id ip_adapter_scale
ip_adapter_image scheduler enhance_prompt multi_lingual upscale highres_fix""".split()

UPSTREAM_SCHEDULERS = """DDPMScheduler DDIMScheduler PNDMScheduler LMSDiscreteScheduler EulerDiscreteScheduler
EulerAncestralDiscreteScheduler DPMSolverMultistepScheduler HeunDiscreteScheduler KDPM2DiscreteScheduler
DPMSolverSinglestepScheduler KDPM2AncestralDiscreteScheduler UniPCMultistepScheduler DDIMInverseScheduler
DEISMultistepScheduler IPNDMScheduler KarrasVeScheduler ScoreSdeVeScheduler LCMScheduler""".split()

SPEC = load_spec()


def test_document_passes_openapi_spec_validator() -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    document, _ = read_from_filename(str(SPEC_PATH))
    validate(document)


def test_document_loads_in_openapi_core_without_warnings() -> None:
    openapi_core = pytest.importorskip("openapi_core")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        openapi_core.OpenAPI.from_file_path(str(SPEC_PATH)).check_spec()


def test_document_loads_in_schemathesis_with_every_operation() -> None:
    import schemathesis

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schema = schemathesis.openapi.from_path(str(SPEC_PATH))
        labels = sorted(result.ok().label for result in schema.get_all_operations())
    assert labels == [
        "POST /api/v6/images/fetch",
        "POST /api/v6/images/fetch/{id}",
        "POST /api/v6/images/img2img",
        "POST /api/v6/images/inpaint",
        "POST /api/v6/images/model_reload",
        "POST /api/v6/images/text2img",
    ]


def _canonical(operation: str) -> set[str]:
    """An operation's request properties, less deprecated second names (``x-t2i-alias-of``)."""
    return {f.name for f in SPEC.request_fields(operation) if "x-t2i-alias-of" not in f.schema}


def test_request_schema_has_every_upstream_field() -> None:
    assert sorted(_canonical("text2img")) == sorted(UPSTREAM_FIELDS)


@pytest.mark.parametrize(("operation", "kind"), [("text2img", Text2ImgRequest), ("img2img", Img2ImgRequest),
                                                  ("inpaint", InpaintRequest), ("modelReload", ModelReloadRequest)])
def test_typed_request_fields_are_the_spec_properties(operation: str, kind: type) -> None:
    fields = {f.name for f in dataclasses.fields(kind)} - {"extra"}
    assert fields == _canonical(operation)


@pytest.mark.parametrize(
    ("schema", "values"),
    [
        ("Scheduler", UPSTREAM_SCHEDULERS),
        ("SafetyCheckerType", ["blur", "sensitive_content_text", "pixelate", "black"]),
        ("IpAdapterId", ["ip-adapter_sdxl", "ip-adapter_sd15", "ip-adapter-plus-face_sd15",
                         "ip-adapter-plus_sdxl_vit-h", "ip-adapter-plus-face_sdxl_vit-h"]),
    ],
    ids=["scheduler", "safety_checker_type", "ip_adapter_id"],
)
def test_enums_are_the_published_ones(schema: str, values: list[str]) -> None:
    assert SPEC.schema(schema)["enum"] == values


def test_published_limits_and_defaults() -> None:
    props = SPEC.request_schema("text2img")["properties"]
    assert (props["width"]["maximum"], props["height"]["maximum"]) == (1024, 1024)
    assert (props["samples"]["maximum"], props["clip_skip"]["minimum"], props["clip_skip"]["maximum"]) == (4, 1, 8)
    assert (props["guidance_scale"]["minimum"], props["guidance_scale"]["maximum"]) == (1, 20)
    assert props["num_inference_steps"]["x-t2i-clamp-maximum"] == 20
    assert props["algorithm_type"]["enum"] == ["none", "dpmsolver+++"]
    assert props["use_karras_sigmas"]["default"] is True
    assert props["clip_skip"]["default"] == 2


@pytest.mark.parametrize("operation", ["text2img", "fetchById", "fetch"])
@pytest.mark.parametrize("status", [200, 400, 401, 404, 429, 500, 503])
def test_every_operation_documents_the_error_statuses(operation: str, status: int) -> None:
    assert SPEC.responses.response_pointer(operation, status) is not None


def test_request_examples_in_the_document_are_valid() -> None:
    _, _, operation = SPEC.operation("text2img")
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    for name, example in examples.items():
        assert parse_text2img(example["value"]).key == "your_api_key", name


def test_response_examples_in_the_document_validate() -> None:
    checked = 0
    for name, response in SPEC.document["components"]["responses"].items():
        media = response.get("content", {}).get("application/json", {})
        if "example" in media:
            assert SPEC.responses.errors_at(f"/components/responses/{name}/content/application~1json/schema",
                                            media["example"]) == [], name
            checked += 1
    assert checked >= 3


def test_unsupported_keyword_in_a_request_property_is_refused_at_compile_time() -> None:
    from t2i_contract.spec import Spec

    document = {
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"post": {"operationId": "x", "requestBody": {"content": {"application/json": {
            "schema": {"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}]}}}}}},
            "responses": {"200": {"description": "ok"}}}}},
    }
    with pytest.raises(SpecLoadError, match="oneOf"):
        Spec.from_dict(document).validator("x")


def test_a_non_3_1_document_is_refused() -> None:
    from t2i_contract.spec import Spec

    with pytest.raises(SpecLoadError, match="3.1"):
        Spec({"openapi": "3.0.3", "paths": {}})
