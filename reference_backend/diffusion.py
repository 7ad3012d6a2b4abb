"""The real generator: diffusers pipelines of every family (``families.py``), with cached multi-LoRA.

Pipelines are loaded on first use and kept (at most ``max_loaded_models``, least
recently used dropped first). Each holds a lock: one generation at a time per
pipeline, because a request changes its adapters, scheduler, VAE and IP-Adapter.
A model's family (SD 1.x/2.x, SDXL, FLUX.1) picks the diffusers pipeline class it
runs with, the scheduler mapping (``schedulers.py``, or ``flow_schedulers.py`` for
FLUX) and how the request becomes pipeline arguments (``runners.py``). ``meta``
says which ``family`` and ``pipeline`` ran.

**LoRAs** are checked against the model's family before the request is queued
(``loras.py``), loaded once per pipeline with ``load_lora_weights(adapter_name=...)``
(diffusers converts kohya, XLabs and other trainers' keys on load) and then switched
per request with ``set_adapters(names, adapter_weights=strengths)``. A request
without LoRAs runs with ``disable_lora()``, which gives exactly the base model's
output. Adapter names are generated (``lora_0``, ``lora_1``...) because peft
forbids dots in them.

**IP-Adapter** (``ip_adapter.py``): the adapter is loaded into the pipeline when a
request names it and unloaded when a request does not, so a request without one
runs the base model's attention.

**highres_fix**: the family's img2img pipeline (``Family.pipelines``), made with
``from_pipe`` so it shares every module, refines each half-size image at the
requested size.

**img2img and inpaint** (``operations.py``): the family's img2img or inpaint
pipeline, made with ``from_pipe`` per request after LoRAs, scheduler, VAE and
IP-Adapter are set, so they apply as in text2img; inpaint pastes the unmasked
region back. An inpainting checkpoint (9-channel UNet) runs inpaint only.

**model_reload**: :meth:`DiffusersGenerator.load` drops the model and loads it again.

**seed**: one ``torch.Generator`` seeded with the request's seed drives the whole
batch of ``samples`` images, made in one call (``num_images_per_prompt``).
"""
from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BackendError, ConfigError, GenerationError, MissingDependencyError, UnsupportedError
from .families import Family, detect_family
from .features import HIGHRES_STRENGTH
from .flow_schedulers import build_flow_scheduler, check_flow_scheduler
from .generator import GenerationResult, Generator, shared_settings
from .ids import resolve_lora, resolve_model, resolve_vae
from .ip_adapter import adapter_scale, apply_ip_adapter, check_ip_fields, reference_image
from .loras import apply_loras, check_lora_family
from .operations import check_operation, run_from_init
from .runners import BATCH_FAMILIES, api_clip_skip_to_diffusers, merge_arguments, pipeline_arguments
from .safety import DiffusersSafetyClassifier, SafetyClassifier, check_images
from .schedulers import build_scheduler, scheduler_class

if TYPE_CHECKING:
    from PIL.Image import Image

    from t2i_contract.spec import GenerationRequest

    from .config import BackendConfig

__all__ = ["DiffusersGenerator", "api_clip_skip_to_diffusers", "require_backend"]
log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class _ModelInfo:
    """What a model's files say, read without loading it: its family and its UNet's text width."""

    family: Family
    variant: str
    cross_attention_dim: int | None
    in_channels: int | None = None


@dataclass
class _LoadedModel:
    model_id: str
    folder: Path
    pipe: Any
    info: _ModelInfo
    default_scheduler: Any
    default_vae: Any
    classifier: SafetyClassifier | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    adapters: OrderedDict[str, str] = field(default_factory=OrderedDict)
    adapter_counter: int = 0
    ip_adapter: str | None = None


class DiffusersGenerator(Generator):
    """Generate with diffusers' own pipeline of each model's family, from local folders only."""

    def __init__(self, *, models_dir: Path, loras_dir: Path | None = None, vaes_dir: Path | None = None,
                 ip_adapters_dir: Path | None = None,
                 device: str = "cpu", dtype: str = "float32", max_loaded_models: int = 2, max_loras: int = 32,
                 classifier: SafetyClassifier | None = None, torch_threads: int | None = None) -> None:
        require_backend()
        import torch
        from diffusers.utils import logging as diffusers_logging

        from transformers.utils import logging as transformers_logging

        diffusers_logging.set_verbosity_error()
        diffusers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
        if torch_threads:
            torch.set_num_threads(torch_threads)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} was asked for, but torch sees no CUDA device here; use --device cpu")
        self.models_dir, self.loras_dir, self.vaes_dir = models_dir, loras_dir, vaes_dir
        self.ip_adapters_dir = ip_adapters_dir
        self.device = device
        self.dtype_name = dtype
        self.dtype = getattr(torch, dtype)
        self.max_loaded_models = max(1, max_loaded_models)
        self.max_loras = max(1, max_loras)
        self.classifier = classifier
        self._models: OrderedDict[str, _LoadedModel] = OrderedDict()
        self._infos: dict[tuple[Path, float], _ModelInfo] = {}
        self._vaes: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    @classmethod
    def from_config(cls, config: BackendConfig, classifier: SafetyClassifier | None = None) -> DiffusersGenerator:
        if config.models_dir is None:
            raise BackendError("the reference backend needs a models folder (--models DIR)")
        # reference images are loaded at intake, under the accepting process's URL policy (Call.inputs)
        return cls(models_dir=config.models_dir, loras_dir=config.loras_dir, vaes_dir=config.vaes_dir,
                   ip_adapters_dir=config.ip_adapters_dir,
                   device=config.device, dtype=config.dtype, max_loaded_models=config.max_loaded_models,
                   max_loras=config.max_loras, classifier=classifier, torch_threads=config.torch_threads)

    # -- checks before queueing -------------------------------------------------
    def _info(self, path: Path) -> _ModelInfo:
        """Family and text width of a model, cached by path and modification time."""
        key = (path, path.stat().st_mtime)
        info = self._infos.get(key)
        if info is None:
            import json

            family, variant = detect_family(path)
            unet = (path if path.is_dir() else path.with_suffix(".config")) / "unet" / "config.json"
            config = json.loads(unet.read_text()) if unet.is_file() else {}
            info = self._infos[key] = _ModelInfo(family, variant, config.get("cross_attention_dim"),
                                                 config.get("in_channels"))
        return info

    def _check_vae(self, request: GenerationRequest, model: Path, info: _ModelInfo) -> None:
        """A 400 when the named VAE's latents are not the model's (channels; FLUX's shift) — from the configs."""
        import json

        vae_id = request.vae or ""
        theirs = json.loads((resolve_vae(self.vaes_dir, vae_id) / "config.json").read_text())
        own_file = (model if model.is_dir() else model.with_suffix(".config")) / "vae" / "config.json"
        if not own_file.is_file():
            return  # a single file without configs: diffusers' own error will say what is wrong
        own = json.loads(own_file.read_text())
        if theirs.get("latent_channels") != own.get("latent_channels") or (
                info.family.name == "flux" and theirs.get("shift_factor") is None):
            raise UnsupportedError(
                f"VAE {vae_id} does not fit model {request.model_id} ({info.family.title}): it has "
                f"{theirs.get('latent_channels')} latent channels and shift_factor {theirs.get('shift_factor')}, "
                f"the model's own VAE {own.get('latent_channels')} and {own.get('shift_factor')}",
                field="vae", value=vae_id, rule="family")

    def check_model(self, model_id: str) -> None:
        resolve_model(self.models_dir, model_id)

    def prepare(self, model_id: str) -> None:
        self._model(model_id)

    def load(self, model_id: str) -> None:
        resolve_model(self.models_dir, model_id)
        with self._lock:
            self._models.pop(model_id, None)
        self._model(model_id)

    def check(self, request: GenerationRequest) -> None:
        model = resolve_model(self.models_dir, request.model_id)
        info = self._info(model)
        check_operation(request, info.in_channels, info.family.title, info.family.pipelines)
        seen: set[str] = set()
        for lora_id in request.lora_model:
            path = resolve_lora(self.loras_dir, lora_id)
            if lora_id in seen:
                raise UnsupportedError(f"lora_model lists {lora_id} more than once; give each LoRA once",
                                       field="lora_model", value=",".join(request.lora_model), rule="unique")
            seen.add(lora_id)
            check_lora_family(path, lora_id, request.model_id, info.family, info.cross_attention_dim)
        if request.vae is not None:
            self._check_vae(request, model, info)
        multiple = info.family.size_multiple
        for name in ("width", "height") if request.OPERATION == "text2img" else ():  # else resized (operations)
            if getattr(request, name) % multiple:
                raise UnsupportedError(
                    f"{name} must be a multiple of {multiple} for {info.family.title} models, got "
                    f"{getattr(request, name)}", field=name, value=getattr(request, name), rule="multipleOf")
        if request.scheduler is not None:
            if info.family.name == "flux":
                check_flow_scheduler(request.scheduler)
            else:
                scheduler_class(request.scheduler)
        check_ip_fields(request, info.family, self.ip_adapters_dir)  # its image was loaded at intake

    # -- loading ------------------------------------------------------------------
    def _load_pipeline(self, model_id: str) -> _LoadedModel:
        import diffusers

        path = resolve_model(self.models_dir, model_id)
        info = self._info(path)
        cls = getattr(diffusers, info.family.text2img)
        extra: dict[str, Any] = {_dtype_kwarg(): self.dtype, "local_files_only": True}
        if info.family.name in ("sd1", "sd2"):
            extra |= {"safety_checker": None, "requires_safety_checker": False}
        try:
            if path.is_dir():
                pipe = cls.from_pretrained(str(path), **extra)
            else:
                config_dir = path.with_suffix(".config")
                pipe = cls.from_single_file(str(path), config=str(config_dir) if config_dir.is_dir() else None,
                                            **extra)
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
        return _LoadedModel(model_id, folder, pipe, info, pipe.scheduler, pipe.vae, classifier)

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
            started = time.monotonic()
            log.info("loading model %s on %s (%d of at most %d kept loaded)", model_id, self.device,
                     len(self._models) + 1, self.max_loaded_models)
            loaded = self._load_pipeline(model_id)
            log.info("model %s loaded (%s) in %.1f s", model_id, loaded.info.family.title, time.monotonic() - started)
            with self._lock:
                self._models[model_id] = loaded
                while len(self._models) > self.max_loaded_models:
                    gone, _ = self._models.popitem(last=False)
                    log.info("model %s unloaded: --max-loaded-models %d", gone, self.max_loaded_models)
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

    # -- generation ---------------------------------------------------------------
    def generate(self, request: GenerationRequest, seed: int,
                 inputs: dict[str, Image] | None = None) -> GenerationResult:
        import torch

        self.check(request)
        loaded = self._model(request.model_id)
        family = loaded.info.family
        vae = loaded.default_vae
        if request.vae is not None:
            vae = self._vae(request.vae)
        adapter = check_ip_fields(request, family, self.ip_adapters_dir)
        build = build_flow_scheduler if family.name == "flux" else build_scheduler
        with loaded.lock:
            pipe = loaded.pipe
            choice = build(request.scheduler, loaded.default_scheduler.config,
                           use_karras_sigmas=request.use_karras_sigmas, algorithm_type=request.algorithm_type)
            apply_loras(loaded, request.loras, lambda lora_id: resolve_lora(self.loras_dir, lora_id),
                        self.max_loras)
            pipe.scheduler, pipe.vae = choice.scheduler, vae
            try:
                loaded.ip_adapter = apply_ip_adapter(pipe, loaded.ip_adapter, adapter, adapter_scale(request))
                with torch.no_grad():
                    kwargs, notes, info = pipeline_arguments(family, loaded.info.variant, pipe, request)
                if adapter is not None:
                    kwargs["ip_adapter_image"] = reference_image(request, inputs)
                    info["ip_adapter"] = {"id": adapter.name, "scale": adapter_scale(request)}
                if request.OPERATION == "text2img":
                    images, pipelines = self._run(loaded, request, seed, kwargs, choice)
                else:
                    common = {"num_inference_steps": request.num_inference_steps, "output_type": "pil",
                              "generator": torch.Generator(device="cpu").manual_seed(seed)}
                    images, pipelines = run_from_init(pipe, family.pipelines[request.OPERATION], request,
                                                      inputs or {}, kwargs, common, family, notes)
            except BackendError:
                raise
            except UnicodeError as exc:  # a prompt the tokenizer cannot encode: the request's fault, not ours
                raise UnsupportedError(f"prompt cannot be encoded by the tokenizer of {request.model_id}: {exc}",
                                       field="prompt", value=request.prompt, rule="encodable") from exc
            except Exception as exc:
                raise GenerationError(f"generation failed: {exc}") from exc
            finally:
                pipe.scheduler, pipe.vae = loaded.default_scheduler, loaded.default_vae
        images, nsfw, safety_notes = check_images(images, request, loaded.classifier)
        info |= {"family": family.name, "pipeline": pipelines, "scheduler": choice.name,
                 "scheduler_settings": choice.settings, "device": self.device, "dtype": self.dtype_name}
        return GenerationResult(images, nsfw, choice.notes + notes + safety_notes, info)

    def batch_key(self, request: GenerationRequest) -> str | None:
        """text2img of one sample, SD or SDXL, no highres fix or IP-Adapter: the settings a batch must share."""
        if (request.OPERATION != "text2img" or request.samples != 1 or getattr(request, "highres_fix", False)
                or getattr(request, "ip_adapter_id", None)):
            return None
        try:
            family = self._info(resolve_model(self.models_dir, request.model_id)).family
        except BackendError:
            return None
        return shared_settings(request) if family.name in BATCH_FAMILIES else None

    def generate_batch(self, items: list[tuple[GenerationRequest, int]]) -> list[GenerationResult]:
        """Requests of one :meth:`batch_key` in one pipeline call: their embeddings stacked, one CPU generator per
        request seeded as alone, so each image is the one :meth:`generate` makes alone."""
        import torch

        if len(items) == 1:
            return [self.generate(*items[0])]
        first = items[0][0]
        for request, _ in items:
            self.check(request)
        loaded = self._model(first.model_id)
        family = loaded.info.family
        vae = self._vae(first.vae) if first.vae is not None else loaded.default_vae
        with loaded.lock:
            pipe = loaded.pipe
            choice = build_scheduler(first.scheduler, loaded.default_scheduler.config,
                                     use_karras_sigmas=first.use_karras_sigmas, algorithm_type=first.algorithm_type)
            apply_loras(loaded, first.loras, lambda lora_id: resolve_lora(self.loras_dir, lora_id), self.max_loras)
            pipe.scheduler, pipe.vae = choice.scheduler, vae
            try:
                loaded.ip_adapter = apply_ip_adapter(pipe, loaded.ip_adapter, None, 0.0)
                with torch.no_grad():
                    parts = [pipeline_arguments(family, loaded.info.variant, pipe, r) for r, _ in items]
                generators = [torch.Generator(device="cpu").manual_seed(seed) for _, seed in items]
                images = pipe(width=first.width, height=first.height, num_images_per_prompt=1,
                              num_inference_steps=first.num_inference_steps, output_type="pil", generator=generators,
                              **merge_arguments([kwargs for kwargs, _, _ in parts])).images
            except BackendError:
                raise
            except Exception as exc:
                raise GenerationError(f"batched generation failed: {exc}") from exc
            finally:
                pipe.scheduler, pipe.vae = loaded.default_scheduler, loaded.default_vae
        results = []
        for (request, _), image, (_, notes, info) in zip(items, images, parts):
            checked, nsfw, safety_notes = check_images([image], request, loaded.classifier)
            info |= {"family": family.name, "pipeline": type(pipe).__name__, "scheduler": choice.name,
                     "scheduler_settings": choice.settings, "device": self.device, "dtype": self.dtype_name,
                     "batch_size": len(items)}
            results.append(GenerationResult(checked, nsfw, choice.notes + notes + safety_notes, info))
        return results

    def _run(self, loaded: _LoadedModel, request: Any, seed: int, kwargs: dict[str, Any],
             choice: Any) -> tuple[list[Any], str]:
        import torch

        pipe = loaded.pipe
        common = {**kwargs, "num_inference_steps": request.num_inference_steps, "output_type": "pil",
                  "generator": torch.Generator(device="cpu").manual_seed(seed)}
        if not request.highres_fix:
            images = pipe(width=request.width, height=request.height, num_images_per_prompt=request.samples,
                          **common).images
            return images, type(pipe).__name__
        from PIL import Image

        step = loaded.info.family.size_multiple
        low = pipe(width=max(step, request.width // (2 * step) * step),
                   height=max(step, request.height // (2 * step) * step),
                   num_images_per_prompt=request.samples, **common).images
        import diffusers

        # made anew each time (it only shares modules): the IP-Adapter's image encoder comes and goes
        refine = getattr(diffusers, loaded.info.family.pipelines["img2img"]).from_pipe(pipe)
        refine.set_progress_bar_config(disable=True)
        refine.scheduler = type(choice.scheduler).from_config(choice.scheduler.config)
        refine.vae = pipe.vae
        size = {"width": request.width, "height": request.height}
        if "width" not in inspect.signature(refine.__call__).parameters:
            size = {}  # SD's img2img takes the size of its input image
        images = []
        for image in low:  # one at a time: the prompt embeddings are for one image
            enlarged = image.resize((request.width, request.height), Image.Resampling.LANCZOS)
            images += refine(image=enlarged, strength=HIGHRES_STRENGTH, num_images_per_prompt=1, **size,
                             **common).images
        return images, f"{type(pipe).__name__} + {type(refine).__name__}"


    def close(self) -> None:
        with self._lock:
            self._models.clear()
            self._vaes.clear()
