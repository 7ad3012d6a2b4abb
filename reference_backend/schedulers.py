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

Starting from an image (img2img, inpaint, and text2img's ``highres_fix`` pass) needs
the scheduler's ``add_noise``, which noises the init latents to the step where
``strength`` starts. diffusers gives ``IPNDMScheduler`` none, so it runs with
:class:`IPNDMFromImage` mixed in (:func:`with_mixin`), which noises in IPNDM's own
parametrisation.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any

from .errors import UnsupportedError

__all__ = ["ALGORITHM_TYPES", "REFUSED", "IPNDMFromImage", "SchedulerChoice", "build_scheduler", "scheduler_class",
           "with_mixin"]

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


class IPNDMFromImage:
    """``add_noise`` for ``IPNDMScheduler``, which diffusers leaves without one.

    IPNDM keeps a variance-preserving pair per step, ``alphas[i]`` (signal) and
    ``betas[i]`` (noise, despite the name), with ``alphas[i]**2 + betas[i]**2 == 1``:
    its ``step`` reads a sample as ``alphas[i] * x0 + betas[i] * noise``. Noising an
    init image to step ``i`` is that sum. The step is found as diffusers' own
    schedulers find it: the pipeline's begin index before the first step (img2img),
    the current step after it (inpaint's re-noised background), else the timestep.
    """

    def add_noise(self, original_samples: Any, noise: Any, timesteps: Any) -> Any:
        index = self.step_index if self.step_index is not None else self.begin_index  # type: ignore[attr-defined]
        if index is None:
            index = self.index_for_timestep(timesteps.flatten()[0])  # type: ignore[attr-defined]
        alpha = self.alphas[index].to(original_samples.device, original_samples.dtype)  # type: ignore[attr-defined]
        sigma = self.betas[index].to(original_samples.device, original_samples.dtype)  # type: ignore[attr-defined]
        return alpha * original_samples + sigma * noise


_MIXINS: dict[str, type] = {"IPNDMScheduler": IPNDMFromImage}


@functools.cache
def with_mixin(cls: type, mixin: type) -> type:
    """``cls`` with ``mixin`` in front, under ``cls``'s own name (``meta`` reports the class's name)."""
    return type(cls.__name__, (mixin, cls), {"__module__": mixin.__module__, "__doc__": cls.__doc__})


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
    if name in _MIXINS:
        cls = with_mixin(cls, _MIXINS[name])
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
