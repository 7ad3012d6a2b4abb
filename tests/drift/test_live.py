"""``t2i drift`` over real HTTP: nothing against the mock, each drift against a drifting mock."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from t2i_contract.drift.findings import Finding
from t2i_contract.drift.live import DriftSettings, run_drift
from t2i_contract.spec import SPEC_PATH, load_spec, parse_text2img
from t2i_contract.spec.cli import main

S = "/components/schemas"
TEXT2IMG = "/paths/~1api~1v6~1images~1text2img/post"


def _drift(url: str, samples: int = 6, **extra: Any) -> list[Finding]:
    return run_drift(DriftSettings(base_url=url, samples=samples, **({"invalid_ratio": 0.34} | extra)))


def test_drift_against_the_mock_reports_nothing_at_warn_or_error(mock_url: str) -> None:
    findings = run_drift(DriftSettings(base_url=mock_url, samples=24, profile="full", seed=1))
    serious = [f for f in findings if f.level != "info"]
    assert serious == []
    # What remains are coverage notes, true of the mock: it sends retry_after only with a 429
    # (which valid traffic never provokes), never answers an error with HTTP 200, and reloads a
    # model at once (so model_reload's eta, processing and error never show).
    assert {(f.rule, f.path) for f in findings} == {
        ("field-never-seen", f"{S}/ErrorResponse/properties/retry_after"),
        ("enum-value-never-seen", f"{S}/GenerationResult/discriminator/mapping"),
        ("field-never-seen", f"{S}/ModelReloadResponse/properties/eta"),
        ("enum-value-never-seen", f"{S}/ModelReloadResponse/properties/status/enum"),
    }
    assert "\"error\" is documented but never seen" in " ".join(f.message for f in findings)


def _success_only(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[str, int, Any], tuple[int, Any]]:
    def response_change(path: str, code: int, body: Any) -> tuple[int, Any]:
        if isinstance(body, dict) and body.get("status") == "success":
            body = change(dict(body))
        return code, body
    return response_change


def _rename(body: dict[str, Any]) -> dict[str, Any]:
    body["generation_time"] = body.pop("generationTime")
    return body


def _accept_invalid(body: dict[str, Any]) -> dict[str, Any]:
    try:
        parse_text2img(body, load_spec())
    except Exception:
        return {"key": "k", "model_id": "f222-diffusion", "prompt": "accepted anyway"}
    return body


def _error_status(code: int) -> Callable[[str, int, Any], tuple[int, Any]]:
    return lambda path, status, body: (code if status == 400 else status, body)


# drift -> (changes to the mock, (rule, pointer) findings the report must hold)
DRIFTS: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
    "renamed-field": ({"response_change": _success_only(_rename)}, [
        ("undocumented-field", f"{S}/SuccessResponse/properties"),
        ("field-never-seen", f"{S}/SuccessResponse/properties/generationTime")]),
    "added-field": ({"response_change": _success_only(lambda b: b | {"nsfw_score": 0.01})}, [
        ("undocumented-field", f"{S}/SuccessResponse/properties")]),
    "id-as-string": ({"response_change": _success_only(lambda b: b | {"id": str(b["id"])})}, [
        ("type-mismatch", f"{S}/SuccessResponse/properties/id")]),
    "unknown-status": ({"response_change": _success_only(lambda b: b | {"status": "completed"})}, [
        ("unknown-enum-value", f"{S}/GenerationResult/discriminator/mapping")]),
    "missing-output": ({"response_change": _success_only(lambda b: {k: v for k, v in b.items() if k != "output"})}, [
        ("missing-required", f"{S}/SuccessResponse/required")]),
    "default-width-768": ({"request_change": lambda b: {"width": 768} | b}, [
        ("default-not-applied", f"{S}/Text2ImgRequest/properties/width/default")]),
    "default-guidance-9": ({"request_change": lambda b: {"guidance_scale": 9} | b}, [
        ("default-not-applied", f"{S}/Text2ImgRequest/properties/guidance_scale/default")]),
    "accepts-invalid-bodies": ({"request_change": _accept_invalid}, [
        ("invalid-request-accepted", f"{TEXT2IMG}/requestBody")]),
    "undocumented-422": ({"response_change": _error_status(422)}, [
        ("undocumented-status", f"{TEXT2IMG}/responses")]),
}


@pytest.mark.parametrize("name", sorted(DRIFTS))
def test_each_drift_is_reported_at_error_or_warn(name: str, drifting_server: Callable[..., str]) -> None:
    changes, expected = DRIFTS[name]
    findings = _drift(drifting_server(**changes))
    found = {(f.rule, f.path) for f in findings}
    for item in expected:
        assert item in found, findings
    assert any(f.level in ("error", "warn") for f in findings if (f.rule, f.path) in expected)


def test_width_default_drift_is_seen_in_meta_and_in_the_image(drifting_server: Callable[..., str]) -> None:
    changes, _ = DRIFTS["default-width-768"]
    messages = [f.message for f in _drift(drifting_server(**changes), samples=3)
                if f.rule == "default-not-applied" and "/width/" in f.path]
    assert any("meta.width is 768" in m for m in messages)
    assert any("output[0] is 768x512, expected 512x512" in m for m in messages)


def test_cli_exits_zero_on_the_mock_and_one_on_a_drifting_server(
        mock_url: str, drifting_server: Callable[..., str]) -> None:
    runner = CliRunner()
    clean = runner.invoke(main, ["drift", "--base-url", mock_url, "--samples", "5", "--format", "json"],
                          auto_envvar_prefix="T2I")
    assert clean.exit_code == 0, clean.output
    assert all(f["level"] == "info" for f in json.loads(clean.stdout)["findings"])
    url = drifting_server(**DRIFTS["id-as-string"][0])
    drifted = runner.invoke(main, ["drift", "--samples", "5"], env={"T2I_DRIFT_BASE_URL": url},
                            auto_envvar_prefix="T2I")
    assert drifted.exit_code == 1 and "type-mismatch" in drifted.output


def test_unreachable_server_exits_two_with_a_message() -> None:
    from tests.support import free_port

    result = CliRunner().invoke(main, ["drift", "--base-url", f"http://127.0.0.1:{free_port()}", "--samples", "1"],
                                auto_envvar_prefix="T2I")
    assert result.exit_code == 2 and "cannot reach" in result.output


@pytest.mark.parametrize(("settings", "says"), [
    ({"base_url": "ftp://x"}, "base_url must be an http"), ({"base_url": "http://x", "samples": 0}, "samples"),
    ({"base_url": "http://x", "invalid_ratio": 2}, "invalid_ratio"),
], ids=["scheme", "samples", "ratio"])
def test_settings_reject_bad_values_naming_them(settings: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        DriftSettings(**settings)


def test_a_busy_answer_is_retried_after_retry_after_not_reported_as_rejection(
        drifting_server: Callable[..., str]) -> None:
    calls = {"text2img": 0}

    def busy_once(path: str, code: int, body: Any) -> tuple[int, Any]:
        if path.endswith("/text2img"):
            calls["text2img"] += 1
            if calls["text2img"] == 1:
                return 429, {"status": "error", "message": "Rate limit exceeded.", "retry_after": 0}
        return code, body

    findings = _drift(drifting_server(response_change=busy_once), samples=3, invalid_ratio=0)
    assert calls["text2img"] == 4  # 3 generations, the first one asked twice
    assert [f for f in findings if f.level != "info"] == []


def test_spec_option_holds_the_server_to_another_contract(mock_url: str, tmp_path: Path) -> None:
    # A branch's spec that renamed generationTime: the unchanged mock now drifts from it.
    text = SPEC_PATH.read_text().replace("generationTime:", "generation_time:")
    branch = tmp_path / "branch.yaml"
    branch.write_text(text)
    result = CliRunner().invoke(main, ["drift", "--base-url", mock_url, "--samples", "3", "--spec", str(branch)],
                                auto_envvar_prefix="T2I")
    assert result.exit_code == 0  # an undocumented field is a warning
    assert "\"generationTime\" is not in the spec" in result.output
    assert "\"generation_time\" is documented but absent" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.0.0\n")
    result = CliRunner().invoke(main, ["drift", "--base-url", mock_url, "--spec", str(broken)], auto_envvar_prefix="T2I")
    assert result.exit_code == 2 and "not an OpenAPI 3.1 document" in result.output


# -- img2img, inpaint and model_reload ------------------------------------------------
IMG2IMG = "/paths/~1api~1v6~1images~1img2img/post"
MODEL_RELOAD = "/paths/~1api~1v6~1images~1model_reload/post"


def _on(suffix: str, code: int, answer: dict[str, Any], *, when: int | None = None) -> \
        Callable[[str, int, Any], tuple[int, Any]]:
    """Answer every call to the path ending in ``suffix`` (with status ``when``, if given) with ``answer``."""
    def response_change(path: str, status: int, body: Any) -> tuple[int, Any]:
        hit = path.endswith(suffix) and when in (None, status)
        return (code, answer) if hit else (status, body)
    return response_change


def test_a_server_without_img2img_is_one_finding_saying_so(drifting_server: Callable[..., str]) -> None:
    message = "Not found: this server does not implement img2img"
    url = drifting_server(response_change=_on("/img2img", 404, {
        "status": "error", "message": message, "errors": [{"field": "", "rule": "operation", "message": message}]}))
    findings = [f for f in _drift(url) if f.level != "info"]
    assert [(f.rule, f.path) for f in findings] == [("valid-request-rejected", IMG2IMG)]
    assert "does not implement img2img" in findings[0].message


def test_valid_img2img_bodies_refused_are_reported_under_img2img(drifting_server: Callable[..., str]) -> None:
    url = drifting_server(response_change=_on("/img2img", 400, {"status": "error", "message": "no"}))
    paths = {f.path for f in _drift(url) if f.rule == "valid-request-rejected"}
    assert paths == {f"{IMG2IMG}/requestBody"}


class _RefuseUrls:
    """The mock behind a URL policy that refuses loopback input URLs (base64 passes)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        import io

        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        raw = request.get_data()
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(raw), str(len(raw))  # for the mock
        try:
            body = json.loads(raw) if request.path.endswith(("/img2img", "/inpaint")) else None
        except ValueError:
            body = None
        value = body.get("init_image") if isinstance(body, dict) else None
        if isinstance(value, str) and value.startswith("http"):
            error = {"field": "init_image", "rule": "url_policy", "message": "loopback refused", "value": value}
            answer = {"status": "error", "message": "init_image: loopback refused", "errors": [error]}
            return Response(json.dumps(answer), 400, mimetype="application/json")(environ, start_response)
        return self.app(environ, start_response)


def test_inputs_go_as_base64_when_the_server_refuses_the_image_url() -> None:
    from t2i_contract.mock_server import EXTENSION, MockConfig, create_app
    from tests.support import ServerThread

    app = create_app(MockConfig())
    try:
        with ServerThread(_RefuseUrls(app)) as server:
            findings = _drift(server.url)
    finally:
        app.extensions[EXTENSION].close()
    assert [f for f in findings if f.level != "info"] == []
    assert {f.rule for f in findings} <= {"field-never-seen", "enum-value-never-seen"}


def test_a_model_reload_answer_outside_its_schema_is_found_at_its_response(
        drifting_server: Callable[..., str]) -> None:
    url = drifting_server(response_change=_on("/model_reload", 200, {"status": "loaded", "message": "ok"}, when=200))
    findings = [f for f in _drift(url) if f.level != "info"]
    assert {f.rule for f in findings} == {"unknown-enum-value", "valid-request-rejected"}
    assert any(f.path == f"{S}/ModelReloadResponse/properties/status" for f in findings), findings
    assert any(f.path == f"{MODEL_RELOAD}/requestBody" and "'loaded'" in f.message for f in findings)


def test_drift_options_choose_operations_and_rules_record_and_pace(mock_url: str, tmp_path: Path) -> None:
    """--operation, --checks (drift rules), --record (HAR), --rate-limit and progress, as t2i test has them."""
    har = tmp_path / "drift.har"
    result = CliRunner().invoke(main, ["drift", "--base-url", mock_url, "--samples", "4", "--format", "json",
                                       "--operation", "img2img", "--checks", "enum-value-never-seen", "--record",
                                       str(har), "--rate-limit", "50/s", "--fail-on", "info"])
    assert result.exit_code == 1, result.output  # the info findings of the one rule chosen
    findings = json.loads(result.stdout)["findings"]
    assert findings and {f["rule"] for f in findings} == {"enum-value-never-seen"}
    posts = [e for e in json.loads(har.read_text())["log"]["entries"] if e["request"]["method"] == "POST"]
    assert posts and {e["request"]["url"].split("/api/v6/images/")[1].split("/")[0] for e in posts} <= \
        {"img2img", "fetch"}
    assert any(line.startswith("t2i drift: [") and "img2img" in line for line in result.stderr.splitlines())


def test_drift_max_failures_stops_sending(drifting_server: Callable[..., str], tmp_path: Path) -> None:
    url = drifting_server(response_change=lambda path, code, body: (500, body) if path.endswith("/text2img")
                          else (code, body))
    har = tmp_path / "stopped.har"
    result = CliRunner().invoke(main, ["drift", "--base-url", url, "--samples", "10", "--max-failures", "2",
                                       "--record", str(har), "--format", "json"])
    assert result.exit_code == 1, result.output
    assert "stopped after 2 error-level problem(s) (--max-failures 2)" in result.stderr
    assert len(json.loads(har.read_text())["log"]["entries"]) == 2  # each 500 is one verdict: request-failed


def test_drift_refuses_an_unknown_rule_in_checks(mock_url: str) -> None:
    result = CliRunner().invoke(main, ["drift", "--base-url", mock_url, "--checks", "colour"])
    assert result.exit_code == 2 and "checks must be drift rules" in result.output


def test_drift_without_a_model_id_sends_a_model_the_server_lists() -> None:
    """Issue 21, item 3: like ``t2i test``, drift reads GET /models first; given the spec's example instead,
    a mock that knows only ``only-model`` refuses every valid body (valid-request-rejected)."""
    from t2i_contract.mock_server import EXTENSION, MockConfig, create_app
    from tests.support import ServerThread

    app = create_app(MockConfig(models=("only-model",)))
    try:
        with ServerThread(app) as server:
            chosen = [f for f in _drift(server.url, seed=3) if f.rule == "valid-request-rejected"]
            forced = [f for f in _drift(server.url, seed=3, model_id="f222-diffusion")
                      if f.rule == "valid-request-rejected"]
    finally:
        app.extensions[EXTENSION].close()
    assert chosen == []
    assert forced and any("f222-diffusion" in f.message for f in forced), forced
