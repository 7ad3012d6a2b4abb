"""Hosts for the cluster test: Linux network namespaces on a private bridge, made and removed by the test.

:class:`Hosts` makes one namespace per host, each with its own address on a bridge
that has none (so nothing outside the namespaces can be reached, and the machine's
own network is never touched), runs processes in them (``ip netns exec``), and
removes namespaces, veth pairs and bridge at the end. The test process itself has
no address there: it reaches a host through a Unix socket that a forwarder running
in the ``client`` namespace relays (``python netns.py forward SOCKET HOST PORT``),
and webhooks go to a listener there that appends each call to a file
(``python netns.py listen HOST PORT FILE``): the filesystem is all that is shared.

Run as a script, this module is those two helpers.
"""
from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["Hosts", "UnixHTTPConnection", "unavailable"]

SUBNET = "10.231.{}.{}"
"""Addresses inside the namespaces only: the bridge in the root namespace has none."""


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    probe = f"t2i-probe-{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class Hosts:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tag = secrets.token_hex(2)
        self.net = int(self.tag, 16) % 200 + 20
        self.bridge = f"t2ib{self.tag}"
        self.hosts: dict[str, str] = {}
        self.processes: list[subprocess.Popen[Any]] = []

    def __enter__(self) -> Hosts:
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("link", "set", self.bridge, "up")
        return self

    def add(self, name: str) -> str:
        """A new host: its namespace, a veth pair on the bridge, an address; returns the address."""
        index = len(self.hosts) + 2
        namespace, outside, inside = f"t2i{self.tag}{name}", f"t2iv{self.tag}{index}", f"t2ip{self.tag}{index}"
        address = SUBNET.format(self.net, index)
        _ip("netns", "add", namespace)
        self.hosts[name] = address
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", namespace)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
        _ip("-n", namespace, "link", "set", inside, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        return address

    def namespace(self, name: str) -> str:
        return f"t2i{self.tag}{name}"

    def run(self, host: str, command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[Any]:
        """Start ``command`` on ``host`` (``ip netns exec`` execs it: the Popen is the process itself)."""
        with log.open("ab") as handle:
            process = subprocess.Popen(["ip", "netns", "exec", self.namespace(host), *command], stdout=handle,
                                       stderr=subprocess.STDOUT, env=os.environ | (env or {}))
        self.processes.append(process)
        return process

    def forward(self, port: int, host: str, name: str) -> Path:
        """A Unix socket in the test's folder that reaches ``host:port`` (through the client host)."""
        path = self.folder / f"{name}.sock"
        self.run("client", [sys.executable, __file__, "forward", str(path), self.hosts[host], str(port)],
                 self.folder / f"forward-{name}.log")
        return path

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait(30)
        for name in self.hosts:
            subprocess.run(["ip", "netns", "del", self.namespace(name)], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a forwarder's Unix socket; ``host`` is only what the Host header says."""

    def __init__(self, path: Path, host: str, timeout: float = 60) -> None:
        super().__init__(host, timeout=timeout)
        self.path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def forward(path: str, host: str, port: int) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    while True:
        client, _ = server.accept()
        try:
            upstream = socket.create_connection((host, port), timeout=10)
        except OSError:
            client.close()
            continue
        upstream.settimeout(None)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def listen(host: str, port: int, file: str) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock, open(file, "a") as handle:
                handle.write(json.dumps(json.loads(body or b"{}")) + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer((host, port), Handler).serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "forward":
        forward(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "listen":
        listen(sys.argv[2], int(sys.argv[3]), sys.argv[4])
