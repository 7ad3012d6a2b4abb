"""Real processes for the distributed mode's tests: a Redis server, an S3 server, API processes and workers.

:class:`RedisServer` runs ``redis-server`` (installed by ``scripts/install-test-services.sh``)
on a free loopback port with AOF persistence, ``appendfsync always``, in a temporary
folder; it can be killed and restarted on the same port and files. :class:`ObjectServer`
runs moto's standalone S3 server the same way, with one bucket. :class:`Cluster`
starts ``t2i serve --queue`` and ``t2i worker`` as their own processes, exactly as a
user runs them, and stops whatever is still running when the block ends.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import redis
import requests

from tests.processes import kill_tree
from tests.reference_backend.support import API, ROOT
from tests.support import free_port, wait_for

T2I = [sys.executable, "-c", "from t2i_contract.spec.cli import run; run()"]
STARTUP = 120.0
"""Seconds a process may take to answer: a worker imports torch on two busy cores."""


S3_ENV = {"AWS_ACCESS_KEY_ID": "t2i-test", "AWS_SECRET_ACCESS_KEY": "t2i-test", "AWS_DEFAULT_REGION": "us-east-1",
          "AWS_EC2_METADATA_DISABLED": "true"}
"""Credentials the local S3 server accepts; set for every process so boto3 never looks anywhere else."""


class ObjectServer:
    """moto's standalone S3 server (``moto_server``, from the dev extra) on a free loopback port, with one bucket."""

    def __init__(self, folder: Path, bucket: str = "t2i-images") -> None:
        self.folder = folder
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket = bucket
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ObjectServer:
        binary = Path(sys.executable).parent / "moto_server"
        assert binary.exists(), "moto_server is missing: pip install -e '.[dev]' (make test does)"
        self.log = self.folder / "moto.log"
        with self.log.open("wb") as handle:
            self.process = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(self.port)],
                                            stdout=handle, stderr=subprocess.STDOUT, env=os.environ | S3_ENV)
        try:
            wait_for(self._answers, timeout=60, interval=0.05)
            self.client().create_bucket(Bucket=self.bucket)
        except BaseException:
            self.kill()  # a server that did not come up is not left running
            raise
        return self

    def _answers(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.log.read_text(errors="replace")
        try:
            return requests.get(self.endpoint + "/", timeout=1).status_code < 500
        except requests.ConnectionError:
            return False

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")

    def keys(self) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(30)
            self.process = None


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: run scripts/install-test-services.sh (make test does)"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(self._answers, timeout=30, interval=0.05)
        except BaseException:
            self.kill()  # a server that did not come up is not left running
            raise
        return self

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=1).ping())
        except redis.ConnectionError:
            return False

    def kill(self) -> None:
        """SIGKILL: whatever AOF already has on disk is all that survives."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(30)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)


@dataclass
class Process:
    name: str
    process: subprocess.Popen[str]
    log: Path
    url: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Cluster:
    redis: RedisServer
    tiny: Any
    folder: Path
    heartbeat_timeout: float = 3.0
    objects: ObjectServer | None = None
    """With one, images go to its bucket and each process has a scratch folder of its own."""
    processes: list[Process] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.folder / "shared"

    def _storage(self, prefix: str, name: str) -> dict[str, str]:
        if self.objects is None:
            return {f"{prefix}_DATA": str(self.data)}
        return S3_ENV | {f"{prefix}_DATA": str(self.folder / f"{name}-scratch"),
                         f"{prefix}_IMAGES": f"s3://{self.objects.bucket}/generated",
                         f"{prefix}_IMAGES_ENDPOINT": self.objects.endpoint}

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        log = self.folder / f"{name}.log"
        with log.open("w") as handle:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(T2I + args, cwd=ROOT, env=os.environ | env, stdout=handle,
                                       stderr=subprocess.STDOUT, text=True)
        running = Process(name, process, log)
        self.processes.append(running)
        return running

    def api(self, name: str = "api", **settings: str) -> Process:
        port = free_port()
        env = {"T2I_SERVE_PORT": str(port), "T2I_SERVE_QUEUE": self.redis.url, "T2I_SERVE_SYNC_TIMEOUT": "60",
               "T2I_SERVE_PRIVATE_URLS": "allow"} | self._storage("T2I_SERVE", name)
        env |= {f"T2I_SERVE_{key.upper()}": value for key, value in settings.items()}
        running = self._spawn(name, ["serve"], env)
        running.url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(running), timeout=STARTUP, interval=0.1)
        return running

    def worker(self, name: str, *, wait: bool = True, **settings: str) -> Process:
        env = self._storage("T2I_WORKER", name) | {"T2I_WORKER_QUEUE": self.redis.url, "T2I_WORKER_NAME": name,
               "T2I_WORKER_MODELS": str(self.tiny.models_dir), "T2I_WORKER_LORAS": str(self.tiny.loras_dir),
               "T2I_WORKER_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout), "T2I_WORKER_TORCH_THREADS": "1",
               "T2I_WORKER_WEBHOOK_BACKOFF": "0.05"}
        env |= {f"T2I_WORKER_{key.upper()}": value for key, value in settings.items()}
        running = self._spawn(name, ["worker"], env)
        if wait:
            wait_for(lambda: self._registered(running), timeout=STARTUP, interval=0.1)
        return running

    def _registered(self, running: Process) -> bool:
        if not running.alive():
            raise AssertionError(f"{running.name} exited with {running.process.returncode}: {running.output()}")
        try:
            return bool(self.redis.client().exists(f"t2i:worker:{running.name}"))
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        for running in self.processes:
            if running.alive():
                running.process.send_signal(signal.SIGTERM)
        for running in self.processes:
            try:
                running.process.wait(30)
            except subprocess.TimeoutExpired:
                kill_tree(running.process)  # and whatever it started


def _answers(running: Process) -> bool:
    if not running.alive():
        raise AssertionError(f"{running.name} exited with {running.process.returncode}: {running.output()}")
    try:
        return requests.get(running.url + "/", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


@contextmanager
def cluster(tiny: Any, folder: Path, *, object_store: bool = False, **options: Any) -> Iterator[Cluster]:
    """A Redis server (and an S3 server with ``object_store``) and room for API processes and workers; everything
    stopped at the end."""
    server = RedisServer(folder).start()
    objects = ObjectServer(folder) if object_store else None
    try:
        if objects is not None:
            objects.start()
        running = Cluster(server, tiny, folder, objects=objects, **options)
        try:
            yield running
        finally:
            running.stop()
    finally:
        server.kill()
        if objects is not None:
            objects.kill()


def submit(api: Process, body: dict[str, Any], *, asynchronous: bool = True) -> dict[str, Any]:
    headers = {"Prefer": "respond-async"} if asynchronous else {}
    response = requests.post(f"{api.url}{API}/text2img", json=body, headers=headers, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def fetch(api: Process, job_id: int, key: str) -> dict[str, Any]:
    response = requests.post(f"{api.url}{API}/fetch/{job_id}", json={"key": key}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def finished(apis: list[Process], ids: list[int], key: str) -> dict[int, dict[str, Any]]:
    """Every job's final answer, fetched round-robin from the API processes (any of them sees every job)."""
    results: dict[int, dict[str, Any]] = {}

    def poll() -> bool:
        for index, job_id in enumerate(ids):
            if job_id not in results:
                body = fetch(apis[index % len(apis)], job_id, key)
                if body["status"] != "processing":
                    results[job_id] = body
        return len(results) == len(ids)

    wait_for(poll, timeout=300, interval=0.2)
    return results
