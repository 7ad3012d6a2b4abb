"""Which scheduler names may run on which family, decided by a perfect denoiser.

The tiny models' random weights say nothing about image quality, so each scheduler is
driven here by an oracle that knows the clean latents ``x0``: on SD, the noise a
noise-prediction UNet should predict at the timestep it is given; on FLUX, the flow
velocity. A sampler that fits the model ends at ``x0`` (up to the schedule's last
noise level); one that does not fit ends far from it, and the backend must refuse it.
Configs are those of the published checkpoints (SD 1.5, FLUX.1-dev, FLUX.1-schnell).
"""
from __future__ import annotations

import inspect
from typing import Any

import pytest

from t2i_contract.reference_backend.flow_schedulers import FLOW_MODE, FLOW_TWINS, build_flow_scheduler
from t2i_contract.reference_backend.schedulers import NOT_FOR_NOISE_PREDICTION, REFUSED, build_scheduler
from t2i_contract.spec import load_spec

torch = pytest.importorskip("torch")

ENUM = load_spec().document["components"]["schemas"]["Scheduler"]["enum"]
SD_RUNS = [name for name in ENUM if name not in REFUSED and name not in NOT_FOR_NOISE_PREDICTION]
FLOW_RUNS = sorted(FLOW_TWINS) + list(FLOW_MODE)
STEPS = 20
SD15 = {"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
        "clip_sample": False}
FLUX = {"dev": {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0, "use_dynamic_shifting": True,
                "base_shift": 0.5, "max_shift": 1.15, "base_image_seq_len": 256, "max_image_seq_len": 4096,
                "num_train_timesteps": 1000},
        "schnell": {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 1.0, "use_dynamic_shifting": False,
                    "base_image_seq_len": 256, "max_image_seq_len": 4096, "num_train_timesteps": 1000}}


def _config(cls: type, values: dict[str, Any]) -> Any:
    return cls.from_config(values).config


def _clean() -> Any:
    return torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.5


def _step(scheduler: Any, output: Any, t: Any, x: Any, generator: Any) -> Any:
    extra = {"generator": generator} if "generator" in inspect.signature(scheduler.step).parameters else {}
    return scheduler.step(output, t, x, return_dict=False, **extra)[0]


def sd_error(scheduler: Any) -> float:
    """Mean |x - x0| after sampling with the exact noise of SD's schedule at each timestep."""
    from diffusers import DDPMScheduler

    alphas = DDPMScheduler.from_config(SD15).alphas_cumprod.double()
    scheduler.set_timesteps(STEPS)
    x0, generator = _clean(), torch.Generator().manual_seed(1)
    x = torch.randn(x0.shape, generator=generator, dtype=torch.float64) * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        low = min(int(float(t)), 998)
        weight = float(t) - low  # a fractional timestep reads the schedule between its neighbours
        alpha = (1 - weight) * alphas[low] + weight * alphas[low + 1]
        noise = (scheduler.scale_model_input(x, t) - alpha.sqrt() * x0) / (1 - alpha).sqrt()
        x = _step(scheduler, noise, t, x, generator)
    return float((x - x0).abs().mean())


def flow_error(scheduler: Any) -> float:
    """Mean |x - x0| after sampling with the exact flow velocity, ``mu`` passed as FluxPipeline passes it."""
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift

    config = scheduler.config
    mu = calculate_shift(1024, config.get("base_image_seq_len", 256), config.get("max_image_seq_len", 4096),
                         config.get("base_shift", 0.5), config.get("max_shift", 1.15))
    scheduler.set_timesteps(STEPS, mu=mu)
    x0, generator = _clean(), torch.Generator().manual_seed(1)
    x = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
    for t in scheduler.timesteps:
        sigma = float(t) / 1000  # the transformer's timestep is sigma; x = (1 - sigma) x0 + sigma noise
        noise = (x - (1 - sigma) * x0) / sigma
        x = _step(scheduler, noise - x0, t, x, generator)
    return float((x - x0).abs().mean())


@pytest.mark.parametrize(("karras", "algorithm"), [(False, "none"), (True, "dpmsolver+++")],
                         ids=["plain", "karras-sde"])
@pytest.mark.parametrize("name", SD_RUNS)
def test_every_scheduler_run_on_sd_reaches_the_image(name: str, karras: bool, algorithm: str) -> None:
    from diffusers import PNDMScheduler

    choice = build_scheduler(name, _config(PNDMScheduler, SD15), use_karras_sigmas=karras, algorithm_type=algorithm)
    assert sd_error(choice.scheduler) < 0.05  # DDIM-like schedules stop at timestep 1: about 0.025 here


def test_ipndm_cannot_reach_the_image_on_sd_so_it_is_refused() -> None:
    from diffusers import IPNDMScheduler, PNDMScheduler

    assert sd_error(IPNDMScheduler.from_config(_config(PNDMScheduler, SD15))) > 1.0
    assert set(NOT_FOR_NOISE_PREDICTION) == {"IPNDMScheduler"}


@pytest.mark.parametrize("variant", sorted(FLUX))
@pytest.mark.parametrize("name", FLOW_RUNS)
def test_every_scheduler_run_on_flux_reaches_the_image(name: str, variant: str) -> None:
    from diffusers import FlowMatchEulerDiscreteScheduler

    base = _config(FlowMatchEulerDiscreteScheduler, FLUX[variant])
    choice = build_flow_scheduler(name, base, use_karras_sigmas=False, algorithm_type="none")
    assert flow_error(choice.scheduler) < 0.01


def test_deis_in_flow_mode_stops_short_of_the_image_so_it_is_refused() -> None:
    from diffusers import DEISMultistepScheduler

    deis = DEISMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction", flow_shift=3.0,
                                  use_dynamic_shifting=True)  # as FLUX.1-dev; mu from the default shifts
    assert deis.config.use_flow_sigmas and flow_error(deis) > 0.05
    assert float(deis.sigmas[-1]) > 0  # the schedule's end, where the residual noise comes from
