"""Contract packs (spec/packs.py, spec/semantics.py): finding, loading and checking them, and `t2i contracts`."""
from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from openapi_spec_validator import validate

from t2i_contract.spec import Spec, SpecLoadError
from t2i_contract.spec.packs import (DEFAULT_CONTRACT, PACKS, contract_path, contracts, contracts_command,
                                     load_contract)
from t2i_contract.spec.semantics import OperationMap, operation_maps

if sys.version_info >= (3, 11):
    import tomllib  # novm: Python 3.10 reads pyproject.toml with tomli, the same parser (dev extra)
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
T2I = shutil.which("t2i", path=str(Path(sys.executable).parent))


def pack_document(name: str) -> dict[str, Any]:
    return yaml.safe_load(PACKS[name].read_text(encoding="utf-8"))


def write(tmp_path: Path, document: dict[str, Any], name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


# -- the registry ---------------------------------------------------------------
def test_three_packs_ship_with_v6_as_the_default() -> None:
    assert list(PACKS) == ["modelslab-v6", "openai-images", "a1111"]
    assert DEFAULT_CONTRACT == "modelslab-v6"
    assert contract_path(None) == contract_path("modelslab-v6") == ROOT / "spec" / "text2img.yaml"


@pytest.mark.parametrize("name", list(PACKS))
def test_every_pack_loads_and_is_a_valid_openapi_31_document(name: str) -> None:
    spec = load_contract(name)
    assert isinstance(spec, Spec) and spec.path == PACKS[name].resolve()
    validate(pack_document(name))  # raises on an invalid document


def test_the_default_contract_is_the_one_the_servers_load() -> None:
    from t2i_contract.spec import load_spec

    assert load_contract() is load_spec()


def test_an_unknown_name_is_refused_naming_it_and_the_packs() -> None:
    with pytest.raises(SpecLoadError) as caught:
        load_contract("nope")
    message = str(caught.value)
    assert "'nope'" in message
    assert all(name in message for name in PACKS)


def test_a_users_own_file_loads_by_path(tmp_path: Path) -> None:
    document = pack_document("openai-images")
    document["info"]["title"] = "My images API"
    spec = load_contract(write(tmp_path, document))
    assert spec.document["info"]["title"] == "My images API"
    assert operation_maps(spec)["createImage"].field("samples") == "n"


def test_a_document_without_the_wire_hint_is_not_a_contract(tmp_path: Path) -> None:
    document = pack_document("a1111")
    del document["x-t2i-wire"]
    with pytest.raises(SpecLoadError, match="x-t2i-wire"):
        load_contract(write(tmp_path, document))


# -- x-t2i-operation is checked when a contract loads -------------------------------
def broken(tmp_path: Path, change: Any, pack: str = "openai-images", operation: str = "createImage") -> str:
    document = pack_document(pack)
    for item in document["paths"].values():
        for op in item.values():
            if op.get("operationId") == operation:
                change(op["x-t2i-operation"])
    with pytest.raises(SpecLoadError) as caught:
        load_contract(write(tmp_path, document))
    return str(caught.value)


def test_a_mapping_to_a_field_the_operation_lacks_is_refused_naming_it(tmp_path: Path) -> None:
    message = broken(tmp_path, lambda hint: hint["semantics"].update(prompt="promt"))
    assert "createImage" in message and "semantics.prompt" in message and "'promt'" in message


def test_a_multipart_operation_maps_its_form_fields_and_a_wrong_one_is_refused(tmp_path: Path) -> None:
    spec = load_contract("openai-images")
    assert operation_maps(spec)["createImageEdit"].field("mask") == "mask"
    message = broken(tmp_path, lambda hint: hint["semantics"].update(mask="alpha"), operation="createImageEdit")
    assert "'alpha'" in message and "createImageEdit" in message


@pytest.mark.parametrize(("change", "words"), [
    (lambda hint: hint.update(role="paint"), ["role", "'paint'"]),
    (lambda hint: hint.update(kind="outpaint"), ["kind", "'outpaint'"]),
    (lambda hint: hint["semantics"].update(colour="prompt"), ["semantics.colour", "generic meaning"]),
    (lambda hint: hint.update(body="multipart"), ["body", "multipart/form-data"]),
    (lambda hint: hint.update({"samples-from": ["n", "rounds"]}), ["samples-from", "rounds"]),
    (lambda hint: hint.update({"random-seed": -1}), ["random-seed", "seed"]),
    (lambda hint: hint.update(colour=1), ["unknown entries", "colour"]),
], ids=["role", "kind", "meaning", "body", "samples-from", "random-seed-without-seed", "unknown-entry"])
def test_a_hint_naming_what_the_vocabulary_lacks_is_refused(tmp_path: Path, change: Any, words: list[str]) -> None:
    message = broken(tmp_path, change)
    assert all(word in message for word in words), message


def test_size_counts_for_width_and_height_and_the_reverse() -> None:
    one = OperationMap("op", "generate", "text2img", {"prompt": "p", "size": "size"})
    two = OperationMap("op", "generate", "text2img", {"prompt": "p", "width": "w", "height": "h"})
    half = OperationMap("op", "generate", "text2img", {"prompt": "p", "width": "w"})
    assert not {"size", "width", "height"} & set(one.unmapped)
    assert not {"size", "width", "height"} & set(two.unmapped)
    assert {"size", "height"} <= set(half.unmapped)
    assert "init_image" not in one.unmapped  # text2img has no input image to map
    assert "init_image" in OperationMap("op", "generate", "img2img", {}).unmapped


# -- what the packs say ---------------------------------------------------------
def test_openai_pack_keeps_the_official_fields_and_limits() -> None:
    spec = load_contract("openai-images")
    fields = {f.name: f for f in spec.request_fields("createImage")}
    assert fields["n"].schema["minimum"] == 1 and fields["n"].schema["maximum"] == 10
    assert fields["response_format"].schema["enum"][:2] == ["url", "b64_json"]
    assert fields["prompt"].required and fields["prompt"].schema["maxLength"] == 32000
    route, method, _ = spec.operation("createImageEdit")
    assert (route, method) == ("/v1/images/edits", "post")
    assert spec.document["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "http", "scheme": "bearer", "description": "The API key, sent as `Authorization: Bearer KEY`."}
    assert {400, 401, 429, 500} <= set(spec.documented_statuses("createImageVariation"))


def test_multipart_request_bodies_are_read_as_a_dict_of_their_parts() -> None:
    spec = load_contract("openai-images")
    edit = {f.name: f for f in spec.request_fields("createImageEdit")}
    assert edit["image"].required and edit["prompt"].required and not edit["mask"].required
    assert edit["mask"].schema["format"] == "binary"
    assert "x-t2i-image" in {f.name: f for f in spec.request_fields("createImageVariation")}["image"].schema


def test_a1111_pack_keeps_the_pydantic_defaults() -> None:
    spec = load_contract("a1111")
    txt = {f.name: f for f in spec.request_fields("text2imgapi_sdapi_v1_txt2img_post")}
    assert (txt["seed"].default, txt["batch_size"].default, txt["n_iter"].default) == (-1, 1, 1)
    assert (txt["steps"].default, txt["cfg_scale"].default, txt["width"].default) == (50, 7.0, 512)
    assert not any(f.required for f in txt.values())
    img = operation_maps(spec)["img2imgapi_sdapi_v1_img2img_post"]
    assert (img.random_seed, img.samples_from) == (-1, ("batch_size", "n_iter"))
    assert img.field("strength") == "denoising_strength"


# -- t2i contracts --------------------------------------------------------------
def test_contracts_describe_every_pack_and_what_it_leaves_unmapped() -> None:
    described = {c.name: c for c in contracts()}
    assert list(described) == list(PACKS)
    openai = described["openai-images"].operations
    assert openai["createImage"] is not None and "seed" in openai["createImage"].unmapped
    assert described["a1111"].title == "AUTOMATIC1111 web UI API"
    assert "loras" in described["a1111"].operations["text2imgapi_sdapi_v1_txt2img_post"].unmapped  # type: ignore[union-attr]


def test_contracts_command_lists_each_pack_with_maps_and_unmapped() -> None:
    result = CliRunner().invoke(contracts_command, [])
    assert result.exit_code == 0, result.output
    for name in PACKS:
        assert f"\n{name}" in "\n" + result.output
    assert "createImageEdit: generate img2img (multipart)" in result.output
    assert "unmapped: negative_prompt, seed, steps" in result.output


def test_contracts_command_json_for_one_users_file(tmp_path: Path) -> None:
    path = write(tmp_path, pack_document("a1111"))
    result = CliRunner().invoke(contracts_command, ["--contract", str(path), "--json"])
    assert result.exit_code == 0, result.output
    (only,) = json.loads(result.output)
    assert only["path"] == str(path)
    assert only["operations"]["get_sd_models_sdapi_v1_sd_models_get"]["role"] == "models"


def test_t2i_contracts_is_registered_and_a_bad_contract_exits_2() -> None:
    assert T2I, "the t2i console script is not installed in this environment"
    listed = subprocess.run([T2I, "contracts"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "a1111: AUTOMATIC1111 web UI API" in listed.stdout
    bad = subprocess.run([T2I, "contracts", "--contract", "nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "'nope'" in bad.stderr and "openai-images" in bad.stderr


def test_the_wheel_carries_the_pack_documents() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    globs = data["t2i_contract.spec"]
    for path in [*PACKS.values(), ROOT / "spec" / "packs" / "README.md"]:
        relative = path.relative_to(ROOT / "spec").as_posix()
        assert any(fnmatch.fnmatch(relative, g) for g in globs), relative


def test_a_hinted_operation_with_a_malformed_body_is_a_load_error_not_a_crash(tmp_path: Path) -> None:
    document = pack_document("openai-images")
    document["paths"]["/v1/images/generations"]["post"]["requestBody"]["content"] = ["application/json"]
    with pytest.raises(SpecLoadError, match="createImage"):
        load_contract(write(tmp_path, document))


def _two_bodies(content: dict[str, Any]) -> Spec:
    return Spec.from_dict({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/edit": {"post": {
        "operationId": "edit", "requestBody": {"content": content}, "responses": {"200": {"description": "ok"}}}}}})


def test_request_schema_prefers_json_and_reads_multipart_otherwise() -> None:
    json_part = {"schema": {"type": "object", "properties": {"images": {"type": "array"}}}}
    form_part = {"schema": {"type": "object", "properties": {"image": {"type": "string", "format": "binary"}}}}
    both = _two_bodies({"multipart/form-data": form_part, "application/json": json_part})
    assert list(both.request_schema("edit")["properties"]) == ["images"]
    assert list(_two_bodies({"multipart/form-data": form_part}).request_schema("edit")["properties"]) == ["image"]
    with pytest.raises(SpecLoadError, match="edit has no application/json or multipart/form-data request body"):
        _two_bodies({"text/plain": {"schema": {"type": "string"}}}).request_schema("edit")


def test_a_users_file_that_is_not_openapi_31_is_refused_naming_it(tmp_path: Path) -> None:
    document = pack_document("openai-images")
    document["openapi"] = "3.0.3"
    path = write(tmp_path, document, "old.yaml")
    with pytest.raises(SpecLoadError, match="old.yaml is not an OpenAPI 3.1 document"):
        load_contract(path)
