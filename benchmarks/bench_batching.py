#!/usr/bin/env python3
"""What batching buys a worker of the distributed mode: images per second, batched and one at a time.

One ``t2i serve --queue`` process, one ``t2i worker`` and a Redis server, real processes
on the tiny models, as the tests start them. The same jobs (text2img of one sample,
one model, size and step count, each with its own prompt and seed) are queued at once,
and a round ends when every job has finished; throughput is images from the first
submission to the last success. Each round runs a worker with ``--max-batch 1`` (one
job per pipeline call) and one with ``--max-batch N``, in alternating order, on the
same machine in the same run; the figure is the median of the rounds.

Run from the repository root (builds the tiny model in a temporary folder; needs redis-server):

    .venv/bin/python benchmarks/bench_batching.py [--jobs 24] [--batch 4] [--steps 8] [--size 256] [--rounds 2]

This is a measurement, not a test: it prints figures and the ratio and exits 0. On a CPU
the tiny models gain little (a batched call is about as much arithmetic as the calls it
replaces); a GPU, which is far from full at batch size 1, is where batching pays.
"""
from __future__ import annotations

import argparse
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


def run(tiny: Any, folder: Path, *, batch: int, jobs: list[dict[str, Any]]) -> tuple[float, float]:
    """(images per second, mean batch size seen in meta)."""
    folder.mkdir(parents=True)
    with cluster(tiny, folder) as running:
        running.worker("w1", max_batch=str(batch), batch_wait="50")
        api = running.api()
        started = time.perf_counter()
        ids = [submit(api, body)["id"] for body in jobs]
        results = finished([api], ids, KEY)
        elapsed = time.perf_counter() - started
    failed = [r for r in results.values() if r["status"] != "success"]
    if failed:
        raise SystemExit(f"{len(failed)} job(s) failed: {failed[0]}")
    sizes = [r["meta"].get("batch_size", 1) for r in results.values()]
    return len(ids) / elapsed, statistics.mean(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    jobs = [text2img_body(prompt=f"a lighthouse, study {n}", seed=n, num_inference_steps=args.steps,
                          width=args.size, height=args.size) for n in range(args.jobs)]
    figures: dict[int, list[float]] = {1: [], args.batch: []}
    mean_batch: list[float] = []
    with tempfile.TemporaryDirectory(prefix="t2i-bench-batching-") as tmp:
        folder = Path(tmp)
        tiny = make_tiny_model(folder / "tiny")
        for round_index in range(args.rounds):
            order = [1, args.batch] if round_index % 2 == 0 else [args.batch, 1]
            for batch in order:
                per_second, mean = run(tiny, folder / f"r{round_index}-b{batch}", batch=batch, jobs=jobs)
                figures[batch].append(per_second)
                if batch != 1:
                    mean_batch.append(mean)
                print(f"round {round_index + 1}: --max-batch {batch}: {per_second:.2f} images/s "
                      f"(mean batch {mean:.2f})", flush=True)
    alone, batched = statistics.median(figures[1]), statistics.median(figures[args.batch])
    print(f"{args.jobs} jobs, tiny SD 1.5, {args.size}x{args.size}, {args.steps} steps, {args.rounds} round(s)")
    print(f"one at a time: {alone:.2f} images/s; --max-batch {args.batch}: {batched:.2f} images/s "
          f"(mean batch {statistics.mean(mean_batch):.2f}); batched / alone = {batched / alone:.3f}")


if __name__ == "__main__":
    main()
