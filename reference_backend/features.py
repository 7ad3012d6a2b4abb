"""The request fields beyond Stable Diffusion's own arguments, and what this backend does with each.

=================  =============================================================
field              what happens
=================  =============================================================
upscale            done: every image is enlarged 2x with Pillow's LANCZOS filter
                   (``UPSCALE_RESAMPLER``) after the safety checker ran. No
                   upscaler model is involved; ``meta.upscaler`` says so.
highres_fix        done, in ``diffusion.py``: generate at half the size, enlarge
                   with LANCZOS, then refine at the requested size with the
                   family's img2img pipeline at strength ``HIGHRES_STRENGTH``,
                   same prompt, LoRAs, scheduler and seed.
enhance_prompt     not done: there is no prompt-rewriting model here. The prompt
                   runs as sent and ``meta.notes`` says so (the field defaults to
                   true, so refusing it would refuse nearly every request).
multi_lingual      not done: no translation model. The prompt runs as sent
                   (CLIP reads it as it is) and ``meta.notes`` says so.
ip_adapter_*       done, in ``ip_adapter.py``: a local adapter from
                   ``--ip-adapters DIR`` with its image encoder, the reference
                   image fetched under the server's URL policy.
temp               done: images are kept ``temp_ttl`` seconds (a day by default)
                   and then deleted; fetch then answers that they expired.
=================  =============================================================
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

    from t2i_contract.spec import Text2ImgRequest

__all__ = ["HIGHRES_STRENGTH", "UPSCALE_FACTOR", "UPSCALE_RESAMPLER", "field_notes", "upscale"]

UPSCALE_FACTOR = 2
UPSCALE_RESAMPLER = "LANCZOS"
HIGHRES_STRENGTH = 0.5


def field_notes(request: Text2ImgRequest) -> list[str]:
    """Notes for ``meta`` about the fields this backend accepts but does not act on."""
    notes = []
    if request.enhance_prompt:
        notes.append("enhance_prompt: this backend has no prompt enhancer; the prompt was used as sent")
    if getattr(request, "multi_lingual", False):  # text2img only
        notes.append("multi_lingual: this backend has no translator; the prompt was used as sent")
    return notes


def upscale(images: list[Image]) -> list[Image]:
    """Enlarge each image ``UPSCALE_FACTOR`` times with the documented resampler."""
    from PIL import Image as PILImage

    resampler = getattr(PILImage.Resampling, UPSCALE_RESAMPLER)
    return [image.resize((image.width * UPSCALE_FACTOR, image.height * UPSCALE_FACTOR), resampler)
            for image in images]
