"""The real generator: Stable Diffusion pipelines from diffusers, with cached multi-LoRA.

Pipelines are loaded on first use and kept (at most ``max_loaded_models``, least
recently used dropped first). Each holds a lock: one generation at a time per
pipeline, because a request changes its adapters, scheduler and VAE.

**LoRAs** are loaded once per pipeline with ``load_lora_weights(adapter_name=...)``
(diffusers converts kohya/A1111 keys on load) and then switched per request with
``set_adapters(names, adapter_weights=strengths)``. A request without LoRAs runs
with ``disable_lora()``, which gives exactly the base model's output. Adapter
names are generated (``lora_0``, ``lora_1``...) because peft forbids dots in them.

**clip_skip**: the API counts as web UIs do, where 1 means "use the last CLIP
layer". diffusers' ``clip_skip`` counts layers skipped, so API ``n`` becomes
diffusers ``n - 1`` and API 1 becomes ``None``. The vendor's default, 2, is
diffusers' 1: the penultimate layer.

**seed**: one ``torch.Generator`` seeded with the request's seed drives the whole
batch of ``samples`` images, made in one call (``num_images_per_prompt``).
"""
from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BackendError, ConfigError, GenerationError, MissingDependencyError, UnsupportedError
from .features import HIGHRES_STRENGTH, refuse_unsupported
from .generator import GenerationResult, Generator
from .ids import resolve_lora, resolve_model, resolve_vae
from .safety import DiffusersSafetyClassifier, SafetyClassifier, check_images
from .schedulers import build_scheduler, scheduler_class

if TYPE_CHECKING:
    from t2i_contract.spec import Text2ImgRequest

    from .config import BackendConfig

__all__ = ["DiffusersGenerator", "api_clip_skip_to_diffusers", "require_backend"]


def require_backend() -> None:
    """Raise MissingDependencyError naming the first missing package of the backend extra."""
    import importlib.util

    for name in ("torch", "diffusers", "transformers", "peft", "safetensors"):
        if importlib.util.find_spec(name) is None:
            raise MissingDependencyError(name)


def _dtype_kwarg() -> str:
    """diffusers renamed ``torch_dtype`` to ``dtype`` (and warns on the old name)."""
    try:
        from diffusers.utils import deprecation_utils
    except ImportError:
        return "torch_dtype"
    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


def api_clip_skip_to_diffusers(clip_skip: int) -> int | None:
    """API 1 (last layer) -> None; API n -> n - 1 layers skipped."""
    return clip_skip - 1 or None


@dataclass
class _LoadedModel:
    model_id: str
    folder: Path
    pipe: Any
    default_scheduler: Any
    default_vae: Any
    classifier: SafetyClassifier | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    adapters: OrderedDict[str, str] = field(default_factory=OrderedDict)
    adapter_counter: int = 0
    img2img: Any = None


class DiffusersGenerator(Generator):
    """Generate with diffusers' StableDiffusionPipeline from local folders only."""

    def __init__(self, *, models_dir: Path, loras_dir: Path | None = None, vaes_dir: Path | None = None,
                 device: str = "cpu", dtype: str = "float32", max_loaded_models: int = 2, max_loras: int = 32,
                 classifier: SafetyClassifier | None = None, torch_threads: int | None = None) -> None:
        require_backend()
        import torch
        from diffusers.utils import logging as diffusers_logging

        from transformers.utils import logging as transformers_logging

        diffusers_logging.set_verbosity_error()
        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()
        if torch_threads:
            torch.set_num_threads(torch_threads)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} was asked for, but torch sees no CUDA device here; use --device cpu")
        self.models_dir, self.loras_dir, self.vaes_dir = models_dir, loras_dir, vaes_dir
        self.device = device
        self.dtype_name = dtype
        self.dtype = getattr(torch, dtype)
        self.max_loaded_models = max(1, max_loaded_models)
        self.max_loras = max(1, max_loras)
        self.classifier = classifier
        self._models: OrderedDict[str, _LoadedModel] = OrderedDict()
        self._vaes: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    @classmethod
    def from_config(cls, config: BackendConfig, classifier: SafetyClassifier | None = None) -> DiffusersGenerator:
        if config.models_dir is None:
            raise BackendError("the reference backend needs a models folder (--models DIR)")
        return cls(models_dir=config.models_dir, loras_dir=config.loras_dir, vaes_dir=config.vaes_dir,
                   device=config.device, dtype=config.dtype, max_loaded_models=config.max_loaded_models,
                   max_loras=config.max_loras, classifier=classifier, torch_threads=config.torch_threads)

    # -- checks before queueing -------------------------------------------------
    def check(self, request: Text2ImgRequest) -> None:
        resolve_model(self.models_dir, request.model_id)
        seen: set[str] = set()
        for lora_id in request.lora_model:
            resolve_lora(self.loras_dir, lora_id)
            if lora_id in seen:
                raise UnsupportedError(f"lora_model lists {lora_id} more than once; give each LoRA once",
                                       field="lora_model", value=",".join(request.lora_model), rule="unique")
            seen.add(lora_id)
        if request.vae is not None:
            resolve_vae(self.vaes_dir, request.vae)
        refuse_unsupported(request)
        for name in ("width", "height"):
            if getattr(request, name) % 8:
                raise UnsupportedError(f"{name} must be a multiple of 8, got {getattr(request, name)}",
                                       field=name, value=getattr(request, name), rule="multipleOf")
        if request.scheduler is not None:
            scheduler_class(request.scheduler)

    # -- loading ------------------------------------------------------------------
    def _load_pipeline(self, model_id: str) -> _LoadedModel:
        from diffusers import StableDiffusionPipeline

        path = resolve_model(self.models_dir, model_id)
        try:
            if path.is_dir():
                pipe = StableDiffusionPipeline.from_pretrained(
                    str(path), **{_dtype_kwarg(): self.dtype}, safety_checker=None, feature_extractor=None,
                    requires_safety_checker=False, local_files_only=True)
            else:
                config_dir = path.with_suffix(".config")
                pipe = StableDiffusionPipeline.from_single_file(
                    str(path), **{_dtype_kwarg(): self.dtype}, safety_checker=None, requires_safety_checker=False,
                    local_files_only=True, config=str(config_dir) if config_dir.is_dir() else None)
        except Exception as exc:  # diffusers raises many kinds; the message is what matters
            hint = ""
            if path.is_file() and not path.with_suffix(".config").is_dir():
                hint = (f" (a single-file model needs its diffusers configs in {model_id}.config/ beside it, "
                        f"since nothing is downloaded)")
            raise GenerationError(f"Model {model_id} could not be loaded: {exc}{hint}", field="model_id",
                                  value=model_id, rule="loadable") from exc
        pipe = pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        folder = path if path.is_dir() else path.parent
        classifier = self.classifier
        if classifier is None and path.is_dir():
            classifier = DiffusersSafetyClassifier.from_model_folder(path, self.device)
        return _LoadedModel(model_id, folder, pipe, pipe.scheduler, pipe.vae, classifier)

    def _model(self, model_id: str) -> _LoadedModel:
        with self._lock:
            loaded = self._models.get(model_id)
            if loaded is not None:
                self._models.move_to_end(model_id)
                return loaded
            loading = self._loading.setdefault(model_id, threading.Lock())
        with loading:
            with self._lock:
                if model_id in self._models:
                    return self._models[model_id]
            loaded = self._load_pipeline(model_id)
            with self._lock:
                self._models[model_id] = loaded
                while len(self._models) > self.max_loaded_models:
                    self._models.popitem(last=False)
            return loaded

    def _vae(self, vae_id: str) -> Any:
        from diffusers import AutoencoderKL

        with self._lock:
            if vae_id in self._vaes:
                return self._vaes[vae_id]
        path = resolve_vae(self.vaes_dir, vae_id)
        try:
            vae = AutoencoderKL.from_pretrained(str(path), **{_dtype_kwarg(): self.dtype}, local_files_only=True)
        except Exception as exc:
            raise UnsupportedError(f"VAE {vae_id} could not be loaded: {exc}", field="vae", value=vae_id,
                                   rule="loadable") from exc
        vae = vae.to(self.device).eval()
        with self._lock:
            self._vaes[vae_id] = vae
        return vae

    def _adapter(self, loaded: _LoadedModel, lora_id: str, keep: set[str]) -> str:
        """The adapter name of ``lora_id`` in this pipeline, loading the file on first use."""
        name = loaded.adapters.get(lora_id)
        if name is not None:
            loaded.adapters.move_to_end(lora_id)
            return name
        path = resolve_lora(self.loras_dir, lora_id)
        name = f"lora_{loaded.adapter_counter}"
        loaded.adapter_counter += 1
        try:
            with warnings.catch_warnings():
                # peft warns each time a second adapter joins a model; that is the point here.
                warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
                loaded.pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name)
        except Exception as exc:
            try:
                loaded.pipe.delete_adapters([name])
            except Exception:  # nothing was registered under that name
                pass
            raise UnsupportedError(f"LoRA {lora_id} could not be loaded: {exc}", field="lora_model",
                                   value=lora_id, rule="loadable") from exc
        loaded.adapters[lora_id] = name
        while len(loaded.adapters) > self.max_loras:
            oldest = next((k for k in loaded.adapters if k not in keep), None)
            if oldest is None:
                break
            loaded.pipe.delete_adapters([loaded.adapters.pop(oldest)])
        return name

    def _apply_loras(self, loaded: _LoadedModel, loras: tuple[tuple[str, float], ...]) -> None:
        pipe = loaded.pipe
        if not loras:
            if loaded.adapters:
                pipe.disable_lora()
            return
        keep = {lora_id for lora_id, _ in loras}
        names = [self._adapter(loaded, lora_id, keep) for lora_id, _ in loras]
        pipe.enable_lora()
        pipe.set_adapters(names, adapter_weights=[strength for _, strength in loras])

    # -- generation ---------------------------------------------------------------
    def generate(self, request: Text2ImgRequest, seed: int) -> GenerationResult:
        self.check(request)
        loaded = self._model(request.model_id)
        vae = self._vae(request.vae) if request.vae is not None else loaded.default_vae
        clip_skip = api_clip_skip_to_diffusers(request.clip_skip)
        layers = loaded.pipe.text_encoder.config.num_hidden_layers
        if clip_skip is not None and clip_skip >= layers:
            raise UnsupportedError(
                f"clip_skip {request.clip_skip} would skip {clip_skip} of the {layers} CLIP layers of model "
                f"{request.model_id}; at most {layers} is accepted for it",
                field="clip_skip", value=request.clip_skip, rule="maximum")
        with loaded.lock:
            pipe = loaded.pipe
            choice = build_scheduler(request.scheduler, loaded.default_scheduler.config,
                                     use_karras_sigmas=request.use_karras_sigmas,
                                     algorithm_type=request.algorithm_type)
            self._apply_loras(loaded, request.loras)
            pipe.scheduler, pipe.vae = choice.scheduler, vae
            try:
                images = self._run(loaded, request, seed, clip_skip, choice)
            except BackendError:
                raise
            except Exception as exc:
                raise GenerationError(f"generation failed: {exc}") from exc
            finally:
                pipe.scheduler, pipe.vae = loaded.default_scheduler, loaded.default_vae
        images, nsfw, notes = check_images(images, request, loaded.classifier)
        info = {"scheduler": choice.name, "scheduler_settings": choice.settings,
                "clip_skip_diffusers": clip_skip, "device": self.device, "dtype": self.dtype_name}
        return GenerationResult(images, nsfw, choice.notes + notes, info)

    def _encode(self, pipe: Any, prompts: list[str], clip_skip: int | None) -> Any:
        """CLIP embeddings with ``clip_skip`` applied, as diffusers' encode_prompt computes them.

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

    def _run(self, loaded: _LoadedModel, request: Text2ImgRequest, seed: int, clip_skip: int | None,
             choice: Any) -> list[Any]:
        import torch

        pipe = loaded.pipe
        generator = torch.Generator(device="cpu").manual_seed(seed)
        with torch.no_grad():
            positive = self._encode(pipe, [request.prompt], clip_skip)
            negative = self._encode(pipe, [request.negative_prompt or ""], clip_skip)
        common = dict(prompt_embeds=positive, negative_prompt_embeds=negative, guidance_scale=request.guidance_scale,
                      num_inference_steps=request.num_inference_steps, num_images_per_prompt=request.samples,
                      generator=generator, output_type="pil")
        if not request.highres_fix:
            return pipe(width=request.width, height=request.height, **common).images
        from diffusers import StableDiffusionImg2ImgPipeline
        from PIL import Image

        low = pipe(width=max(8, request.width // 16 * 8), height=max(8, request.height // 16 * 8), **common).images
        if loaded.img2img is None:
            loaded.img2img = StableDiffusionImg2ImgPipeline(**{**pipe.components, "safety_checker": None},
                                                            requires_safety_checker=False)
            loaded.img2img.set_progress_bar_config(disable=True)
        refine = loaded.img2img
        refine.scheduler = type(choice.scheduler).from_config(choice.scheduler.config)
        refine.vae = pipe.vae
        enlarged = [image.resize((request.width, request.height), Image.Resampling.LANCZOS) for image in low]
        refine_args = {**common, "num_images_per_prompt": 1,
                       "prompt_embeds": positive.repeat(len(low), 1, 1),
                       "negative_prompt_embeds": negative.repeat(len(low), 1, 1)}
        return refine(image=enlarged, strength=HIGHRES_STRENGTH, **refine_args).images

    def close(self) -> None:
        with self._lock:
            self._models.clear()
            self._vaes.clear()
