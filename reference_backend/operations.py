"""img2img and inpaint on top of the text2img machinery: the family's own pipelines, built with ``from_pipe``.

A request of either operation arrives with its input images already loaded and
checked by the protocol layer (``Call.inputs``), and its ``width`` and ``height``
set to the init image's size (DECISIONS D20). The job store keeps those images, as
the client sent them, in base64 beside the request (:func:`encode_inputs`), so a job
survives a restart without fetching anything again.

The pipeline is the family's ``img2img`` or ``inpaint`` class (``Family.pipelines``)
made with ``from_pipe`` from the loaded text2img pipeline, so it shares every module:
the LoRAs, scheduler, VAE and IP-Adapter set for the request apply as in text2img.
``StableDiffusionInpaintPipeline`` (and SDXL's) runs an inpainting checkpoint (a
UNet with 9 input channels: latents, mask, masked-image latents) as such, and a
plain model the generic way (noising the init latents and blending the unmasked
ones back at each step).

**Sizes**: the models work on sizes that are a multiple of 8 (16 for FLUX). An init
image of another size runs at the nearest smaller multiple and each result is
resized back to the init image's size with Lanczos (a note in ``meta`` says so).

**Paste-back**: the VAE cannot give back an image exactly, so after inpainting
every output is composited over the init image through the mask, as web UIs do:
where the mask is black the init image's pixels are returned exactly, where it is
white the generated ones, and a grey pixel blends them by its value.

**strength** is diffusers': the share of the schedule run from the noised init
image (:func:`denoising_steps` counts the steps as each family's pipeline does:
``int(steps x strength)`` for SD and SDXL, FLUX rounding the other way). Where that
is no step at all (``strength`` 0, or too few steps for it), the init image is
returned as it is, as the spec says of strength 0, with a note in ``meta``; the
diffusers pipelines would raise instead.
"""
from __future__ import annotations

import base64
import json
import warnings
from typing import TYPE_CHECKING, Any, Mapping

from t2i_contract.spec import GenerationRequest, Img2ImgRequest, InpaintRequest, Text2ImgRequest

from .errors import UnsupportedError

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["INPAINT_CHANNELS", "REQUEST_TYPES", "check_operation", "decode_inputs", "denoising_steps",
           "encode_inputs", "run_from_init"]

REQUEST_TYPES: dict[str, type[GenerationRequest]] = {
    cls.OPERATION: cls for cls in (Text2ImgRequest, Img2ImgRequest, InpaintRequest)}
"""The request class of each generation operation, to read a stored job back."""
INPAINT_CHANNELS = 9
"""The UNet input channels of an inpainting checkpoint."""


def encode_inputs(inputs: Mapping[str, bytes]) -> dict[str, str]:
    """Input images as the client sent them (``Call.input_data``), base64, for the job store: never re-encoded."""
    return {name: base64.b64encode(data).decode("ascii") for name, data in inputs.items()}


def decode_inputs(encoded: Mapping[str, str]) -> dict[str, Image]:
    """The stored input images as loaded at intake (EXIF orientation applied, RGB or RGBA)."""
    from t2i_contract.wire.images import decode_checked

    return {name: decode_checked(base64.b64decode(text)) for name, text in encoded.items()}


def check_operation(request: GenerationRequest, model_in_channels: int | None, family_title: str,
                    family_pipelines: Mapping[str, str]) -> None:
    """A 400 now for a request its model cannot run: an operation its family or its UNet does not do."""
    operation = request.OPERATION
    if operation not in family_pipelines:
        raise UnsupportedError(f"{operation} is not available for {family_title} models in this backend "
                               f"(diffusers has no such pipeline here)", field="model_id",
                               value=request.model_id, rule="operation")
    if model_in_channels == INPAINT_CHANNELS and operation != "inpaint":
        raise UnsupportedError(f"model {request.model_id} is an inpainting model (its UNet takes 9 channels: "
                               f"latents, mask and masked image); use it with inpaint, not {operation}",
                               field="model_id", value=request.model_id, rule="operation")


def denoising_steps(family: str, steps: int, strength: float) -> int:
    """How many steps the family's img2img/inpaint pipeline runs for ``steps`` and ``strength``."""
    if family == "flux":  # FluxImg2ImgPipeline.get_timesteps keeps steps x strength as a float
        return steps - int(max(steps - steps * strength, 0))
    return min(int(steps * strength), steps)


def run_from_init(pipe: Any, pipeline_class: str, request: Img2ImgRequest, inputs: Mapping[str, Image],
                  kwargs: dict[str, Any], common: dict[str, Any], family: Any,
                  notes: list[str]) -> tuple[list[Image], str]:
    """Run img2img or inpaint from ``pipe``'s modules; the finished images (init size) and the pipeline's name."""
    import inspect

    import diffusers
    from PIL import Image

    if denoising_steps(family.name, request.num_inference_steps, request.strength) < 1:
        notes.append(f"strength {request.strength:g} with num_inference_steps {request.num_inference_steps} "
                     f"leaves no denoising step: the init image is returned as it is")
        return [inputs["init_image"].convert("RGB") for _ in range(request.samples)], "none (no denoising step)"
    multiple = family.size_multiple
    derived = getattr(diffusers, pipeline_class).from_pipe(pipe)
    derived.set_progress_bar_config(disable=True)
    derived.scheduler, derived.vae = pipe.scheduler, pipe.vae
    accepted = inspect.signature(derived.__call__).parameters
    size = (request.width, request.height)
    run = (max(multiple, size[0] // multiple * multiple), max(multiple, size[1] // multiple * multiple))
    init = inputs["init_image"].convert("RGB")
    mask = inputs["mask_image"].convert("L") if isinstance(request, InpaintRequest) else None
    call = {**kwargs, **common, "image": _sized(init, run), "strength": request.strength,
            "num_images_per_prompt": request.samples}
    if mask is not None:
        call["mask_image"] = _sized(mask, run)
    if "width" in accepted:
        call |= {"width": run[0], "height": run[1]}
    if "original_size" in accepted:
        call |= {"original_size": (run[1], run[0]), "target_size": (run[1], run[0])}
    dropped = sorted(name for name in call if name not in accepted)
    for name in dropped:
        del call[name]
    if dropped:
        notes.append(f"{pipeline_class} takes no {', '.join(dropped)}; not applied")
    if run != size:
        notes.append(f"the init image is {size[0]}x{size[1]}; it ran at {run[0]}x{run[1]} (a multiple of "
                     f"{multiple}) and the results were resized back with Lanczos")
    with warnings.catch_warnings():
        # samples > 1 from one init image: diffusers duplicates the image, which is what we want, and warns that
        # the duplication is deprecated (its suggested fix, a list of images, changes the batch semantics)
        warnings.filterwarnings("ignore", message=r"You have passed \d+ text prompts", category=FutureWarning)
        produced = derived(**call).images
    images = [image if image.size == size else image.resize(size, Image.Resampling.LANCZOS) for image in produced]
    if mask is not None:  # paste-back: black mask pixels keep the init image exactly
        images = [Image.composite(image.convert("RGB"), init, mask) for image in images]
        notes.append("inpaint: the unmasked region of init_image is pasted back over each result")
    return images, type(derived).__name__


def _sized(image: Image, size: tuple[int, int]) -> Image:
    from PIL import Image as PILImage

    return image if image.size == size else image.resize(size, PILImage.Resampling.LANCZOS)


def stored_request(text: str) -> tuple[GenerationRequest, dict[str, str]]:
    """A job's request and input images (still encoded: :func:`decode_inputs`) from :func:`request_json`."""
    data = json.loads(text)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data["meta"].items()}
    cls = REQUEST_TYPES[data.get("operation", "text2img")]
    return cls(key="", **values, extra=data["extra"]), data.get("inputs", {})


def request_json(request: GenerationRequest, inputs: Mapping[str, bytes] | None = None) -> str:
    """A job's request (never its key) and its input images, as the job store keeps them."""
    return json.dumps({"operation": request.OPERATION, "meta": request.to_meta(), "extra": dict(request.extra),
                       "inputs": encode_inputs(inputs or {})})
