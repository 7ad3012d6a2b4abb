#!/usr/bin/env python3
"""What the validating proxy costs per call: ``t2i proxy`` in front of ``t2i mock`` vs the mock alone.

The peer is the same mock called directly, in the same run. One client sends the
same valid text2img body sequentially (keep-alive session), then downloads its
image as many times (through the proxy the link is the proxy's, and the PNG is
decoded and measured on the way); rounds alternate which path goes first, and
medians are compared, because this is a shared 2-core machine. Also times ``t2i lint`` and ``t2i diff`` on the bundled spec and
the vendor page in-process.

Run from the repository root:

    .venv/bin/python benchmarks/bench_proxy.py [--rounds 3] [--calls 300]

This is a measurement, not a test: it prints figures and exits 0.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BODY = {"key": "bench", "model_id": "f222-diffusion", "prompt": "a lighthouse", "width": 256, "height": 256}
VENDOR = ROOT / "tests" / "drift" / "fixtures" / "vendor-multi-lora-text2img.md"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "from t2i_contract.spec.cli import run; run()", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.post(url + "/api/v6/images/text2img", json=BODY, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def per_call_ms(url: str, calls: int) -> float:
    latencies = []
    with requests.Session() as http:
        for _ in range(calls):
            start_at = time.perf_counter()
            response = http.post(url + "/api/v6/images/text2img", json=BODY, timeout=10)
            latencies.append((time.perf_counter() - start_at) * 1000)
            assert response.status_code == 200, response.text
    return statistics.median(latencies)


def per_download_ms(url: str, calls: int) -> float:
    """Median time to GET the image a text2img answer links to (the proxy's link when ``url`` is the proxy)."""
    with requests.Session() as http:
        image = http.post(url + "/api/v6/images/text2img", json=BODY, timeout=10).json()["output"][0]
        assert image.startswith(url), image
        latencies = []
        for _ in range(calls):
            start_at = time.perf_counter()
            response = http.get(image, timeout=10)
            latencies.append((time.perf_counter() - start_at) * 1000)
            assert response.status_code == 200 and response.headers.get("X-T2I-Contract-Violations", "0") == "0"
    return statistics.median(latencies)


def time_ms(action, repeat: int = 20) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start_at = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start_at) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    options = parser.parse_args()
    mock_port, proxy_port = free_port(), free_port()
    mock_url, proxy_url = f"http://127.0.0.1:{mock_port}", f"http://127.0.0.1:{proxy_port}"
    servers = [start(["mock", "--port", str(mock_port)]),
               start(["proxy", "--upstream", mock_url, "--port", str(proxy_port)])]
    try:
        wait_up(mock_url)
        wait_up(proxy_url)
        direct, proxied, direct_png, proxied_png = [], [], [], []
        for round_ in range(options.rounds):
            order = [(direct, direct_png, mock_url), (proxied, proxied_png, proxy_url)]
            for sink, png_sink, url in order if round_ % 2 == 0 else order[::-1]:
                sink.append(per_call_ms(url, options.calls))
                png_sink.append(per_download_ms(url, options.calls))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    d, p = statistics.median(direct), statistics.median(proxied)
    print(f"text2img median latency, {options.calls} sequential calls x {options.rounds} rounds")
    print(f"  mock directly (peer): {d:.2f} ms")
    print(f"  through t2i proxy:    {p:.2f} ms  (ratio {p / d:.2f}x, +{p - d:.2f} ms per call)")
    d, p = statistics.median(direct_png), statistics.median(proxied_png)
    print(f"256x256 PNG download median latency, {options.calls} sequential downloads x {options.rounds} rounds")
    print(f"  mock directly (peer): {d:.2f} ms")
    print(f"  through t2i proxy:    {p:.2f} ms  (ratio {p / d:.2f}x, +{p - d:.2f} ms per download, checked)")

    sys.path.insert(0, str(ROOT))
    from t2i_contract.drift.diff import diff_documents
    from t2i_contract.drift.lint import lint_document
    from t2i_contract.spec import SPEC_PATH, read_document

    ours, vendor = read_document(SPEC_PATH), read_document(VENDOR)
    print(f"t2i lint, our spec:     {time_ms(lambda: lint_document(read_document(SPEC_PATH))):.1f} ms")
    print(f"t2i lint, vendor page:  {time_ms(lambda: lint_document(read_document(VENDOR))):.1f} ms")
    print(f"t2i diff vendor -> ours: {time_ms(lambda: diff_documents(vendor, ours)):.1f} ms")


if __name__ == "__main__":
    main()
