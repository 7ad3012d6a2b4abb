"""Issue 18, items 10, 11 and 13: the URL policy, second pass, over HTTP.

Reproduced before the fixes: with private targets allowed (the mock's default), the IPv6
forms ``[64:ff9b::127.0.0.1]`` (NAT64), ``[2002:7f00:1::]`` (6to4) and ``[::127.0.0.1]``
(IPv4-compatible) passed as loopback, and the server then dialled that IPv6 address, which
is off the machine; ``--url-allow 127.0.0.1 --url-allow localhost`` refused 127.0.0.1 (the
last flag won); the mock's refusal said "start the server with --allow-private-urls", a flag
the mock lacked. Since issue 17 both servers have one option, ``--private-urls allow|deny``,
and each refusal names it.

The IPv6 test runs the mock and its client inside a network namespace of its own with only
loopback (``unshare -n``), so even a server that dialled those addresses sends nothing off
this machine; the judgement of each address without connecting is tests/protocol/test_urls.py's.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from t2i_contract.reference_backend import TinyModel
from tests.processes import ROOT, running
from tests.support import WebhookListener, free_port

from .answers import PNG_BASE64, error_fields

EMBEDDED = ["64:ff9b::127.0.0.1", "64:ff9b:1::7f00:1", "2002:7f00:1::", "::127.0.0.1", "2001:0:7f00:1::"]
TIMEOUT = 120.0

_INSIDE = textwrap.dedent('''
    import json, sys
    import requests
    from t2i_contract.mock_server import EXTENSION, MockConfig, create_app
    from tests.support import ServerThread

    app = create_app(MockConfig(db_path=sys.argv[1]))
    results = {}
    try:
        with ServerThread(app) as server:
            base = {"key": "k", "model_id": "m", "prompt": "p", "width": 256, "height": 256}
            for address in sys.argv[2:]:
                url = f"http://[{address}]:8080/x"
                hook = requests.post(server.url + "/api/v6/images/text2img", json={**base, "webhook": url}, timeout=60)
                image = requests.post(server.url + "/api/v6/images/img2img", json={**base, "init_image": url},
                                      timeout=60)
                results[address] = [[r.status_code, r.json()] for r in (hook, image)]
    finally:
        app.extensions[EXTENSION].close()
    print(json.dumps(results))
''')


@pytest.mark.skipif(shutil.which("unshare") is None or shutil.which("ip") is None, reason="needs unshare and ip")
def test_embedded_ipv4_forms_are_refused_by_the_default_mock_inside_a_loopback_only_namespace(
        tmp_path: Path) -> None:
    script = tmp_path / "inside.py"
    script.write_text(_INSIDE)
    command = f"ip link set lo up && exec {sys.executable} {script} {tmp_path / 'mock.sqlite3'} " + " ".join(EMBEDDED)
    done = subprocess.run(["unshare", "-n", "sh", "-c", command], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode and "unshare" in done.stderr and "Operation not permitted" in done.stderr:
        pytest.skip("this machine does not let the tests make a network namespace")
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for address, ((hook_status, hook), (image_status, image)) in results.items():
        assert hook_status == 400 and [e["field"] for e in hook["errors"]] == ["webhook"], (address, hook)
        assert image_status == 400 and [e["field"] for e in image["errors"]] == ["init_image"], (address, image)
        assert hook["errors"][0]["rule"] == "url_policy" and "--url-allow" in hook["message"], hook


@pytest.mark.parametrize("kind", ["mock", "serve"])
def test_url_allow_is_repeatable_and_its_values_add_up(kind: str, tiny: TinyModel, tmp_path: Path) -> None:
    port = free_port()
    flags = ["--port", str(port), "--url-allow", "127.0.0.1", "--url-allow", "localhost"]
    if kind == "mock":
        flags += ["--private-urls", "deny", "--db", str(tmp_path / "m.sqlite3")]
        ready = "/__mock/health"
    else:
        flags += ["--models", str(tiny.models_dir), "--data", str(tmp_path / "d")]
        ready = "/"
    with WebhookListener() as listener, running(kind, flags, tmp_path / f"{kind}.log", port, ready=ready) as server:
        hook_port = listener.url.split(":")[2].split("/")[0]
        for host in ("127.0.0.1", "localhost"):
            body = {"key": "k", "model_id": "tiny-sd", "prompt": "p", "width": 256, "height": 256,
                    "num_inference_steps": 1, "webhook": f"http://{host}:{hook_port}/hook"}
            answer = requests.post(server.url + "/api/v6/images/text2img", json=body,
                                   headers={"Prefer": "respond-async"}, timeout=TIMEOUT)
            assert answer.status_code == 200, (host, answer.text)
        refused = requests.post(server.url + "/api/v6/images/text2img", timeout=TIMEOUT,
                                json={"key": "k", "model_id": "tiny-sd", "prompt": "p", "webhook": "http://10.0.0.1/"})
        assert refused.status_code == 400 and error_fields(refused) == ["webhook"], refused.text


@pytest.mark.parametrize("kind", ["mock", "serve"])
def test_each_servers_refusal_names_the_one_private_urls_option_it_has(kind: str, tiny: TinyModel,
                                                                      tmp_path: Path) -> None:
    """Both servers start with ``--private-urls deny`` (so both have it), and a refusal names its opposite."""
    port = free_port()
    flags = ["--port", str(port), "--private-urls", "deny"]
    if kind == "mock":
        flags += ["--db", str(tmp_path / "m.sqlite3")]
        ready, model = "/__mock/health", "m"
    else:
        flags += ["--models", str(tiny.models_dir), "--data", str(tmp_path / "d")]
        ready, model = "/", "tiny-sd"
    with running(kind, flags, tmp_path / f"{kind}.log", port, ready=ready) as server:
        for field, operation, extra in (("webhook", "text2img", {}), ("init_image", "img2img", {})):
            body = {"key": "k", "model_id": model, "prompt": "p", "init_image": PNG_BASE64, **extra,
                    field: "http://10.0.0.1/x.png"}
            answer = requests.post(f"{server.url}/api/v6/images/{operation}", json=body, timeout=TIMEOUT)
            assert answer.status_code == 400 and error_fields(answer) == [field], answer.text
            message = answer.json()["message"]
            assert "--private-urls allow" in message and "--url-allow 10.0.0.1" in message, message
