"""Which diffusers scheduler a request's ``scheduler`` name builds, with which settings.

Every name in the spec's enum is handled here, one of two ways:

- **runs**: built with ``from_config`` from the model's own scheduler config, so the
  model's beta schedule and prediction type carry over;
- **refused** with a :class:`~reference_backend.errors.UnsupportedError` that says why:
  ``DDIMInverseScheduler`` maps images back to noise (it is for inversion/editing and
  cannot sample an image from noise); ``KarrasVeScheduler``'s ``step`` needs the
  extra "churned" sample of Karras' stochastic sampler, which Stable Diffusion's
  sampling loop never computes (and diffusers deprecated it);
  ``ScoreSdeVeScheduler`` is a predictor-corrector for variance-exploding score
  models, with no ``step`` that the epsilon-prediction loop can call.

Settings:

- ``use_karras_sigmas`` is passed to the schedulers whose constructor takes it (Euler,
  Heun, LMS, KDPM2, KDPM2 ancestral, both DPM-Solvers, UniPC, DEIS); elsewhere a note
  in ``meta`` says it did not apply.
- ``algorithm_type: "dpmsolver+++"`` is the vendor's name; this backend maps it to
  diffusers' ``algorithm_type="sde-dpmsolver++"`` on ``DPMSolverMultistepScheduler``
  (DPM-Solver++ with the SDE variant, the web UIs' "DPM++ 2M SDE"). ``none`` keeps
  the default ``dpmsolver++``. On any other scheduler the field does not apply and
  a note says so.
- ``PNDMScheduler`` is built with ``skip_prk_steps=True``, as Stable Diffusion's own
  scheduler config does; with Runge-Kutta warm-up steps it cannot run under 10 steps.
- With no ``scheduler`` in the request the model's own scheduler runs.

Beyond those three, a name can be a sampler and still not fit the model
(``x-t2i-model-dependent`` in the spec, DECISIONS D23). ``IPNDMScheduler`` is refused
on these models (``NOT_FOR_NOISE_PREDICTION``): it samples v-objective models in
continuous time t in [0, 1] (diffusers uses it for Dance Diffusion), so a UNet that
predicts noise at timesteps 0-999 gets neither what it was trained on; fed a perfect
noise predictor it ends 10^10 away from the image (``tests/reference_backend/
test_scheduler_oracle.py``), where every scheduler run here ends within 0.03.
"""
from __future__ import annotations

import inspect
from typing import Any

from .errors import UnsupportedError

__all__ = ["ALGORITHM_TYPES", "NOT_FOR_NOISE_PREDICTION", "REFUSED", "SchedulerChoice", "build_scheduler",
           "scheduler_class"]

REFUSED: dict[str, str] = {
    "DDIMInverseScheduler": "it inverts images back into noise (for image editing) and cannot sample an image from noise",
    "KarrasVeScheduler": ("its step() needs the 'churned' sample of Karras' stochastic sampler, which the Stable "
                          "Diffusion sampling loop does not compute; diffusers deprecated it"),
    "ScoreSdeVeScheduler": ("it is a predictor-corrector sampler for variance-exploding score models and has no "
                            "step() the Stable Diffusion sampling loop can drive"),
}
ALGORITHM_TYPES = {"none": None, "dpmsolver+++": "sde-dpmsolver++"}
_DPM_MULTISTEP = "DPMSolverMultistepScheduler"
_FIXED_OVERRIDES: dict[str, dict[str, Any]] = {"PNDMScheduler": {"skip_prk_steps": True}}


NOT_FOR_NOISE_PREDICTION: dict[str, str] = {
    "IPNDMScheduler": ("it samples v-objective models in continuous time t in [0, 1] (diffusers uses it for Dance "
                       "Diffusion), while these UNets predict noise at timesteps 0-999, so it cannot reach an image"),
}
"""Samplers refused on SD 1.x/2.x and SDXL (noise-prediction UNets), with the reason."""


class SchedulerChoice:
    """The scheduler to run and what was done with the request's scheduler fields."""

    def __init__(self, scheduler: Any, name: str, settings: dict[str, Any], notes: list[str]) -> None:
        self.scheduler = scheduler
        self.name = name
        self.settings = settings
        self.notes = notes


def _accepts(cls: type, parameter: str) -> bool:
    return parameter in inspect.signature(cls.__init__).parameters


def scheduler_class(name: str) -> type:
    """The diffusers class for an enum name, or an UnsupportedError saying why not."""
    import diffusers

    if name in REFUSED:
        raise UnsupportedError(f"scheduler {name} is not supported: {REFUSED[name]}",
                               field="scheduler", value=name, rule="supported")
    if name in NOT_FOR_NOISE_PREDICTION:
        raise UnsupportedError(f"scheduler {name} cannot run on a Stable Diffusion model (SD 1.x, 2.x, SDXL): "
                               f"{NOT_FOR_NOISE_PREDICTION[name]}", field="scheduler", value=name, rule="supported")
    cls = getattr(diffusers, name, None)
    if cls is None or not hasattr(cls, "from_config"):
        raise UnsupportedError(f"scheduler {name} is not available in the installed diffusers",
                               field="scheduler", value=name, rule="supported")
    return cls


def build_scheduler(name: str | None, base_config: Any, *, use_karras_sigmas: bool,
                    algorithm_type: str) -> SchedulerChoice:
    """Build the scheduler a request asks for from the model's scheduler config."""
    notes: list[str] = []
    requested = name
    if name is None:
        name = base_config["_class_name"]
    cls = scheduler_class(name)
    overrides: dict[str, Any] = dict(_FIXED_OVERRIDES.get(name, {}))
    if _accepts(cls, "use_karras_sigmas"):
        overrides["use_karras_sigmas"] = use_karras_sigmas
    elif use_karras_sigmas and requested is not None:
        notes.append(f"use_karras_sigmas: {name} has no Karras sigma option; its own schedule was used")
    mapped = ALGORITHM_TYPES[algorithm_type]
    if name == _DPM_MULTISTEP:
        if mapped is not None:
            overrides["algorithm_type"] = mapped
    elif mapped is not None:
        notes.append(f"algorithm_type: {algorithm_type} applies to {_DPM_MULTISTEP} only; {name} ignores it")
    scheduler = cls.from_config(base_config, **overrides)
    return SchedulerChoice(scheduler, name, overrides, notes)
