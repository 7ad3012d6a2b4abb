"""Every scheduler name in the spec's enum either runs on the tiny model or is refused with a reason."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from t2i_contract.reference_backend.schedulers import (ALGORITHM_TYPES, NOT_FOR_NOISE_PREDICTION, REFUSED,
                                                       build_scheduler)
from t2i_contract.spec import load_spec

from .support import differ, pixels

if TYPE_CHECKING:
    from .support import Server

ENUM = load_spec().document["components"]["schemas"]["Scheduler"]["enum"]
RUNS = [name for name in ENUM if name not in REFUSED and name not in NOT_FOR_NOISE_PREDICTION]
KARRAS = {"EulerDiscreteScheduler", "HeunDiscreteScheduler", "LMSDiscreteScheduler", "KDPM2DiscreteScheduler",
          "KDPM2AncestralDiscreteScheduler", "DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler",
          "UniPCMultistepScheduler", "DEISMultistepScheduler"}


def test_every_enum_value_is_either_run_or_refused() -> None:
    assert set(RUNS) | set(REFUSED) | set(NOT_FOR_NOISE_PREDICTION) == set(ENUM)
    assert set(REFUSED) == {"DDIMInverseScheduler", "KarrasVeScheduler", "ScoreSdeVeScheduler"}
    assert set(NOT_FOR_NOISE_PREDICTION) == {"IPNDMScheduler"}


@pytest.mark.parametrize("model", ["tiny-sd", "tiny-sdxl"])
def test_a_sampler_that_does_not_fit_the_model_is_refused_with_the_reason(tiny_server: Server, model: str) -> None:
    body = tiny_server.text2img(model_id=model, scheduler="IPNDMScheduler").json()
    assert body["status"] == "error" and "id" not in body
    assert body["message"] == ("scheduler IPNDMScheduler cannot run on a Stable Diffusion model (SD 1.x, 2.x, SDXL): "
                               + NOT_FOR_NOISE_PREDICTION["IPNDMScheduler"])
    assert body["errors"][0] == {"field": "scheduler", "rule": "supported", "message": body["message"],
                                 "value": "IPNDMScheduler"}


@pytest.mark.parametrize("name", RUNS)
def test_scheduler_runs_and_is_reported(tiny_server: Server, name: str) -> None:
    response = tiny_server.text2img(scheduler=name, num_inference_steps=2, base64=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    assert body["meta"]["scheduler"] == name
    assert ("use_karras_sigmas" in body["meta"]["scheduler_settings"]) == (name in KARRAS)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_non_sampler_is_refused_with_the_reason(tiny_server: Server, name: str) -> None:
    response = tiny_server.text2img(scheduler=name)
    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith(f"scheduler {name} is not supported: ")
    assert body["message"].endswith(REFUSED[name])
    assert body["errors"][0] == {"field": "scheduler", "rule": "supported", "message": body["message"], "value": name}


def test_karras_sigmas_change_the_image_where_supported(tiny_server: Server) -> None:
    on = pixels(tiny_server, scheduler="EulerDiscreteScheduler", use_karras_sigmas=True)[0]
    off = pixels(tiny_server, scheduler="EulerDiscreteScheduler", use_karras_sigmas=False)[0]
    assert differ(on, off) > 0.5


def test_karras_sigmas_on_a_scheduler_without_them_is_noted(tiny_server: Server) -> None:
    body = tiny_server.text2img(scheduler="DDIMScheduler", use_karras_sigmas=True).json()
    assert any(note.startswith("use_karras_sigmas:") for note in body["meta"]["notes"])


def test_dpmsolver_triple_plus_maps_to_sde_dpmsolver_plus_plus(tiny_server: Server) -> None:
    body = tiny_server.text2img(scheduler="DPMSolverMultistepScheduler", algorithm_type="dpmsolver+++").json()
    assert body["meta"]["scheduler_settings"]["algorithm_type"] == "sde-dpmsolver++"
    plain = tiny_server.text2img(scheduler="DPMSolverMultistepScheduler").json()
    assert "algorithm_type" not in plain["meta"]["scheduler_settings"]
    assert ALGORITHM_TYPES == {"none": None, "dpmsolver+++": "sde-dpmsolver++"}


def test_algorithm_type_on_another_scheduler_is_noted(tiny_server: Server) -> None:
    body = tiny_server.text2img(scheduler="EulerDiscreteScheduler", algorithm_type="dpmsolver+++").json()
    assert any(note.startswith("algorithm_type:") for note in body["meta"]["notes"])


def test_no_scheduler_runs_the_models_own(tiny_server: Server) -> None:
    body = tiny_server.text2img().json()
    assert body["meta"]["scheduler"] is None and body["meta"]["scheduler_used"] == "DDIMScheduler"


def test_built_scheduler_carries_the_settings() -> None:
    from diffusers import DPMSolverMultistepScheduler, PNDMScheduler

    config = DPMSolverMultistepScheduler().config
    choice = build_scheduler("DPMSolverMultistepScheduler", config, use_karras_sigmas=True,
                             algorithm_type="dpmsolver+++")
    assert choice.scheduler.config.algorithm_type == "sde-dpmsolver++"
    assert choice.scheduler.config.use_karras_sigmas is True
    pndm = build_scheduler("PNDMScheduler", config, use_karras_sigmas=False, algorithm_type="none")
    assert isinstance(pndm.scheduler, PNDMScheduler) and pndm.scheduler.config.skip_prk_steps is True


def test_the_schedulers_refused_everywhere_are_the_specs_non_samplers() -> None:
    """The names are the contract's fact (``x-t2i-non-samplers``); only the reasons are the backend's words."""
    from t2i_contract.spec import load_spec

    assert set(REFUSED) == load_spec().non_sampler_schedulers
