"""Issue 20's done-when: a cluster of hosts that share nothing but the network loses no job, whatever is killed.

Redis, an S3 server (moto), two API processes and three workers (the third replaces
the first one killed) each run in a network namespace of their own with its own
address, on a private bridge the test makes and removes (:mod:`.netns`); images are
in the bucket, and each process has only its own scratch folder. During a flood of
submissions from eight threads on four keys (``--max-queued 4``), the test kills an
API process with SIGKILL, a worker with SIGKILL mid-job, stops another with SIGTERM
mid-job, and kills and restarts Redis. Then every stored job has succeeded, once
(its webhook arrived exactly once, its image is listed once), and no key is
blocked: each takes new jobs again. Skipped, saying why, where namespaces cannot be
made (not root, no iproute2).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis

from tests.reference_backend.support import API, text2img_body
from tests.support import wait_for

from .cluster import S3_ENV, STARTUP, T2I
from .netns import Hosts, UnixHTTPConnection, unavailable

if TYPE_CHECKING:
    from t2i_contract.reference_backend import TinyModel

KEYS = [f"tenant-{n}" for n in range(4)]
PORT = 8000
BUCKET = "t2i-images"


def _post(sock: Path, host: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    connection = UnixHTTPConnection(sock, host)
    try:
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json",
                                                             "Prefer": "respond-async"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def _answers(sock: Path, host: str) -> bool:
    connection = UnixHTTPConnection(sock, host, timeout=5)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.mark.slow
def test_a_cluster_of_namespaced_hosts_loses_no_job_and_runs_none_twice(tiny: TinyModel, tmp_path: Path) -> None:
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"no namespace cluster here: {reason}")
    with Hosts(tmp_path) as hosts:
        address = {name: hosts.add(name) for name in ("redis", "s3", "api1", "api2", "w1", "w2", "w3", "client")}
        (tmp_path / "redis").mkdir()
        redis_command = [shutil.which("redis-server") or "redis-server", "--port", "6379", "--bind", address["redis"],
                         "--dir", str(tmp_path / "redis"), "--save", "", "--appendonly", "yes", "--appendfsync",
                         "always", "--protected-mode", "no"]
        redis_process = hosts.run("redis", redis_command, tmp_path / "redis.log")
        store = redis.Redis(unix_socket_path=str(hosts.forward(6379, "redis", "redis")), decode_responses=True)
        wait_for(lambda: _ping(store), timeout=60, interval=0.05)
        moto = Path(sys.executable).parent / "moto_server"
        hosts.run("s3", [str(moto), "-H", address["s3"], "-p", "5000"], tmp_path / "s3.log", S3_ENV)
        endpoint = f"http://{address['s3']}:5000"
        make_bucket = ["ip", "netns", "exec", hosts.namespace("client"), sys.executable, "-c",
                       f"import boto3; boto3.client('s3', endpoint_url={endpoint!r}).create_bucket(Bucket={BUCKET!r})"]
        wait_for(lambda: subprocess.run(make_bucket, env=os.environ | S3_ENV, capture_output=True).returncode == 0,
                 timeout=60, interval=0.2)
        hooks_file = tmp_path / "hooks.jsonl"
        hosts.run("client", [sys.executable, str(Path(__file__).with_name("netns.py")), "listen", address["client"],
                             "8099", str(hooks_file)], tmp_path / "listener.log")
        hook = f"http://{address['client']}:8099/hook"
        queue = f"redis://{address['redis']}:6379/0"
        storage = {"IMAGES": f"s3://{BUCKET}/generated", "IMAGES_ENDPOINT": endpoint}

        def api(name: str) -> tuple[subprocess.Popen[Any], Path]:
            env = {f"T2I_SERVE_{k}": v for k, v in {
                "HOST": address[name], "PORT": str(PORT), "QUEUE": queue, "DATA": str(tmp_path / f"{name}-scratch"),
                "PRIVATE_URLS": "allow", "MAX_QUEUED": "4", "SYNC_TIMEOUT": "60", **storage}.items()}
            process = hosts.run(name, T2I + ["serve"], tmp_path / f"{name}.log", S3_ENV | env)
            sock = hosts.forward(PORT, name, name)
            wait_for(lambda: process.poll() is None and _answers(sock, address[name]), timeout=STARTUP, interval=0.2)
            return process, sock

        def worker(name: str) -> subprocess.Popen[Any]:
            env = {f"T2I_WORKER_{k}": v for k, v in {
                "QUEUE": queue, "NAME": name, "DATA": str(tmp_path / f"{name}-scratch"), "MODELS": str(tiny.models_dir),
                "HEARTBEAT_TIMEOUT": "3", "WEBHOOK_BACKOFF": "0.05", **storage}.items()}
            process = hosts.run(name, T2I + ["worker"], tmp_path / f"{name}.log", S3_ENV | env)
            wait_for(lambda: process.poll() is None and store.exists(f"t2i:worker:{name}"), timeout=STARTUP,
                     interval=0.2)
            return process

        (api1, sock1), (api2, sock2) = api("api1"), api("api2")
        workers = {name: worker(name) for name in ("w1", "w2")}

        answers: list[int] = []
        stop = threading.Event()

        def flood(thread: int) -> None:
            for n in range(100_000):
                if stop.is_set():
                    return
                sock, host = (sock1, address["api1"]) if n % 2 == 0 else (sock2, address["api2"])
                body = text2img_body(key=KEYS[thread % 4], seed=thread * 100_000 + n, num_inference_steps=12,
                                     webhook=hook)
                try:
                    answers.append(_post(sock, host, f"{API}/text2img", body)[0])
                except OSError:  # the API process it was talking to was killed
                    answers.append(0)

        threads = [threading.Thread(target=flood, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: answers.count(200) >= 10, timeout=300)
            api1.kill()
            api1.wait(30)

            def running_on(name: str) -> bool:
                return any(store.hget(f"t2i:job:{i}", "state") == "running"
                           and store.hget(f"t2i:job:{i}", "worker") == name
                           for i in range(1, int(store.get("t2i:next_id") or 0) + 1))

            wait_for(lambda: running_on("w1"), timeout=300, interval=0.02)
            workers["w1"].kill()
            workers["w3"] = worker("w3")
            wait_for(lambda: running_on("w2"), timeout=300, interval=0.02)
            workers["w2"].send_signal(signal.SIGTERM)
            assert workers["w2"].wait(300) == 0, (tmp_path / "w2.log").read_text()
            redis_process.kill()
            redis_process.wait(30)
            redis_process = hosts.run("redis", redis_command, tmp_path / "redis.log")
            wait_for(lambda: _ping(store), timeout=60, interval=0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(120)
        assert set(answers) <= {0, 200, 429, 503}, sorted(set(answers))  # 503: Redis was restarting

        stored = range(1, int(store.get("t2i:next_id")) + 1)
        assert len(stored) >= answers.count(200) >= 10
        wait_for(lambda: all(store.hget(f"t2i:job:{i}", "state") in ("success", "failed") for i in stored),
                 timeout=600, interval=0.2)
        states = {i: store.hget(f"t2i:job:{i}", "state") for i in stored}
        assert set(states.values()) == {"success"}, states
        wait_for(lambda: all(store.hget(f"t2i:job:{i}", "webhook_status").startswith("delivered") for i in stored),
                 timeout=300, interval=0.2)
        arrived = [json.loads(line)["id"] for line in hooks_file.read_text().splitlines()]
        assert sorted(arrived) == list(stored), "every job's webhook arrived exactly once"
        images = [name for i in stored for name in json.loads(store.hget(f"t2i:job:{i}", "images"))]
        assert len(images) == len(set(images)) == len(stored), "one image per job, listed once"
        assert store.zcard("t2i:outbox") == 0 and not any(store.exists(f"t2i:waiting:{k}") for k in KEYS)
        for key in KEYS:  # no key is blocked: each takes new jobs
            status, body = _post(sock2, address["api2"], f"{API}/text2img", text2img_body(key=key))
            assert status == 200 and body["status"] in ("processing", "success"), body
        assert "terminate called" not in (tmp_path / "w2.log").read_text()
