"""Request generation: valid bodies are valid, invalid ones invalid, profiles and assets honoured."""
from __future__ import annotations

import pytest

from t2i_contract.contract_tests.generation import (
    MALFORMED_BODIES,
    default_model_id,
    draw,
    edge_bodies,
    invalid_bodies,
    is_valid,
    minimal_body,
    valid_bodies,
)
from t2i_contract.spec import BodyError, load_spec, parse_json_body, parse_text2img

SPEC = load_spec()


@pytest.fixture(scope="module")
def cheap_bodies() -> list[dict]:
    return draw(valid_bodies(SPEC, profile="cheap", model_id="tiny-sd", loras=("lora-a", "lora-b")), 150, seed=7)


@pytest.fixture(scope="module")
def full_bodies() -> list[dict]:
    return draw(valid_bodies(SPEC, profile="full"), 150, seed=7)


def test_valid_bodies_are_accepted_by_the_spec(cheap_bodies: list[dict], full_bodies: list[dict]) -> None:
    assert len(cheap_bodies) == 150 and len(full_bodies) == 150
    for body in cheap_bodies + full_bodies:
        parse_text2img(body, SPEC)


def test_cheap_profile_keeps_images_small_and_few(cheap_bodies: list[dict]) -> None:
    requests = [parse_text2img(b, SPEC) for b in cheap_bodies]
    assert {(r.width, r.height) for r in requests} == {(256, 256)}
    assert {r.samples for r in requests} <= {1, 2}
    assert max(r.num_inference_steps for r in requests) <= 3
    assert not any(r.upscale or r.highres_fix for r in requests)


def test_full_profile_reaches_beyond_the_cheap_limits(full_bodies: list[dict]) -> None:
    requests = [parse_text2img(b, SPEC) for b in full_bodies]
    assert max(r.width for r in requests) > 256
    assert max(r.samples for r in requests) > 2
    assert any(r.upscale for r in requests)


def test_valid_bodies_use_only_the_servers_assets(cheap_bodies: list[dict]) -> None:
    requests = [parse_text2img(b, SPEC) for b in cheap_bodies]
    assert {r.model_id for r in requests} == {"tiny-sd"}
    assert set().union(*(r.lora_model for r in requests)) == {"lora-a", "lora-b"}
    assert all(r.webhook is None and r.vae is None and r.ip_adapter_image is None for r in requests)
    assert not {r.scheduler for r in requests} & SPEC.non_sampler_schedulers


def test_valid_bodies_include_wire_forms() -> None:
    # Hypothesis mixes constants from imported modules into its draws, so the exact examples
    # depend on what the process imported; a larger sample keeps this independent of that.
    bodies = draw(valid_bodies(SPEC, profile="cheap"), 200, seed=8)
    assert any(isinstance(b.get(f), str) for b in bodies for f in ("width", "samples", "num_inference_steps"))
    assert any(b.get(f) in ("yes", "no", "true", "false", "Yes", "NO", "True")
               for b in bodies for f in ("base64", "safety_checker", "use_karras_sigmas", "temp"))


def test_invalid_bodies_are_rejected_by_the_spec() -> None:
    bodies = draw(invalid_bodies(SPEC), 60, seed=3)
    assert len(bodies) == 60
    assert all(isinstance(b, dict) and not is_valid(b, SPEC) for b in bodies)


@pytest.mark.parametrize("seed", range(0, 400, 20))
def test_generation_works_for_any_seed(seed: int) -> None:
    """The CLI picks a random seed by default: no seed may make a strategy invalid."""
    assert all(not is_valid(b, SPEC) for b in draw(invalid_bodies(SPEC), 15, seed=seed))
    assert all(is_valid(b, SPEC) for b in draw(valid_bodies(SPEC, profile="full"), 15, seed=seed))


def test_draw_is_reproducible_for_a_seed() -> None:
    strategy = invalid_bodies(SPEC)
    assert draw(strategy, 10, seed=11) == draw(strategy, 10, seed=11)
    assert draw(strategy, 10, seed=11) != draw(strategy, 10, seed=12)


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="profile"):
        valid_bodies(SPEC, profile="huge")


def test_edge_bodies_hit_the_schema_bounds() -> None:
    full = [parse_text2img(b, SPEC) for b in edge_bodies(SPEC, profile="full")]
    assert (1024, 1024, 4) in {(r.width, r.height, r.samples) for r in full}
    cheap = [parse_text2img(b, SPEC) for b in edge_bodies(SPEC, profile="cheap")]
    assert {(r.width, r.height) for r in cheap} == {(256, 256)}


def test_minimal_body_uses_the_spec_example_model() -> None:
    assert default_model_id(SPEC) == "f222-diffusion"
    assert set(minimal_body(SPEC)) == {"key", "model_id", "prompt"}


@pytest.mark.parametrize("raw", MALFORMED_BODIES, ids=[repr(r)[:20] for r in MALFORMED_BODIES])
def test_malformed_bodies_are_not_json_objects(raw: bytes) -> None:
    with pytest.raises(BodyError):
        parse_json_body(raw)
