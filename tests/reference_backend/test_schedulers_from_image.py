"""Every scheduler name on every path that starts from an image (img2img, inpaint, text2img's highres_fix),
on SD, SDXL and FLUX: it runs, or it is the same 400 naming the scheduler as in text2img. Never a 500.

A randomly seeded contract run once found IPNDMScheduler failing img2img with a 500 (diffusers gives it no
``add_noise``; it is now refused on SD and SDXL, see ``test_scheduler_oracle.py``), and FLUX's flow-mode
solvers failed the same way; this table asks every name on every family so no such hole is left for a seed
to find.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from t2i_contract.reference_backend.flow_schedulers import FLOW_MODE, FLOW_REFUSED, build_flow_scheduler
from t2i_contract.reference_backend.schedulers import NOT_FOR_NOISE_PREDICTION, REFUSED
from t2i_contract.spec import load_spec
from tests.input_images import half_mask, photo, png_base64

from .support import API, KEY, Server, decode_png, differ

ENUM = load_spec().document["components"]["schemas"]["Scheduler"]["enum"]
SD_REFUSED = set(REFUSED) | set(NOT_FOR_NOISE_PREDICTION)
REFUSED_FROM_IMAGE = {"tiny-sd": SD_REFUSED, "tiny-sdxl": SD_REFUSED, "tiny-flux": set(FLOW_REFUSED)}
"""Exactly what text2img refuses on each family: starting from an image refuses nothing more."""
MIXED_IN = [("tiny-flux", name) for name in FLOW_MODE]
"""The names that run from an image only through this backend's mix-in."""


def from_image(server: Server, operation: str, **fields: Any) -> Any:
    init = photo()
    body = {"key": KEY, "prompt": "a red lighthouse", "num_inference_steps": 3, "strength": 0.7, "seed": 5,
            "base64": True, "init_image": png_base64(init), **fields}
    if operation == "inpaint":
        body["mask_image"] = png_base64(half_mask(init.size))
    return server.post(f"{API}/{operation}", body)


@pytest.mark.parametrize("model", sorted(REFUSED_FROM_IMAGE))
@pytest.mark.parametrize("operation", ["img2img", "inpaint"])
def test_every_scheduler_runs_from_an_image_or_is_refused_by_name(tiny_server: Server, operation: str,
                                                                  model: str) -> None:
    refused = set()
    for name in ENUM:
        response = from_image(tiny_server, operation, model_id=model, scheduler=name)
        assert response.status_code in (200, 400), f"{name}: {response.status_code} {response.text}"
        body = response.json()
        if response.status_code == 400:
            assert body["errors"][0]["field"] == "scheduler" and body["errors"][0]["value"] == name, body
            assert "id" not in body, f"{name}: a refused request was stored as job {body.get('id')}"
            refused.add(name)
            continue
        assert body["status"] == "success", body
        assert body["meta"]["scheduler"] == name
        assert decode_png(body["output"][0]).size == photo().size
    assert refused == REFUSED_FROM_IMAGE[model]


def test_highres_fix_starts_from_an_image_too(tiny_server: Server) -> None:
    for model, name in MIXED_IN:
        response = tiny_server.text2img(model_id=model, scheduler=name, highres_fix=True, base64=True)
        assert response.status_code == 200, f"{name}: {response.text}"
        assert "+" in response.json()["meta"]["pipeline"]  # the img2img refine pass ran


@pytest.mark.parametrize(("model", "name"), MIXED_IN)
@pytest.mark.parametrize("operation", ["img2img", "inpaint"])
def test_mixed_in_schedulers_start_from_the_init_image(tiny_server: Server, operation: str, model: str,
                                                       name: str) -> None:
    """The init image and the strength both reach the result (the tiny VAE's random decoder rules out comparing
    the result with the init image itself; the noising is checked exactly below)."""
    def run(strength: float, colour: tuple[int, int, int] = (30, 140, 200)) -> np.ndarray:
        response = from_image(tiny_server, operation, model_id=model, scheduler=name, strength=strength,
                              num_inference_steps=10, init_image=png_base64(photo(colour=colour)))
        assert response.status_code == 200, response.text
        return np.asarray(decode_png(response.json()["output"][0]).convert("RGB"), dtype=np.float32)

    weak = run(0.3)
    assert differ(weak, run(1.0)) > 1.0
    assert differ(weak, run(0.3, colour=(220, 20, 20))) > 1.0


@pytest.mark.parametrize("name", FLOW_MODE)
def test_flow_mode_noising_is_the_flow_interpolation_at_the_start_step(name: str) -> None:
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler

    config = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True).config
    scheduler = build_flow_scheduler(name, config, use_karras_sigmas=False, algorithm_type="none").scheduler
    scheduler.set_timesteps(sigmas=np.linspace(1.0, 0.1, 10).tolist(), mu=0.5)  # as FluxImg2ImgPipeline calls it
    assert len(scheduler.timesteps) == 10
    scheduler.set_begin_index(4)
    sample, noise = torch.ones(1, 4, 2, 2), torch.full((1, 4, 2, 2), -1.0)
    sigma = float(scheduler.sigmas[4])
    assert 0.0 < sigma < 1.0
    noised = scheduler.scale_noise(sample, scheduler.timesteps[4:5], noise)
    assert torch.allclose(noised, torch.full_like(sample, (1 - sigma) - sigma))
