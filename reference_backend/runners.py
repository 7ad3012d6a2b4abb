"""How each family turns a request into the arguments of its diffusers pipeline.

:func:`pipeline_arguments` returns the keyword arguments of one pipeline call (all
but ``width``/``height``, so the same arguments serve a highres-fix pass), the notes
for ``meta`` about fields that apply differently to the family, and extra ``meta``
entries. Per family:

- **SD 1.x/2.x**: prompts are encoded here with ``clip_skip`` applied (see
  :func:`encode_clip`); classic classifier-free guidance at ``guidance_scale``.
- **SDXL**: both text encoders are encoded here, the API's ``clip_skip`` choosing the
  hidden layer of each (``hidden_states[-clip_skip]``, no final norm, as SDXL was
  trained: the default 2 is SDXL's own penultimate layer); the pooled vector is the
  second encoder's projection. An empty negative prompt gives zero embeddings when
  the model says ``force_zeros_for_empty_prompt``, as diffusers does. Size
  conditioning: ``original_size = target_size = (height, width)``, crop ``(0, 0)``,
  reported in ``meta.size_conditioning``.
- **FLUX.1**: ``guidance_scale`` feeds the distilled guidance input of the dev shape;
  schnell has none. A ``negative_prompt`` runs true classifier-free guidance with
  ``true_cfg_scale = guidance_scale`` (two transformer passes per step), which needs
  a scale above 1. ``clip_skip`` does not apply: FLUX takes only CLIP's pooled output.
  The T5 prompt length is 512 tokens for dev and 256 for schnell, as they were trained.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import UnsupportedError

if TYPE_CHECKING:
    from t2i_contract.spec import Text2ImgRequest

    from .families import Family

__all__ = ["BATCH_FAMILIES", "api_clip_skip_to_diffusers", "encode_clip", "merge_arguments", "pipeline_arguments"]

BATCH_FAMILIES = frozenset({"sd1", "sd2", "sdxl"})
"""Families whose requests can share one pipeline call: their prompts arrive as embeddings, one row per request,
so a batch is the rows stacked. FLUX takes prompt strings and runs true CFG only for some requests: never batched."""

FLUX_MAX_SEQUENCE = {"dev": 512, "schnell": 256}
"""T5 tokens per prompt, as each variant was trained (diffusers' FLUX docs use 256 for schnell)."""


def api_clip_skip_to_diffusers(clip_skip: int) -> int | None:
    """API 1 (last layer) -> None; API n -> n - 1 layers skipped."""
    return clip_skip - 1 or None


def _check_layers(request: Text2ImgRequest, layers: int) -> None:
    if request.clip_skip > layers:
        raise UnsupportedError(
            f"clip_skip {request.clip_skip} would go past the {layers} text-encoder layers of model "
            f"{request.model_id}; at most {layers} is accepted for it",
            field="clip_skip", value=request.clip_skip, rule="maximum")


def encode_clip(pipe: Any, prompts: list[str], clip_skip: int | None) -> Any:
    """SD's CLIP embeddings with ``clip_skip`` applied, as diffusers' encode_prompt computes them.

    Done here rather than through the pipeline's ``clip_skip`` argument because that
    path reaches for ``text_encoder.text_model``, which newer transformers releases
    no longer have. The negative prompt gets the same layer, as web UIs do.
    """
    tokenizer, encoder = pipe.tokenizer, pipe.text_encoder
    ids = tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids.to(encoder.device)
    output = encoder(ids, output_hidden_states=clip_skip is not None)
    if clip_skip is None:
        return output[0]
    final_norm = getattr(encoder, "text_model", encoder).final_layer_norm
    return final_norm(output.hidden_states[-(clip_skip + 1)])


def _sd(pipe: Any, request: Text2ImgRequest) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    clip_skip = api_clip_skip_to_diffusers(request.clip_skip)
    _check_layers(request, pipe.text_encoder.config.num_hidden_layers)
    positive = encode_clip(pipe, [request.prompt], clip_skip)
    negative = encode_clip(pipe, [request.negative_prompt or ""], clip_skip)
    return ({"prompt_embeds": positive, "negative_prompt_embeds": negative,
             "guidance_scale": request.guidance_scale}, [], {"clip_skip_diffusers": clip_skip})


def _sdxl_encode(pipe: Any, prompt: str, layer: int) -> tuple[Any, Any]:
    embeds, pooled = [], None
    for tokenizer, encoder in ((pipe.tokenizer, pipe.text_encoder), (pipe.tokenizer_2, pipe.text_encoder_2)):
        ids = tokenizer([prompt], padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                        return_tensors="pt").input_ids.to(encoder.device)
        output = encoder(ids, output_hidden_states=True)
        embeds.append(output.hidden_states[-layer])
        pooled = getattr(output, "text_embeds", None)
    import torch

    return torch.cat(embeds, dim=-1), pooled


def _sdxl(pipe: Any, request: Text2ImgRequest) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    import torch

    _check_layers(request, min(pipe.text_encoder.config.num_hidden_layers,
                               pipe.text_encoder_2.config.num_hidden_layers))
    positive, pooled = _sdxl_encode(pipe, request.prompt, request.clip_skip)
    info: dict[str, Any] = {"clip_skip_layer": f"hidden_states[-{request.clip_skip}] of both text encoders"}
    if not request.negative_prompt and pipe.config.get("force_zeros_for_empty_prompt", False):
        negative, negative_pooled = torch.zeros_like(positive), torch.zeros_like(pooled)
        info["negative_prompt_embeds"] = "zeros (force_zeros_for_empty_prompt)"
    else:
        negative, negative_pooled = _sdxl_encode(pipe, request.negative_prompt or "", request.clip_skip)
    size = (request.height, request.width)
    info["size_conditioning"] = {"original_size": list(size), "target_size": list(size),
                                 "crops_coords_top_left": [0, 0]}
    return ({"prompt_embeds": positive, "negative_prompt_embeds": negative, "pooled_prompt_embeds": pooled,
             "negative_pooled_prompt_embeds": negative_pooled, "guidance_scale": request.guidance_scale,
             "original_size": size, "target_size": size, "crops_coords_top_left": (0, 0)}, [], info)


def _flux(pipe: Any, request: Text2ImgRequest, variant: str) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    notes = [f"clip_skip: FLUX uses only CLIP's pooled output and T5's last layer, so no layer can be skipped; "
             f"clip_skip {request.clip_skip} was not applied"]
    kwargs: dict[str, Any] = {"prompt": request.prompt,
                              "max_sequence_length": min(FLUX_MAX_SEQUENCE.get(variant, 512),
                                                         pipe.tokenizer_2.model_max_length)}
    info: dict[str, Any] = {"variant": variant}
    if variant == "dev":
        kwargs["guidance_scale"] = request.guidance_scale
        info["guidance"] = f"distilled guidance input {request.guidance_scale:g}"
    if request.negative_prompt:
        if request.guidance_scale > 1:
            kwargs |= {"negative_prompt": request.negative_prompt, "true_cfg_scale": request.guidance_scale}
            info["true_cfg_scale"] = request.guidance_scale
            notes.append(f"negative_prompt: FLUX is guidance-distilled; the negative prompt ran as true "
                         f"classifier-free guidance at true_cfg_scale = guidance_scale ({request.guidance_scale:g}), "
                         f"two transformer passes per step")
        else:
            notes.append(f"negative_prompt: true classifier-free guidance needs guidance_scale above 1, got "
                         f"{request.guidance_scale:g}; the negative prompt was not used")
    elif variant != "dev":
        notes.append(f"guidance_scale: FLUX.1-schnell has no guidance input (it is timestep-distilled); "
                     f"{request.guidance_scale:g} was not applied (send a negative_prompt for true CFG)")
    return kwargs, notes, info


def pipeline_arguments(family: Family, variant: str, pipe: Any,
                       request: Text2ImgRequest) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """Pipeline keyword arguments (no size, generator or batch), notes and ``meta`` entries."""
    if family.name == "flux":
        return _flux(pipe, request, variant)
    if family.name == "sdxl":
        return _sdxl(pipe, request)
    return _sd(pipe, request)


def merge_arguments(each: list[dict[str, Any]]) -> dict[str, Any]:
    """One pipeline call's arguments for a batch, from each request's :func:`pipeline_arguments`: the embeddings
    stacked in request order (one row each), every other argument the same for all (a ValueError if not)."""
    import torch

    merged: dict[str, Any] = {}
    for name, first in each[0].items():
        values = [kwargs[name] for kwargs in each]
        if isinstance(first, torch.Tensor):
            if any(value.shape[0] != 1 for value in values):
                raise ValueError(f"{name} is not one row per request; these requests cannot share a call")
            merged[name] = torch.cat(values, dim=0)
        elif any(value != first for value in values):
            raise ValueError(f"{name} differs between the requests ({values!r}); they cannot share a call")
        else:
            merged[name] = first
    return merged
