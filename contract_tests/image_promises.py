"""What img2img and inpaint promise about their pixels: the init image, strength and the seed matter.

:func:`image_promises` sends five cheap bodies to one operation, all with a fixed seed
and the suite's init image A unless said otherwise:

1. strength low; 2. the same again; 3. another seed; 4. init image B (another picture of
the same size); 5. strength high;

and judges, on the outputs that decode at the init image's size:

* ``determinism`` (1 = 2, 1 != 3): the same seed gives the same pixels, another seed others;
* ``init_image_used`` (1 != 4, each output nearer its own init image than the other's);
* ``strength_matters`` (1 != 5, and 1 nearer the init image than 5).

"Nearer" is the mean absolute difference of the pictures scaled down to 32x24 RGB, so only
the order is asked, never a threshold: the spec says the init image is the starting point
and strength how far the output may move from it (0 keeps it, 1 ignores it); how much a
model changes at a given strength is its own. Where the outputs resemble neither init image
(each is farther from its own than half the two init images' own difference: a model that
cannot redraw a picture, such as the random weights of the tests' tiny models), only
"different outputs" is asked of both checks. An inpaint output keeps the unmasked pixels
either way (``inpaint_preserves``), which only makes it nearer its own init image.
``strength_matters`` judges only once ``init_image_used`` has seen the init image reach the
output: whether the output moves away from an init image the server never used says
nothing about strength.
"""
from __future__ import annotations

import random
from typing import Any, Callable

from PIL import Image

from t2i_contract.wire.seeds import seed_range

from .engine import Engine, Inputs, Outcome
from .images import LoadedImage
from .recording import Recorder
from .registry import Verdict

__all__ = ["difference", "image_promises", "resemblance"]

_SCALED = (32, 24)
LOW, HIGH = 0.25, 0.9  # inside every Strength schema's range [0, 1]; the probes clamp to the schema's bounds

def _scaled(size: tuple[int, int], rgba: bytes) -> bytes:
    return Image.frombytes("RGBA", size, rgba).convert("RGB").resize(_SCALED).tobytes()


def difference(a: tuple[tuple[int, int], bytes], b: tuple[tuple[int, int], bytes]) -> float:
    """Mean absolute difference (0-255) between two pictures ``(size, rgba)``, both scaled to 32x24 RGB."""
    x, y = _scaled(*a), _scaled(*b)
    return sum(abs(p - q) for p, q in zip(x, y)) / len(x)


def resemblance(image: LoadedImage, init: tuple[tuple[int, int], bytes]) -> float:
    """:func:`difference` between an output and an init image."""
    return difference((image.size or init[0], image.rgba), init)


def _first(out: Outcome, size: tuple[int, int]) -> LoadedImage | None:
    """The first output image, when it decoded at the init image's size (else ``img2img_size`` says why)."""
    image = out.images[0] if out.images else None
    return image if image is not None and not image.problem and image.size == size and image.rgba else None


def _strengths(engine: Engine, operation: str) -> tuple[float, float] | None:
    fields = {item.name: item.schema for item in engine.spec.request_fields(operation)}
    if "strength" not in fields:
        return None
    low, high = fields["strength"].get("minimum", 0), fields["strength"].get("maximum", 1)
    return max(LOW, low), min(HIGH, high)


def image_promises(engine: Engine, recorder: Recorder, operation: str, body: Callable[..., dict[str, Any]],
                   inputs: dict[str, Inputs], values: dict[str, str], context: str = "") -> None:
    """The five probes above on ``operation``; ``body(**fields)`` makes a cheap valid body with init image A,
    ``values`` holds the field values of init images ``"A"`` and ``"B"``, ``inputs`` their pixels (and the mask's)."""
    seeds = seed_range(engine.spec, operation)
    seed = seeds.pick(random.Random(engine.seed + 1).randrange)
    strengths = _strengths(engine, operation)
    low = {"strength": strengths[0]} if strengths else {}
    high = {"strength": strengths[1]} if strengths else {}
    base = body(prompt="init image probe", samples=1, num_inference_steps=10, seed=seed) | low
    sent = {"same": base, "again": base, "other seed": base | {"seed": seeds.next(seed)},
            "init B": base | {"init_image": values["B"]}, "high strength": base | high}
    outs = {name: engine.evaluate_valid(b, operation=operation, inputs=inputs["B" if name == "init B" else "A"])
            for name, b in sent.items() if name != "high strength" or strengths}
    for out in outs.values():
        recorder.record(out, context=context)
    size = inputs["A"]["init_image"][0]
    image = {name: _first(out, size) for name, out in outs.items()}
    judged = Outcome()
    where = outs["same"].exchange
    said = f"{operation}, seed {seed}" + (f", strength {low['strength']:g}" if low else "")
    if image["same"] is not None and image["again"] is not None and image["other seed"] is not None:
        judged.judge("determinism", [] if image["same"].fingerprint == image["again"].fingerprint else [
            f"{said}: the same body twice gave different pixels (the spec: the same seed and parameters give the "
            "same images)"], outs["again"].exchange)
        judged.judge("determinism", [] if image["same"].fingerprint != image["other seed"].fingerprint else [
            f"{said}: seeds {seed} and {seeds.next(seed)} gave identical pixels (the spec: the seed decides the "
            "noise)"], outs["other seed"].exchange)
    used, resembles = _init_image_used(image["same"], image["init B"], inputs, said)
    judged.judge("init_image_used", used, outs["init B"].exchange or where)
    if strengths and used.judged and not used.problems:
        judged.judge("strength_matters", _strength_matters(image["same"], image["high strength"],
                                                           inputs["A"]["init_image"], said, high["strength"],
                                                           resembles), outs["high strength"].exchange)
    recorder.record(judged, context=context)


def _init_image_used(a: LoadedImage | None, b: LoadedImage | None, inputs: dict[str, Inputs],
                     said: str) -> tuple[Verdict, bool]:
    """The verdict, and whether the outputs resemble an init image at all (else only "different" is asked)."""
    if a is None or b is None:
        return Verdict([], 0), False
    if a.fingerprint == b.fingerprint:
        return Verdict([f"{said}: init images A and B gave identical pixels (the spec: init_image is the starting "
                        "image, so its content reaches the output)"]), False
    init_a, init_b = inputs["A"]["init_image"], inputs["B"]["init_image"]
    own_a, other_a = resemblance(a, init_a), resemblance(a, init_b)
    own_b, other_b = resemblance(b, init_b), resemblance(b, init_a)
    if min(own_a, own_b) >= difference(init_a, init_b) / 2:
        return Verdict([]), False  # like neither init image (a model that cannot redraw a picture): different is all
    if own_a < other_a and own_b < other_b:
        return Verdict([]), True
    return Verdict([f"{said}: an output is not nearer its own init image than the other's (mean difference from "
                    f"A's init: {own_a:.1f} vs B's {other_a:.1f}; from B's init: {own_b:.1f} vs A's {other_b:.1f}; "
                    "only the order is asked, at low strength the init image shows)"]), True


def _strength_matters(low: LoadedImage | None, high: LoadedImage | None, init: tuple[tuple[int, int], bytes],
                      said: str, high_strength: float, resembles: bool) -> Verdict:
    if low is None or high is None:
        return Verdict([], 0)
    if low.fingerprint == high.fingerprint:
        return Verdict([f"{said}: strength {high_strength:g} gave the same pixels (the spec: strength is how far "
                        "the output moves from the init image)"])
    if not resembles:
        return Verdict([])  # outputs like no init image: that they differ is all that can be asked
    near_low, near_high = resemblance(low, init), resemblance(high, init)
    if near_low < near_high:
        return Verdict([])
    return Verdict([f"{said}: the low-strength output is not nearer the init image than the strength "
                    f"{high_strength:g} one (mean difference {near_low:.1f} vs {near_high:.1f}; only the order is "
                    "asked)"])
