#!/usr/bin/env python3
"""Throughput and p99 latency of ``t2i mock`` against Prism, side by side, in one run.

Both shapes of the mock, ``--workers 1`` and ``--workers 2``, and Prism get the same
valid text2img request (canonical JSON types, so Prism's request validation accepts it)
from wrk ``-t2 -c16``, with the same duration. Each round runs every server once, the
order reversed every other round, and the medians are compared, because this is a
shared 2-core machine and a single run is noise: each shape's ratio is taken against
the Prism rounds of the same run. Before measuring, the script proves that every server
validates: an invalid body must be refused by each.

Needs wrk and Prism (the script says how to install them when they are missing):

    apt-get update && apt-get install -y wrk
    npm install --prefix benchmarks/.prism @stoplight/prism-cli

Run from the repository root:

    .venv/bin/python benchmarks/bench_mock.py [--rounds 3] [--duration 8] [--shapes 1,2]

One more server, the same WSGI server (granian or gunicorn) serving a 2-byte "hello world"
WSGI app with the largest shape's worker settings, shows the ceiling any WSGI app can
reach here (``--no-ceiling`` skips it): the mock cannot beat the server it runs in.

This is a measurement, not a test: it prints figures and the ratio, and exits 0
whether or not the target (3x Prism's requests/s for every shape, p99 no worse than
Prism's) is met. The load average at the start and the end is printed with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PRISM_LOCAL = ROOT / "benchmarks" / ".prism" / "node_modules" / ".bin" / "prism"
PATH = "/api/v6/images/text2img"
BODY: dict[str, Any] = {
    "key": "your_api_key",
    "model_id": "f222-diffusion",
    "prompt": "a portrait photo, ultra realistic, 4K",
    "negative_prompt": "blurry, extra fingers",
    "width": 512,
    "height": 512,
    "samples": 1,
    "num_inference_steps": 20,
    "safety_checker": True,
    "seed": None,
    "guidance_scale": 7.5,
    "upscale": False,
    "lora_model": "teddy-jacket-v1-0,a-simple-china-dress-v6-0",
    "lora_strength": "0.45,0.55",
    "scheduler": "UniPCMultistepScheduler",
    "webhook": None,
    "track_id": None,
}


HELLO_APP = """
def app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_tools() -> tuple[str, str]:
    wrk = shutil.which("wrk")
    prism = str(PRISM_LOCAL) if PRISM_LOCAL.exists() else shutil.which("prism")
    missing = []
    if not wrk:
        missing.append("wrk:   apt-get update && apt-get install -y wrk")
    if not prism:
        missing.append("Prism: npm install --prefix benchmarks/.prism @stoplight/prism-cli")
    if missing:
        sys.exit("missing tools; install them with\n  " + "\n  ".join(missing))
    assert wrk and prism
    return wrk, prism


def post(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            post(url, BODY)
            return
        except (OSError, ValueError):
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {timeout}s")


def start(command: list[str], log: Path, env: dict[str, str] | None = None,
          cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=cwd,
                            start_new_session=True, env=env)


def stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


THREADS = 2  # wrk threads (-t2): the load generator of the measurements
TARGET = 3.0  # requests/s against Prism's, every shape
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (a server's workers), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far (all their threads)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_wrk(wrk: str, url: str, script: Path, connections: int, duration: int,
            server: subprocess.Popen[bytes] | None = None) -> dict[str, float]:
    pids = process_tree(server.pid) if server is not None and Path("/proc").is_dir() else []
    before = cpu_seconds(pids)
    run = subprocess.run([wrk, f"-t{THREADS}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
                          url], capture_output=True, text=True, check=True)
    out = run.stdout
    cpu = cpu_seconds(pids) - before
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99_value, p99_unit = re.search(r"99%\s+([\d.]+)(us|ms|s|m)", out).groups()  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p99_ms": float(p99_value) * _UNITS[p99_unit], "non_2xx": float(bad.group(1)) if bad else 0,
            "socket_errors": 1.0 if errors else 0.0, "cpu_us": cpu / total * 1e6 if pids and total else 0.0}


def check_validation(name: str, url: str) -> None:
    status, answer = post(url, BODY)
    if status != 200:
        raise SystemExit(f"{name} refused the benchmark body: HTTP {status} {answer}")
    bad_status, bad_answer = post(url, BODY | {"width": 2048, "samples": "many"})
    if bad_status < 400:
        raise SystemExit(f"{name} accepted an invalid body, so it is not validating: {bad_answer}")
    print(f"  {name}: valid body -> HTTP {status}; invalid body -> HTTP {bad_status} (validation is on)")


SUBPACKAGES = ("spec", "wire", "protocol", "mock_server", "reference_backend", "contract_tests", "drift")


def baseline_root(source: Path, work: Path) -> Path:
    """An import root whose ``t2i_contract`` is the source tree ``source`` (another commit's checkout)."""
    root = work / "baseline"
    package = root / "t2i_contract"
    package.mkdir(parents=True)
    shutil.copy(source / "t2i_contract" / "__init__.py", package / "__init__.py")
    for name in SUBPACKAGES:
        (package / name).symlink_to(source / name)
    return root


def mock_command(t2i: str, port: int, workers: int, args: argparse.Namespace, db: Path) -> list[str]:
    if t2i == "-":  # the baseline: -P, so neither the working directory nor this checkout comes first
        return [sys.executable, "-P", "-c", "import sys; from t2i_contract.spec.cli import run; "
                "sys.argv[0] = 't2i'; sys.exit(run())", *mock_command("", port, workers, args, db)[1:]]
    return [t2i, "mock", "--port", str(port), "--server", args.server, "--workers", str(workers),
            *(["--threads", str(args.threads)] if args.threads else []), "--db", str(db)]


def ceiling_command(port: int, workers: int, args: argparse.Namespace, work: Path) -> list[str]:
    if args.server == "granian":
        return [str(Path(sys.executable).with_name("granian")), "--interface", "wsgi", "--no-ws",
                "--working-dir", str(work), "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--blocking-threads", str(args.threads or 1), "hello:app"]
    threads = args.threads or 4
    return [str(Path(sys.executable).with_name("gunicorn")), "--no-control-socket", "--chdir", str(work),
            "-b", f"127.0.0.1:{port}", "-w", str(workers), "--threads", str(threads),
            "-k", "sync" if threads == 1 else "gthread", "hello:app"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--shapes", default="1,2", help="t2i mock --workers of each shape measured, comma-separated")
    parser.add_argument("--server", choices=("granian", "gunicorn"), default="granian", help="t2i mock --server")
    parser.add_argument("--threads", type=int, default=None,
                        help="t2i mock --threads (default: the mock's own auto choice)")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the hello-world ceiling")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a source tree of another commit (git worktree or git archive) whose mock runs in the "
                        "same rounds, each shape as 'base wN': the before and after of a change, side by side")
    args = parser.parse_args()
    shapes = [int(n) for n in args.shapes.split(",") if n.strip()]
    wrk, prism = find_tools()
    # a SIGTERM (timeout, CI) must still stop the servers in the finally block below
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"stopped by signal {signum}"))

    work = Path(tempfile.mkdtemp(prefix="bench-mock-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(json.dumps(BODY))}\n"
    )
    t2i = str(Path(sys.executable).with_name("t2i"))
    servers: dict[str, subprocess.Popen[bytes]] = {}
    urls: dict[str, str] = {}
    results: dict[str, list[dict[str, float]]] = {}
    load_start = os.getloadavg()[0]
    try:
        for workers in shapes:
            name, port = f"mock w{workers}", free_port()
            servers[name] = start(mock_command(t2i, port, workers, args, work / f"mock{workers}.sqlite3"),
                                  work / f"mock{workers}.log")
            urls[name] = f"http://127.0.0.1:{port}{PATH}"
        if args.baseline is not None:
            env = {**os.environ, "PYTHONPATH": str(baseline_root(args.baseline.resolve(), work))}
            for workers in shapes:
                name, port = f"base w{workers}", free_port()
                servers[name] = start(mock_command("-", port, workers, args, work / f"base{workers}.sqlite3"),
                                      work / f"base{workers}.log", env=env, cwd=work)  # granian puts cwd first
                urls[name] = f"http://127.0.0.1:{port}{PATH}"
        port = free_port()
        servers["prism"] = start([prism, "mock", str(ROOT / "spec" / "text2img.yaml"), "-p", str(port)],
                                 work / "prism.log")
        urls["prism"] = f"http://127.0.0.1:{port}{PATH}"
        if not args.no_ceiling:
            (work / "hello.py").write_text(HELLO_APP)
            port = free_port()
            servers["ceiling"] = start(ceiling_command(port, max(shapes), args, work), work / "ceiling.log")
            urls["ceiling"] = f"http://127.0.0.1:{port}{PATH}"
        results = {name: [] for name in urls}
        for url in urls.values():
            wait_up(url)
        load_start = os.getloadavg()[0]
        print(f"machine: {os.cpu_count()} CPUs, load average {load_start:.2f} at the start; "
              f"wrk -t{THREADS} -c{args.connections} -d{args.duration}s, {args.rounds} rounds; "
              f"t2i mock --server {args.server} --threads {args.threads or 'auto'}, --workers {args.shapes}")
        for name, url in urls.items():
            if name != "ceiling":
                check_validation(name, url)
        for url in urls.values():  # warm-up: JIT in Node, caches in Python
            run_wrk(wrk, url, script, args.connections, 2)
        order = list(urls)
        for round_no in range(args.rounds):
            for name in order if round_no % 2 == 0 else order[::-1]:
                result = run_wrk(wrk, urls[name], script, args.connections, args.duration, servers[name])
                results[name].append(result)
                print(f"  round {round_no + 1} {name:9} {result['rps']:8.0f} req/s  p99 {result['p99_ms']:7.2f} ms"
                      f"  CPU {result['cpu_us']:5.0f} us/req"
                      + (f"  non-2xx {result['non_2xx']:.0f}" if result["non_2xx"] else ""), flush=True)
    finally:
        for process in servers.values():
            stop(process)
        shutil.rmtree(work, ignore_errors=True)
    report(results, args, load_start)


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace, load_start: float) -> None:
    rps = {name: statistics.median(r["rps"] for r in rs) for name, rs in results.items()}
    p99 = {name: statistics.median(r["p99_ms"] for r in rs) for name, rs in results.items()}
    cpu = {name: statistics.median(r["cpu_us"] for r in rs) for name, rs in results.items()}
    print(f"\nmedian of rounds (load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; "
          "CPU: the server's processes, all threads, per request):")
    for name in results:
        note = f"  ({args.server} hello world: the most any WSGI app gets here)" if name == "ceiling" else ""
        print(f"  {name:9} {rps[name]:8.0f} req/s  p99 {p99[name]:7.2f} ms  CPU {cpu[name]:5.0f} us/req{note}")
    if "ceiling" in rps:
        print(f"ceiling / prism: {rps['ceiling'] / rps['prism']:.2f}x")
    met = True
    for name in results:
        if name.startswith("base"):
            print(f"{name}: {rps[name] / rps['prism']:.2f}x Prism's requests/s; p99 {p99[name]:.2f} ms (the baseline)")
        if not name.startswith("mock"):
            continue
        ratio = rps[name] / rps["prism"]
        met = met and ratio >= TARGET and p99[name] <= p99["prism"]
        print(f"{name}: {ratio:.2f}x Prism's requests/s; p99 {p99[name]:.2f} ms vs {p99['prism']:.2f} ms")
    print(f"target (>= {TARGET:g}x requests/s with every shape, p99 no worse):", "met" if met else "NOT met")


if __name__ == "__main__":
    main()
