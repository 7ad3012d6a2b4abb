"""What each of the spec's 18 scheduler names runs on a flow-matching model (FLUX.1).

FLUX predicts a flow velocity, not noise, so the Stable Diffusion samplers cannot
drive it as they are. Each enum name is handled one of three ways:

- **the flow-matching twin**: ``EulerDiscreteScheduler`` runs diffusers'
  ``FlowMatchEulerDiscreteScheduler`` (FLUX's own sampler), ``EulerAncestralDiscreteScheduler``
  the same with ``stochastic_sampling=True`` (fresh noise each step, as ancestral
  samplers do), ``LCMScheduler`` runs ``FlowMatchLCMScheduler``;
- **the same class in its flow mode**: ``DPMSolverMultistepScheduler``,
  ``DPMSolverSinglestepScheduler`` and ``UniPCMultistepScheduler`` are built with
  ``use_flow_sigmas=True``,
  ``prediction_type="flow_prediction"`` and the model's shift (dynamic shifting
  carries over when the model uses it; a fixed shift is expressed as a dynamic one,
  see :func:`_flow_mode`);
- **refused**, with the reason (``FLOW_REFUSED``): DDPM, DDIM, PNDM, LMS, KDPM2,
  KDPM2 ancestral and IPNDM have no flow-matching mode in diffusers; Heun's flow form,
  ``FlowMatchHeunDiscreteScheduler``, takes no custom sigmas, which FluxPipeline always
  passes; DEIS's flow mode ends its schedule at the last shifted sigma, not at 0 (it
  has no ``final_sigmas_type``), so about 1/steps of the noise stays in the image
  (0.097 mean error from a perfect velocity predictor at 20 steps, where the three
  solvers above end within 0.001: ``tests/reference_backend/test_scheduler_oracle.py``);
  the three refused for every model stay refused (``schedulers.REFUSED``).

FLUX's img2img and inpaint pipelines (and text2img's ``highres_fix`` pass) ask two
more things of a scheduler than FluxPipeline does: they pass their own sigma list to
``set_timesteps``, and they noise the init latents with ``scale_noise``. FluxPipeline
drops that sigma list for a scheduler in flow-sigma mode, since it samples its own
shifted flow sigmas; the image-to-image pipelines do not, and DPM-Solver and UniPC
have no ``scale_noise``. So the three solvers run with :class:`FlowSolverFromImage`
mixed in (:func:`_from_image`), which does what FluxPipeline does with the sigma
list and gives ``scale_noise`` as ``add_noise``: in flow mode both are the flow
interpolation ``(1 - sigma) * x + sigma * noise``. Text2img runs the same either way.

``use_karras_sigmas`` applies to the flow-matching twins whose constructor takes it,
as for SD; on the three solvers in flow mode it gave NaN latents in diffusers 0.42, so
it is not used there and a note says so. ``algorithm_type`` applies to
``DPMSolverMultistepScheduler`` only. ``meta.scheduler_used`` names the class that
ran, and a note names it whenever it differs from the requested name.
"""
from __future__ import annotations

import functools
import math
from typing import Any

from .errors import UnsupportedError
from .schedulers import ALGORITHM_TYPES, REFUSED, SchedulerChoice, _accepts

__all__ = ["FLOW_REFUSED", "FLOW_TWINS", "FlowSolverFromImage", "build_flow_scheduler", "check_flow_scheduler"]

FLOW_TWINS: dict[str, tuple[str, dict[str, Any]]] = {
    "EulerDiscreteScheduler": ("FlowMatchEulerDiscreteScheduler", {}),
    "EulerAncestralDiscreteScheduler": ("FlowMatchEulerDiscreteScheduler", {"stochastic_sampling": True}),
    "LCMScheduler": ("FlowMatchLCMScheduler", {}),
}
FLOW_MODE = ("DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler", "UniPCMultistepScheduler")
_NO_FLOW_MODE = ("it samples noise-prediction models and has no flow-matching mode in diffusers, while FLUX "
                 "predicts a flow velocity; use EulerDiscreteScheduler (FLUX's own), "
                 "EulerAncestralDiscreteScheduler, LCMScheduler, " + ", ".join(FLOW_MODE))
FLOW_REFUSED: dict[str, str] = {name: _NO_FLOW_MODE for name in (
    "DDPMScheduler", "DDIMScheduler", "PNDMScheduler", "LMSDiscreteScheduler", "KDPM2DiscreteScheduler",
    "KDPM2AncestralDiscreteScheduler", "IPNDMScheduler")} | REFUSED | {
    "HeunDiscreteScheduler": ("its flow-matching form, FlowMatchHeunDiscreteScheduler, takes no custom sigma "
                              "schedule, and FluxPipeline always passes one"),
    "DEISMultistepScheduler": ("its flow mode in diffusers ends the schedule at the last shifted sigma instead of "
                               "0, leaving about 1/steps of the noise in the image; use "
                               + ", ".join(FLOW_MODE) + " or EulerDiscreteScheduler (FLUX's own)")}
_FLOW_KEYS = ("shift", "use_dynamic_shifting", "base_shift", "max_shift", "base_image_seq_len", "max_image_seq_len",
              "num_train_timesteps")


class FlowSolverFromImage:
    """Mixed into a solver in flow mode: what FLUX's image-to-image pipelines call on their scheduler."""

    def set_timesteps(self, num_inference_steps: int | None = None, device: Any = None,
                      sigmas: Any = None, mu: float | None = None, **kwargs: Any) -> None:
        """The solver's own flow sigmas, as FluxPipeline uses for it; a given sigma list sets only the count."""
        if num_inference_steps is None and sigmas is not None:
            num_inference_steps = len(sigmas)
        super().set_timesteps(num_inference_steps=num_inference_steps, device=device, mu=mu,  # type: ignore[misc]
                              **kwargs)

    def scale_noise(self, sample: Any, timestep: Any, noise: Any) -> Any:
        """The init latents noised to ``timestep``: ``add_noise``, which in flow mode is the flow interpolation."""
        return self.add_noise(sample, noise, timestep)  # type: ignore[attr-defined]


@functools.cache
def _from_image(cls: type) -> type:
    """``cls`` with :class:`FlowSolverFromImage` in front, under ``cls``'s own name (``meta`` reports it)."""
    return type(cls.__name__, (FlowSolverFromImage, cls), {"__module__": __name__, "__doc__": cls.__doc__})


def _flow_mode(base_config: Any) -> dict[str, Any]:
    """Flow-mode settings of a DPM-Solver/UniPC scheduler matching the model's own schedule.

    FluxPipeline always passes ``mu`` (the resolution-dependent shift), which these
    classes accept only with dynamic shifting. A fixed shift ``s`` (FLUX.1-schnell) is
    the dynamic ``exponential`` shift with ``mu = ln(s)`` at every resolution, so it is
    expressed that way: ``base_shift = max_shift = ln(s)``.
    """
    flow = {key: base_config[key] for key in _FLOW_KEYS if key in base_config}
    shift = flow.pop("shift", 1.0)
    if not flow.get("use_dynamic_shifting"):
        flow |= {"use_dynamic_shifting": True, "base_shift": math.log(shift), "max_shift": math.log(shift)}
    return {"use_flow_sigmas": True, "prediction_type": "flow_prediction", "flow_shift": shift,
            "time_shift_type": "exponential", **flow}


def check_flow_scheduler(name: str) -> None:
    """Raise the 400 for a name a flow-matching model cannot run."""
    if name in FLOW_REFUSED:
        raise UnsupportedError(f"scheduler {name} cannot run on a FLUX (flow-matching) model: {FLOW_REFUSED[name]}",
                               field="scheduler", value=name, rule="supported")


def build_flow_scheduler(name: str | None, base_config: Any, *, use_karras_sigmas: bool,
                         algorithm_type: str) -> SchedulerChoice:
    """The scheduler for ``name`` built from the model's flow-matching scheduler config."""
    import diffusers

    notes: list[str] = []
    if name is None:
        cls, overrides = getattr(diffusers, base_config["_class_name"]), {}
    elif name in FLOW_TWINS:
        twin, overrides = FLOW_TWINS[name]
        cls, overrides = getattr(diffusers, twin), dict(overrides)
    else:
        check_flow_scheduler(name)
        cls = _from_image(getattr(diffusers, name))
        overrides = {k: v for k, v in _flow_mode(base_config).items() if _accepts(cls, k)}
    if name in FLOW_MODE:
        if use_karras_sigmas:
            notes.append(f"use_karras_sigmas: Karras sigmas do not apply to {name} in flow mode (it samples the "
                         f"model's shifted flow sigmas); not used")
    elif _accepts(cls, "use_karras_sigmas"):
        overrides["use_karras_sigmas"] = use_karras_sigmas
    elif use_karras_sigmas and name is not None:
        notes.append(f"use_karras_sigmas: {cls.__name__} has no Karras sigma option; its own schedule was used")
    mapped = ALGORITHM_TYPES[algorithm_type]
    if cls.__name__ == "DPMSolverMultistepScheduler":
        if mapped is not None:
            overrides["algorithm_type"] = mapped
    elif mapped is not None:
        notes.append(f"algorithm_type: {algorithm_type} applies to DPMSolverMultistepScheduler only; "
                     f"{cls.__name__} ignores it")
    if name is not None and cls.__name__ != name:
        notes.append(f"scheduler: {name} ran as its flow-matching form {cls.__name__}"
                     + (f" ({', '.join(f'{k}={v}' for k, v in overrides.items())})" if overrides else ""))
    scheduler = cls.from_config(base_config, **overrides)
    return SchedulerChoice(scheduler, cls.__name__, overrides, notes)
