#!/usr/bin/env python3
"""What switching LoRA combinations between requests costs, against keeping one, in one run.

Measured per family, on the tiny SD 1.5 model and on the tiny SDXL model (three LoRAs
each, ``TINY_FAMILY_LORAS``). Three ways of serving the same number of requests
through the reference backend's DiffusersGenerator on one pipeline:

- **fixed**: every request of a round uses the same pair of LoRAs; each round takes
  the next pair of the alternating list, so over the rounds both modes do the same work;
- **alternating**: requests cycle through six other pairs of LoRAs and strengths, so
  every request switches adapters with ``set_adapters`` (two LoRAs each time, so the
  per-step work equals fixed's and the ratio is the switching cost alone);
- **naive**: like alternating, but every request loads its LoRA files from disk and
  unloads them afterwards (``unload_lora_weights``), as a backend without an adapter
  cache would.

Rounds interleave the three modes and medians of the per-request times are
compared, because this is a shared machine. The target is alternating <= 1.1x fixed.

Run from the repository root (builds the tiny model in a temporary folder):

    .venv/bin/python benchmarks/bench_backend_lora.py [--rounds 6] [--requests 6] [--size 256] [--steps 4]
        [--family sd1 --family sdxl]

This is a measurement, not a test: it prints figures and ratios and exits 0.
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from t2i_contract.reference_backend.diffusion import DiffusersGenerator  # noqa: E402
from t2i_contract.reference_backend.tiny import TINY_FAMILY_LORAS, TINY_FAMILY_MODELS, make_tiny_model  # noqa: E402
from t2i_contract.spec import Text2ImgRequest, parse_text2img  # noqa: E402

# Two LoRAs in every combination, like FIXED, so the work per step is the same and the
# ratio shows the cost of switching alone (fewer active LoRAs would make requests cheaper).
STRENGTHS = ["0.8,0.5", "0.7,0.3", "0.3,0.9", "1,1", "0.6,0.6", "0.2,0.4"]
FAMILIES = ("sd1", "sdxl")


def alternating(family: str) -> list[tuple[str, str]]:
    """Six ordered pairs of the family's three tiny LoRAs, each with its own strengths."""
    pairs = itertools.permutations(TINY_FAMILY_LORAS[family], 2)
    return [(",".join(pair), strengths) for pair, strengths in zip(pairs, STRENGTHS)]


def request(model_id: str, loras: str, strengths: str, size: int, steps: int) -> Text2ImgRequest:
    body = {"key": "bench", "model_id": model_id, "prompt": "a lighthouse at dusk", "width": size, "height": size,
            "num_inference_steps": steps, "enhance_prompt": False}
    if loras:
        body |= {"lora_model": loras, "lora_strength": strengths}
    return parse_text2img(body)


def timed(generator: DiffusersGenerator, requests: list[Text2ImgRequest], naive: bool) -> list[float]:
    times = []
    for index, req in enumerate(requests):
        start = time.perf_counter()
        generator.generate(req, seed=index)
        if naive:
            loaded = generator._models[req.model_id]
            loaded.pipe.unload_lora_weights()
            loaded.adapters.clear()
        times.append(time.perf_counter() - start)
    return times


def measure(generator: DiffusersGenerator, family: str, args: argparse.Namespace) -> dict[str, float]:
    """Median seconds per request of the three modes on the family's tiny model."""
    model = TINY_FAMILY_MODELS[family]
    combos = [request(model, *combo, args.size, args.steps) for combo in alternating(family)]
    cycle = [combos[i % len(combos)] for i in range(args.requests)]
    for warm in combos:  # loads the pipeline and every adapter once
        generator.generate(warm, seed=0)

    results: dict[str, list[float]] = {"fixed": [], "alternating": [], "naive": []}
    for round_index in range(args.rounds):
        fixed = [combos[round_index % len(combos)]] * args.requests
        order = ["fixed", "alternating", "naive"]
        order = order[round_index % 3:] + order[:round_index % 3]
        for mode in order:
            results[mode] += timed(generator, fixed if mode == "fixed" else cycle, naive=mode == "naive")
        # naive leaves no adapters loaded; load them again outside the timed part
        for warm in combos:
            generator.generate(warm, seed=0)
    return {mode: statistics.median(times) for mode, times in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=6, help="requests per mode per round")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads (t2i serve --torch-threads)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--family", action="append", choices=FAMILIES, help="default: every family")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-lora-"))
    tiny = make_tiny_model(folder)
    generator = DiffusersGenerator(models_dir=tiny.models_dir, loras_dir=tiny.loras_dir, device=args.device,
                                   torch_threads=args.torch_threads)
    for family in args.family or FAMILIES:
        medians = measure(generator, family, args)
        print(f"LoRA switching on the tiny {family} model ({TINY_FAMILY_MODELS[family]}), {args.size}x{args.size}, "
              f"{args.steps} steps, {args.rounds} rounds x {args.requests} requests per mode, device {args.device}, "
              f"{args.torch_threads} torch thread(s)")
        for mode, median in medians.items():
            print(f"  {mode:<12} median {median * 1000:8.1f} ms/request")
        ratio = medians["alternating"] / medians["fixed"]
        naive_ratio = medians["naive"] / medians["fixed"]
        print(f"{family}: alternating / fixed = {ratio:.3f}  (target <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'})")
        print(f"{family}: naive load-per-request / fixed = {naive_ratio:.3f}")
    generator.close()


if __name__ == "__main__":
    main()
