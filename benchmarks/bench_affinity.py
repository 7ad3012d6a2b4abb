#!/usr/bin/env python3
"""What worker affinity buys in the distributed mode: model loads and throughput, affinity on and off.

Two ``t2i worker`` processes, one ``t2i serve --queue`` process and a Redis server, all
real processes on the tiny models, as the tests start them. Each worker keeps one
pipeline loaded (``--max-loaded-models 1``), so a job for the other model costs a load.
The same mix of jobs (two models, tiny SD 1.5 and tiny SDXL, several LoRA sets each, in
an interleaved order) is queued at once, and the run ends when every job has finished:

- **load share**: jobs whose worker had to load their model (``meta.model_load``);
- **throughput**: jobs per second from the first submission to the last success.

With affinity on, a worker hands a job for a model another live worker has loaded back
to the queue, and a worker with nothing else to do waits at most ``--affinity-wait`` seconds
(about one model load) for it; off, every worker takes what comes.

Run from the repository root (builds the tiny model in a temporary folder; needs redis-server):

    .venv/bin/python benchmarks/bench_affinity.py [--jobs 24] [--steps 4] [--size 256] [--rounds 1]

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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from t2i_contract.reference_backend.tiny import make_tiny_model  # noqa: E402
from tests.reference_backend.distributed.cluster import cluster, finished, submit  # noqa: E402
from tests.reference_backend.support import KEY, text2img_body  # noqa: E402

MIX = [("tiny-sd", ""), ("tiny-sdxl", ""), ("tiny-sd", "tiny-style"), ("tiny-sdxl", "tiny-sdxl-style"),
       ("tiny-sd", "tiny-kohya"), ("tiny-sdxl", "tiny-sdxl-detail"), ("tiny-sd", "tiny-style,tiny-kohya"),
       ("tiny-sdxl", "tiny-sdxl-style,tiny-sdxl-kohya")]


def bodies(count: int, steps: int, size: int) -> list[dict[str, Any]]:
    cases = itertools.cycle(MIX)
    out = []
    for index in range(count):
        model, loras = next(cases)
        out.append(text2img_body(model_id=model, seed=index, num_inference_steps=steps, width=size, height=size,
                                 lora_model=loras or None,
                                 lora_strength=",".join("0.7" for _ in loras.split(",")) if loras else None))
    return out


def run(tiny: Any, folder: Path, *, affinity: bool, wait: float, jobs: list[dict[str, Any]]) -> tuple[float, float]:
    """(share of jobs that loaded their model, jobs per second)."""
    with cluster(tiny, folder) as running:
        settings = {"max_loaded_models": "1", "affinity": "true" if affinity else "false", "affinity_wait": str(wait)}
        running.worker("w1", **settings)
        running.worker("w2", **settings)
        api = running.api()
        started = time.perf_counter()
        ids = [submit(api, body)["id"] for body in jobs]
        results = finished([api], ids, KEY)
        elapsed = time.perf_counter() - started
    failed = [r for r in results.values() if r["status"] != "success"]
    if failed:
        raise SystemExit(f"{len(failed)} job(s) failed: {failed[0]}")
    loads = sum(1 for r in results.values() if r["meta"].get("model_load"))
    return loads / len(ids), len(ids) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--affinity-wait", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="t2i-bench-affinity-") as tmp:
        tiny = make_tiny_model(Path(tmp) / "tiny")
        jobs = bodies(args.jobs, args.steps, args.size)
        figures: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for round_ in range(args.rounds):
            for affinity in (True, False):
                folder = Path(tmp) / f"run-{round_}-{affinity}"
                folder.mkdir()
                figures[affinity].append(run(tiny, folder, affinity=affinity, wait=args.affinity_wait, jobs=jobs))
    print(f"affinity benchmark: 2 workers (one pipeline each), {args.jobs} jobs over 2 models and "
          f"{len(MIX)} model/LoRA sets, {args.size}x{args.size}, {args.steps} steps, affinity wait "
          f"{args.affinity_wait:g} s, {args.rounds} round(s)")
    summary = {}
    for affinity in (True, False):
        share = statistics.median(f[0] for f in figures[affinity])
        rate = statistics.median(f[1] for f in figures[affinity])
        summary[affinity] = (share, rate)
        print(f"  affinity {'on ' if affinity else 'off'}: {share:6.1%} of jobs loaded their model, "
              f"{rate:5.2f} jobs/s")
    (on_share, on_rate), (off_share, off_rate) = summary[True], summary[False]
    print(f"  ratios (on/off): model loads {on_share / off_share if off_share else float('nan'):.2f}x, "
          f"throughput {on_rate / off_rate:.2f}x")


if __name__ == "__main__":
    main()
