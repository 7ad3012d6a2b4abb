"""The seam between serving and image making: one method, ``generate(request, seed)``.

Batching (a worker of the distributed mode, ``--max-batch``) uses two more, with
defaults that never batch: :meth:`Generator.batch_key` says which requests can share
one pipeline call (equal keys; None: this one runs alone), and
:meth:`Generator.generate_batch` runs such a group, one result per request, each the
same as :meth:`Generator.generate` would make alone.

:class:`DiffusersGenerator` (in ``diffusion.py``) is the real implementation.
:class:`FakeGenerator` here is the cheap, deterministic one that tests of the job
queue and the HTTP layer use, the way httpx pairs ``BaseTransport`` with
``MockTransport``: it draws a gradient whose colours come from a hash of the
request and the seed, so the same request and seed give the same pixels.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import NotFoundError
from .safety import SafetyClassifier, check_images

if TYPE_CHECKING:
    from PIL.Image import Image

    from t2i_contract.spec import GenerationRequest

__all__ = ["PER_IMAGE_FIELDS", "FakeGenerator", "GenerationResult", "Generator", "shared_settings"]

PER_IMAGE_FIELDS = frozenset({"prompt", "negative_prompt", "seed", "webhook", "track_id", "base64", "temp", "upscale"})
"""Fields that may differ between the requests of one batch: the rest of the request is one pipeline call's
settings (upscale, base64, temp, webhook and track_id act after the call, per job)."""


def shared_settings(request: GenerationRequest) -> str:
    """Everything of ``request`` but :data:`PER_IMAGE_FIELDS`, as one string: equal for requests a batch can join."""
    import json

    meta = {k: v for k, v in request.to_meta().items() if k not in PER_IMAGE_FIELDS}
    return json.dumps([request.OPERATION, meta, dict(request.extra)], sort_keys=True, default=str)


@dataclass
class GenerationResult:
    """Images of one request, one NSFW flag per image, and notes for ``meta``.

    ``notes`` say what the backend did differently from what was asked (a field it
    could not honour, a setting it mapped); ``info`` holds extra ``meta`` entries.
    """

    images: list[Image]
    nsfw: list[bool]
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


class Generator:
    """Makes the images for a valid request. Subclasses implement :meth:`generate`."""

    def generate(self, request: GenerationRequest, seed: int,
                 inputs: dict[str, Image] | None = None) -> GenerationResult:
        """The images for ``request``; ``inputs`` are img2img/inpaint's loaded ``init_image``/``mask_image``."""
        raise NotImplementedError

    def check_model(self, model_id: str) -> None:
        """Raise a NotFoundError unless ``model_id`` names a model this generator has."""

    def prepare(self, model_id: str) -> None:
        """Have ``model_id`` loaded before a generation is timed (loading it if it is not); default: nothing.

        The service times a generation after this returns, so a cold start's model load
        is not taken for the pace its ETAs are computed from.
        """

    def load(self, model_id: str) -> None:
        """Load ``model_id`` (again) into memory, for model_reload; blocks until it is loaded."""
        self.check_model(model_id)

    def batch_key(self, request: GenerationRequest) -> str | None:
        """Requests with equal keys can run as one pipeline call; None (the default): this one runs alone."""
        return None

    def generate_batch(self, items: list[tuple[GenerationRequest, int]]) -> list[GenerationResult]:
        """One result per ``(request, seed)``, for requests of one :meth:`batch_key`; default: one at a time."""
        return [self.generate(request, seed) for request, seed in items]

    def check(self, request: GenerationRequest) -> None:
        """Raise a BackendError now for a request that cannot run (unknown model, ...).

        Called before a request is queued, so that such requests get their error at
        once rather than as a failed job. The default accepts everything.
        """

    def close(self) -> None:
        """Release models and memory."""


class FakeGenerator(Generator):
    """Deterministic gradients, no ML. For tests of the layers above the generator.

    ``models`` lists the model ids it knows (others get "Model not found");
    ``delay`` sleeps per request; ``gate``, when given, blocks every generation until
    it is set, so a test can hold jobs in the queue; ``fail_prompt`` makes requests
    with that prompt raise.
    """

    def __init__(self, models: tuple[str, ...] = ("fake-model",), *, delay: float = 0.0,
                 gate: threading.Event | None = None, classifier: SafetyClassifier | None = None,
                 fail_prompt: str | None = None) -> None:
        self.models = models
        self.delay = delay
        self.gate = gate
        self.classifier = classifier
        self.fail_prompt = fail_prompt
        self.calls: list[tuple[GenerationRequest, int]] = []

    def check_model(self, model_id: str) -> None:
        if model_id not in self.models:
            raise NotFoundError(f"Model not found: {model_id}", field="model_id", value=model_id, rule="exists")

    def check(self, request: GenerationRequest) -> None:
        self.check_model(request.model_id)

    def generate(self, request: GenerationRequest, seed: int,
                 inputs: dict[str, Image] | None = None) -> GenerationResult:
        """Gradients; from an init image, the gradient blended over it by ``strength`` (inpaint: masked part only)."""
        from PIL import Image

        self.check(request)
        if self.gate is not None:
            self.gate.wait()
        if self.delay:
            time.sleep(self.delay)
        self.calls.append((request, seed))
        if self.fail_prompt is not None and request.prompt == self.fail_prompt:
            raise RuntimeError("the fake generator was told to fail on this prompt")
        images = []
        for index in range(request.samples):
            digest = hashlib.sha256(
                f"{request.model_id}|{request.prompt}|{request.negative_prompt}|{request.loras}|{seed}|{index}".encode()
            ).digest()
            start, end = digest[:3], digest[3:6]
            row = Image.linear_gradient("L").resize((request.width, request.height))
            image = Image.merge("RGB", [row.point(lambda v, a=a, b=b: a + (b - a) * v // 255) for a, b in zip(start, end)])
            if inputs and "init_image" in inputs:
                init = inputs["init_image"].convert("RGB")
                image = Image.blend(init, image, getattr(request, "strength", 1.0))
                if "mask_image" in inputs:
                    image = Image.composite(image, init, inputs["mask_image"].convert("L"))
            images.append(image)
        images, nsfw, notes = check_images(images, request, self.classifier)
        return GenerationResult(images, nsfw, notes)
