"""Options stated once: every command's options are its settings' fields, with help, shown default and variable.

The commands are found the way ``t2i`` finds them, through the ``t2i.commands`` entry
points, so a command added later is held to the same rule.
"""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from t2i_contract.spec.cli import ENTRY_POINT_GROUP, main
from t2i_contract.contract_tests.settings import check_ids
from t2i_contract.spec.options import (
    NOT_OPTIONS,
    FieldOption,
    build,
    envvar_name,
    field_options,
    problems,
    setting,
    settings_command,
    split_commas,
    unknown_variables,
)

COMMANDS = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def _command(name: str) -> click.Command:
    command = main.get_command(click.Context(main), name)
    assert command is not None
    return command


def _options(name: str) -> list[FieldOption]:
    return [o for cls in _command(name).settings_classes for o in field_options(cls)]  # type: ignore[attr-defined]


def test_every_command_is_found() -> None:
    assert {"validate", "mock", "test", "serve", "make-tiny-model", "lint", "diff", "drift", "proxy"} <= set(COMMANDS)


def test_variables_follow_one_rule() -> None:
    assert envvar_name("mock", "max-body") == "T2I_MOCK_MAX_BODY"
    assert envvar_name("make-tiny-model", "--seed") == "T2I_MAKE_TINY_MODEL_SEED"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_field_is_exactly_one_option_with_help(name: str) -> None:
    command = _command(name)
    assert getattr(command, "settings_classes", ()), f"t2i {name} is not made from a settings class"
    assert problems(command) == []
    fields = {f.name for cls in command.settings_classes for f in dataclasses.fields(cls)}  # type: ignore[attr-defined]
    assert {p.name for p in command.params} == fields


def _help_records(output: str) -> dict[str, str]:
    """Each option's entry in --help, by its long flag, whitespace collapsed."""
    records: list[str] = []
    for line in output.split("Options:", 1)[1].splitlines():
        if line.startswith("  -"):
            records.append(line)
        elif records:
            records[-1] += " " + line
    found = {}
    for record in records:
        flags = [w.split("/")[0].rstrip(",") for w in record.split() if w.startswith("--")]
        found[flags[0]] = " ".join(record.split())
    return found


@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_every_flag_variable_and_default(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"], terminal_width=1000)
    assert result.exit_code == 0, result.output
    records = _help_records(result.output)
    for option in _options(name):
        if option.spec.argument:
            continue
        record = records.get(f"--{option.flag}")
        assert record is not None, f"--{option.flag} is not in t2i {name} --help"
        assert " ".join(option.spec.help.split()) in record
        assert f"env var: {envvar_name(name, option.flag)}" in record
        if option.default_text:
            assert f"default: {option.default_text}" in record


def _sample(option: FieldOption, tmp_path: Path, command: str = "") -> tuple[str, Any]:
    """A raw value for the option other than its default, and the value the settings should then hold."""
    special: dict[str, tuple[str, Any]] = {
        "base_url": ("http://127.0.0.1:9", None), "upstream": ("http://127.0.0.1:9", None),
        "public_url": ("https://images.example.com/t2i", None), "queue": ("redis://127.0.0.1:6379/0", None),
        "latency": ("50-200", (50.0, 200.0)), "fail_on": ("WARN", "warn"),
        "key": ("secret", "secret"), "rate_limit": ("30/m", 0.5),
        "output": ("sarif=x.sarif", (("sarif", Path("x.sarif")),)),
        "headers": ("X-Team: a b\nX-Trace: 1", (("X-Team", "a b"), ("X-Trace", "1"))),
    }
    if option.name in special:
        raw, expected = special[option.name]
        return raw, raw if expected is None else expected
    kind = option.type
    if option.spec.parse is split_commas:
        return "k1, k2", ("k1", "k2")
    if option.spec.parse is check_ids:  # --checks, --skip: ids the command checks (drift's are its rules)
        ids = ("type-mismatch", "default-not-applied") if command == "drift" else ("conformance", "auth")
        return ", ".join(ids), frozenset(ids)
    if option.is_bool:
        return ("false" if option.default else "true"), not option.default
    if isinstance(kind, click.Choice):
        raw = next(c for c in reversed(kind.choices) if c != option.default)
        return (raw, option.container([raw])) if option.multiple else (raw, raw)
    if isinstance(kind, click.Path):
        path = tmp_path / option.name
        path.mkdir() if not kind.file_okay else path.write_text("openapi: 3.1.0\n")
        return str(path), path
    if isinstance(kind, (click.types.FloatParamType, click.types.FloatRange)):
        value = 0.5 if getattr(kind, "max", None) == 1 else (option.default or 0.0) + 2.5
        return str(value), value
    if isinstance(kind, (click.types.IntParamType, click.types.IntRange)):
        value = (option.default or 0) + 2
        return str(value), value
    if option.multiple:
        return "a b", option.container(["a", "b"])
    return "some-value", "some-value"


def _capturing(command: click.Command, captured: list[Any]) -> click.Command:
    """The same command with the same parameters, whose body only keeps the settings it was given."""
    twin = copy.copy(command)
    twin.callback = lambda **values: captured.extend(  # type: ignore[assignment]
        build(cls, values, errors=(Exception,)) for cls in command.settings_classes)  # type: ignore[attr-defined]
    return twin


@pytest.mark.parametrize("name", COMMANDS)
def test_every_variable_reaches_the_settings(name: str, tmp_path: Path) -> None:
    command = _command(name)
    (tmp_path / "required").mkdir()
    required = {o.name: _sample(o, tmp_path / "required") for o in _options(name) if o.required}
    for option in _options(name):
        if option.spec.argument:
            continue
        raw, expected = _sample(option, tmp_path, name)
        env = {envvar_name(name, o.flag): r for n, (r, _) in required.items()
               for o in _options(name) if o.name == n and not o.spec.argument}
        args = [r for n, (r, _) in required.items() for o in _options(name) if o.name == n and o.spec.argument]
        env[envvar_name(name, option.flag)] = raw
        captured: list[Any] = []
        result = CliRunner().invoke(_capturing(command, captured), args, env=env)
        assert result.exit_code == 0, (option.name, result.output)
        held = [getattr(s, option.name) for s in captured if hasattr(s, option.name)]
        assert held == [expected], f"{envvar_name(name, option.flag)}={raw!r} did not reach {option.name}"
        assert held[0] != option.default


@pytest.mark.parametrize(("old", "new", "flag", "value"), [
    ("T2I_DRIFT_LORAS", "T2I_DRIFT_LORA", "loras", ("a", "b")),
    ("T2I_DRIFT_SPEC_PATH", "T2I_DRIFT_SPEC", "spec_path", None),
])
def test_renamed_drift_variables_still_work_and_say_so(old: str, new: str, flag: str, value: Any,
                                                        tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("openapi: 3.1.0\n")
    raw = "a b" if value else str(spec)
    captured: list[Any] = []
    result = CliRunner().invoke(
        _capturing(_command("drift"), captured), [], env={"T2I_DRIFT_BASE_URL": "http://127.0.0.1:9", old: raw})
    assert result.exit_code == 0, result.output
    assert getattr(captured[0], flag) == (value or spec)
    assert f"{old} is deprecated, use {new}" in result.stderr


def test_an_empty_key_means_no_key_in_t2i_test() -> None:
    captured: list[Any] = []
    result = CliRunner().invoke(_capturing(_command("test"), captured), ["--base-url", "http://h", "--key", ""])
    assert result.exit_code == 0, result.output
    assert captured[0].key is None


@pytest.mark.parametrize("name", ["lint", "diff", "drift"])
@pytest.mark.parametrize("spelling", ["warning", "warn", "WARN", "Warning"])
def test_fail_on_is_spelled_the_same_on_every_report_command(name: str, spelling: str) -> None:
    fail_on = next(o for o in _options(name) if o.name == "fail_on")
    assert fail_on.spec.metavar == "error|warning|note" and fail_on.default == "error"
    assert fail_on.convert(spelling) == "warn"


# Where one flag has different defaults on two commands, the reason is written here (and in the README).
DIFFERENT_DEFAULTS = {
    "port": "each server listens on its own: mock 4010, proxy 4011, serve 8000",
    "seed": "test draws a new seed each run and prints it, to explore; drift and make-tiny-model are "
            "reproducible, so two runs can be compared",
    "webhook-backoff": "the mock retries sooner, for quick feedback in client tests",
    "private-urls": "the mock allows them (a developer's webhook receiver usually runs on their machine); serve "
                    "denies them (a server beside other services must not be a gateway to them)",
    "models": "mock: the model ids it knows (unset: any id is a model); serve and worker: the folder the models "
              "are loaded from (required)",
    "webhook-timeout": "servers: per attempt, the receiver's answer (the mock waits less); test: how long the "
                       "suite's receiver waits for the delivery",
    "max-store-bytes": "the mock keeps requests only (256 MiB); serve keeps the generated images too (1 GiB)",
    "operation": "validate checks one body against one operation (text2img unless named); test and drift send "
                 "to every operation unless some are named",
    "eta": "mock: how long its processing jobs take unless the request's Prefer names an eta (2 s); test: the eta "
           "the suite names in Prefer where it asks for a processing answer (1 s, so a run stays short)",
    "contract": "servers serve several contracts side by side (the default pack unless named); lint reads one "
                "document (SPEC, else the default pack) and diff one old document (unset: OLD is given)",
}


def test_a_flag_shared_by_commands_has_one_default_unless_the_reason_is_written() -> None:
    defaults: dict[str, dict[str, Any]] = {}
    for name in COMMANDS:
        for option in _options(name):
            defaults.setdefault(option.flag, {})[name] = option.default
    differing = {flag for flag, by in defaults.items() if len({repr(v) for v in by.values()}) > 1}
    assert differing == set(DIFFERENT_DEFAULTS)
    assert {name: defaults["profile"][name] for name in ("test", "drift")} == {"test": "full", "drift": "full"}
    assert len(defaults["timeout"]) == 3 and len(defaults["fail-on"]) == 3


# A flag the mock shares with serve or worker means one thing on both. Where its help is worded apart, the one
# meaning is written here; --workers and --threads, the mock's processes and request threads, are not theirs.
WORDED_APART = {
    "access-log": "every request logged on stdout, one line each (serve says which fields)",
    "keys": "the API keys accepted; unset, any non-empty key",
    "models": "the models the server has: the mock's ids, serve's folder (their defaults differ: DIFFERENT_DEFAULTS)",
}


def test_a_flag_the_servers_share_has_one_meaning() -> None:
    mock = {o.flag: o for o in _options("mock")}
    for name in ("serve", "worker"):
        theirs = {o.flag: o for o in _options(name)}
        assert {"workers", "threads"} & set(theirs) == set(), f"t2i {name}"
        absent = _command(name).absent  # type: ignore[attr-defined]
        assert set(absent) == {"workers", "threads"} and {a.flag for a in absent.values()} <= set(theirs)
        apart = {flag for flag in set(mock) & set(theirs) if mock[flag].spec.help != theirs[flag].spec.help}
        assert apart <= set(WORDED_APART), f"t2i mock and t2i {name} word {sorted(apart - set(WORDED_APART))} apart"
    assert {"generation_threads", "torch_threads"} <= {o.name for o in _options("worker")}


@pytest.mark.parametrize(("variable", "says"), [
    ("T2I_SERVE_ALLOW_PRIVATE_URLS", "T2I_SERVE_ALLOW_PRIVATE_URLS names no option of t2i serve and is ignored; "
                                     "did you mean T2I_SERVE_PRIVATE_URLS?"),
    ("T2I_SERVE_WORKERS", "T2I_SERVE_WORKERS names no option of t2i serve and is ignored (t2i serve has no "
                          "--workers: that is the mock's process count; generation threads are "
                          "T2I_SERVE_GENERATION_THREADS)"),
    ("T2I_SERVE_QQQ", "T2I_SERVE_QQQ names no option of t2i serve and is ignored\n"),
])
def test_a_variable_that_names_no_option_is_one_warning(variable: str, says: str) -> None:
    result = CliRunner().invoke(main, ["serve", "--help"], env={variable: "1", "T2I_SERVE_PORT": "1"})
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"warning: {says}" in result.stderr, result.stderr


@pytest.mark.parametrize("variable", ["T2I_SERVE_PORT", "T2I_DRIFT_LORAS", "T2I_MOCK_PORT", "T2I_TEST_SEED",
                                      *sorted(NOT_OPTIONS)])
def test_a_known_variable_is_no_warning(variable: str) -> None:
    command = variable.split("_")[1].lower()
    result = CliRunner().invoke(main, [command, "--help"], env={variable: "1"})
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr, result.stderr


def test_the_variables_the_project_sets_itself_are_known() -> None:
    from t2i_contract.mock_server.serving import CONFIG_ENV as MOCK_CONFIG
    from t2i_contract.reference_backend.serving import CONFIG_ENV as SERVE_CONFIG
    from tests.leaks import SESSION_MARK

    assert {MOCK_CONFIG, SERVE_CONFIG, SESSION_MARK} == NOT_OPTIONS


def test_a_longer_commands_variables_are_its_own() -> None:
    """Prefixes overlap only by the command's name: T2I_MAKE_TINY_MODEL_SEED belongs to make-tiny-model, not a
    command named make, which still hears of its own unknown variables."""
    make = settings_command("make", _Fine)(lambda settings: None)
    environ = {"T2I_MAKE_TINY_MODEL_SEED": "1", "T2I_MAKE_PORT": "1", "T2I_MAKE_PROT": "1"}
    assert unknown_variables(make, environ, ["make-tiny-model", "mock"]) == [
        "T2I_MAKE_PROT names no option of t2i make and is ignored; did you mean T2I_MAKE_PORT?"]
    assert len(unknown_variables(make, environ)) == 2  # alone, it cannot tell make-tiny-model's from its own


@dataclass(frozen=True, kw_only=True)
class _Fine:
    port: int = setting(1, help="A port.")


# The checker itself, on settings made to break it.

@dataclass(frozen=True, kw_only=True)
class _Broken:
    documented: int = setting(1, help="Fine.")
    undocumented: int = 2
    opaque: Callable[[], float] = setting(lambda: 0.0, help="No option can be made from a callable.")


def test_the_checker_names_a_field_without_help_and_one_without_an_option() -> None:
    command = settings_command("broken", _Broken)(lambda settings: None)
    found = problems(command)
    assert any(p.startswith("_Broken.undocumented: no help") for p in found), found
    assert any(p.startswith("_Broken.opaque: no option") for p in found), found
    assert not any(p.startswith("_Broken.documented") for p in found)


def test_the_checker_names_a_field_with_two_options_or_a_hidden_or_misnamed_variable() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Fine:
        port: int = setting(1, help="A port.")

    twice = settings_command("twice", Fine)(lambda settings: None)
    twice.params.append(click.Option(["--port-again", "port"], help="Again."))
    assert problems(twice) == ["Fine.port: 2 parameters, not one"]
    hidden = settings_command("hidden", Fine)(lambda settings: None)
    hidden.params[0].show_envvar = False  # type: ignore[attr-defined]
    assert problems(hidden) == ["Fine.port: --help does not name its environment variable"]
    renamed = settings_command("renamed", Fine)(lambda settings: None)
    renamed.params[0].envvar = "RENAMED_PORT"
    assert problems(renamed) == ["Fine.port: variable RENAMED_PORT breaks the rule T2I_RENAMED_PORT"]
    assert problems(settings_command("fine", Fine)(lambda settings: None)) == []


def test_a_field_added_without_an_option_becomes_one() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Grown:
        depth: int | None = None
        names: tuple[str, ...] = ()
        where: Path | None = None

    command = settings_command("grown", Grown)(lambda settings: click.echo(repr(settings)))
    result = CliRunner().invoke(command, ["--depth", "3", "--names", "a", "--names", "b"],
                                env={"T2I_GROWN_WHERE": "/x"})
    assert result.exit_code == 0, result.output
    assert "Grown(depth=3, names=('a', 'b'), where=PosixPath('/x'))" in result.output


def test_a_bad_value_is_a_usage_error_naming_the_option() -> None:
    result = CliRunner().invoke(main, ["drift", "--base-url", "ftp://x"])
    assert result.exit_code == 2
    assert "base_url must be an http(s) URL, got 'ftp://x'" in result.output
    result = CliRunner().invoke(main, ["mock", "--latency", "fast"])
    assert result.exit_code == 2 and "'--latency'" in result.output and "'fast'" in result.output


@pytest.mark.parametrize("name", ["test", "drift"])
def test_test_and_drift_hold_the_server_to_the_spec_given(name: str, tmp_path: Path) -> None:
    """Both read --spec before contacting the server; one that is not a contract stops the run with 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("hello: world\n")
    result = CliRunner().invoke(main, [name, "--base-url", "http://127.0.0.1:9", "--spec", str(bad)])
    assert result.exit_code == 2
    assert f"error: {bad} is not an OpenAPI 3.1 document" in result.output
