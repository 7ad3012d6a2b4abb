"""The spec's 18 scheduler names on FLUX's flow-matching sampler: eight run, ten are refused with the reason."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from t2i_contract.reference_backend.flow_schedulers import FLOW_MODE, FLOW_REFUSED, FLOW_TWINS

from .support import ROOT, differ, pixels

if TYPE_CHECKING:
    from .support import Server

RUNS = sorted(FLOW_TWINS) + list(FLOW_MODE)


def _enum() -> list[str]:
    import yaml

    document = yaml.safe_load((ROOT / "spec" / "text2img.yaml").read_text())
    return document["components"]["schemas"]["Scheduler"]["enum"]


def test_every_enum_name_either_runs_or_is_refused_on_flux() -> None:
    names = _enum()
    assert len(names) == 18
    assert sorted(RUNS + list(FLOW_REFUSED)) == sorted(names)


@pytest.mark.parametrize("name", RUNS)
def test_a_runnable_name_runs_on_both_flux_shapes(tiny_server: Server, name: str) -> None:
    for model in ("tiny-flux", "tiny-flux-schnell"):
        response = tiny_server.text2img(model_id=model, num_inference_steps=3, scheduler=name)
        assert response.status_code == 200, response.text
        meta = response.json()["meta"]
        assert meta["scheduler"] == name
        twin = FLOW_TWINS.get(name, (name, {}))[0]
        assert meta["scheduler_used"] == twin
        if twin != name:
            assert any(n.startswith(f"scheduler: {name} ran as its flow-matching form {twin}") for n in meta["notes"])


@pytest.mark.parametrize("name", sorted(FLOW_REFUSED))
def test_a_name_without_a_flow_mode_is_refused_naming_it(tiny_server: Server, name: str) -> None:
    response = tiny_server.text2img(model_id="tiny-flux", num_inference_steps=2, scheduler=name)
    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["field"] == "scheduler" and body["errors"][0]["value"] == name
    assert f"scheduler {name} cannot run on a FLUX (flow-matching) model: " in body["message"]


def test_the_flow_samplers_give_different_images(tiny_server: Server) -> None:
    euler = pixels(tiny_server, model_id="tiny-flux", num_inference_steps=3, scheduler="EulerDiscreteScheduler")[0]
    for name in ("EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler", "LCMScheduler"):
        other = pixels(tiny_server, model_id="tiny-flux", num_inference_steps=3, scheduler=name)[0]
        assert differ(other, euler) > 0.0, name


def test_karras_sigmas_apply_to_flow_euler_and_are_noted_for_flow_mode_solvers(tiny_server: Server) -> None:
    on = tiny_server.text2img(model_id="tiny-flux", num_inference_steps=2, scheduler="EulerDiscreteScheduler",
                              use_karras_sigmas=True).json()["meta"]
    off = tiny_server.text2img(model_id="tiny-flux", num_inference_steps=2, scheduler="EulerDiscreteScheduler",
                               use_karras_sigmas=False).json()["meta"]
    assert on["scheduler_settings"]["use_karras_sigmas"] is True
    assert off["scheduler_settings"]["use_karras_sigmas"] is False
    dpm = tiny_server.text2img(model_id="tiny-flux", num_inference_steps=2, scheduler="UniPCMultistepScheduler",
                               use_karras_sigmas=True).json()["meta"]
    assert any(n.startswith("use_karras_sigmas: Karras sigmas do not apply to UniPCMultistepScheduler")
               for n in dpm["notes"])


def test_algorithm_type_reaches_dpm_solver_in_flow_mode(tiny_server: Server) -> None:
    meta = tiny_server.text2img(model_id="tiny-flux-schnell", num_inference_steps=3,
                                scheduler="DPMSolverMultistepScheduler", algorithm_type="dpmsolver+++").json()["meta"]
    assert meta["scheduler_settings"]["algorithm_type"] == "sde-dpmsolver++"
    assert meta["scheduler_settings"]["prediction_type"] == "flow_prediction"
    other = tiny_server.text2img(model_id="tiny-flux", num_inference_steps=2, scheduler="LCMScheduler",
                                 algorithm_type="dpmsolver+++").json()["meta"]
    assert any(n.startswith("algorithm_type:") for n in other["notes"])


@pytest.mark.parametrize("model", ["tiny-sdxl"])
def test_sdxl_runs_the_sd_scheduler_names(tiny_server: Server, model: str) -> None:
    response = tiny_server.text2img(model_id=model, num_inference_steps=2, scheduler="DPMSolverMultistepScheduler")
    assert response.status_code == 200 and response.json()["meta"]["scheduler_used"] == "DPMSolverMultistepScheduler"
    refused = tiny_server.text2img(model_id=model, num_inference_steps=2, scheduler="KarrasVeScheduler")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "scheduler"
    sde = tiny_server.text2img(model_id=model, num_inference_steps=2, scheduler="DPMSolverMultistepScheduler",
                               algorithm_type="dpmsolver+++", use_karras_sigmas=False).json()["meta"]
    assert sde["scheduler_settings"] == {"use_karras_sigmas": False, "algorithm_type": "sde-dpmsolver++"}
    ddim = tiny_server.text2img(model_id=model, num_inference_steps=2, scheduler="DDIMScheduler").json()["meta"]
    assert any(n.startswith("use_karras_sigmas: DDIMScheduler has no Karras sigma option") for n in ddim["notes"])
