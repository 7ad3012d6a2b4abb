"""Hot-path benchmark: spec's fast validator vs openapi-core's unmarshal_request.

Both handle the vendor's own example body (examples/upstream-example.json) in
the same process and the same run:

- fast path: ``parse_json_body`` + ``parse_text2img`` (parse, coerce, validate,
  normalise into the typed request), on the raw bytes as a server receives them;
- peer: ``openapi_core.OpenAPI.unmarshal_request`` on the same body after the
  documented coercions (openapi-core rejects the wire strings otherwise), so
  the peer also does a complete, successful validation.

Prints the median time per call of each and the ratio (target: the fast path at
most 50 µs and at least 50x faster). Not a test: run it by hand.

    .venv/bin/python benchmarks/bench_validation.py [--rounds N]
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from t2i_contract.spec import load_spec, parse_json_body, parse_text2img
from t2i_contract.spec.coercion import Coercions

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(call: Callable[[], Any], rounds: int, batch: int) -> float:
    """Median over ``rounds`` of the mean time of ``batch`` back-to-back calls."""
    for _ in range(batch):
        call()
    samples = []
    gc.disable()
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(batch):
                call()
            samples.append((time.perf_counter() - start) / batch)
    finally:
        gc.enable()
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    from openapi_core import OpenAPI
    from openapi_core.testing import MockRequest

    raw = (ROOT / "examples" / "upstream-example.json").read_bytes()
    spec = load_spec()
    fields = spec.validator("text2img").fields
    coercions = Coercions.from_document(spec.document)
    body = json.loads(raw)
    coerced = {k: coercions.apply(v, fields[k].json_types) if k in fields else v for k, v in body.items()}
    core = OpenAPI.from_file_path(str(spec.path))
    request = MockRequest("http://127.0.0.1:4010", "post", "/api/v6/images/text2img",
                          data=json.dumps(coerced).encode())
    assert not core.unmarshal_request(request).errors, "openapi-core must accept the coerced body"
    assert parse_text2img(parse_json_body(raw)).width == 512

    fast = median_seconds(lambda: parse_text2img(parse_json_body(raw)), args.rounds, 2000)
    peer = median_seconds(lambda: core.unmarshal_request(request), args.rounds, 20)

    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"fast path (parse+coerce+validate+normalise): {fast * 1e6:8.1f} us median")
    print(f"openapi-core unmarshal_request:              {peer * 1e6:8.1f} us median")
    print(f"ratio: {peer / fast:.0f}x (target >= 50x, fast path <= 50 us)")


if __name__ == "__main__":
    main()
