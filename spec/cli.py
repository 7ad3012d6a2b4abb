"""The ``t2i`` command line.

The group lives here, in the bottom layer, and finds its subcommands through the
``t2i.commands`` entry-point group: each package registers its own command
(``mock_server.cli:command``, ...) in ``pyproject.toml``. The host never imports
the packages built on top of it, and a subcommand's heavy imports happen only
when that subcommand runs.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import click

from .body import parse_json_body
from .errors import RequestError, SpecError
from .loader import load_spec
from .options import setting, settings_command
from .request import PARSERS, parse_request

__all__ = ["ValidateSettings", "detect_operation", "main", "validate_command"]

ENTRY_POINT_GROUP = "t2i.commands"
AUTO_OPERATION = "auto"


class PluginGroup(click.Group):
    """A click group whose commands are loaded lazily from entry points."""

    def _entry_points(self) -> dict[str, object]:
        return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._entry_points()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        ep = self._entry_points().get(name)
        if ep is None:
            return None
        try:
            return ep.load()  # type: ignore[attr-defined,no-any-return]
        except Exception as exc:  # a broken plugin must not take `t2i --help` down with it
            return _unavailable(name, exc)


def _unavailable(name: str, exc: Exception) -> click.Command:
    """Stand-in for a subcommand whose module cannot be imported: says why, exits 1."""
    reason = f"{type(exc).__name__}: {exc}"

    def explain() -> None:
        raise click.ClickException(f"`t2i {name}` is unavailable here ({reason})")

    return click.Command(name, callback=explain, help=f"(unavailable: {reason})",
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="t2i-contract", prog_name="t2i")
def main() -> None:
    """Contract toolkit for the Multi LoRA text-to-image API.

    Every option of every subcommand can also be set with an environment
    variable: T2I_<SUBCOMMAND>_<OPTION>, e.g. T2I_MOCK_PORT=4010.

    Exit status of the checks (validate, test, lint, diff, drift): 0 all holds;
    1 what was checked breaks the contract (an invalid body, a failed check, a
    finding at --fail-on); 2 the check could not run (a bad option, a file or
    document that cannot be read, no server answering). The servers (mock, serve,
    proxy, worker) and make-tiny-model: 0 when done or stopped, 1 when they cannot
    start (a port in use, a missing extra, a queue that does not answer), 2 for a
    bad option. Each failure is one line on stderr: error: ...
    """


@dataclass(frozen=True, kw_only=True)
class ValidateSettings:
    """What ``t2i validate`` reads."""

    body: Path = setting(type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), argument=True,
                         help="The JSON request body to validate, or - for stdin.")
    operation: str = setting(AUTO_OPERATION, metavar="NAME",
                             help="The operation the body is for: text2img, img2img, inpaint or model_reload (the "
                                  "last segment of its path, or its operationId, modelReload). auto: inpaint when "
                                  "the body has mask_image, img2img when it has init_image, text2img otherwise.")


def detect_operation(body: object) -> str:
    """The operation a body is most likely for, from the input images it carries (``--operation auto``)."""
    if isinstance(body, dict):
        if "mask_image" in body:
            return "inpaint"
        if "init_image" in body:
            return "img2img"
    return "text2img"


@settings_command("validate", ValidateSettings)
def validate_command(settings: ValidateSettings) -> None:
    """Validate a request body (a JSON file, or - for stdin) for one operation.

    The operation is --operation (model_reload or modelReload alike), or guessed
    from the body (see its help). Prints the normalised request as JSON and exits
    0, or prints the error body the API would answer with and exits 1. A file that
    cannot be read exits 2.
    """
    operation = _operation_id(settings.operation)
    body = settings.body
    raw = sys.stdin.buffer.read() if str(body) == "-" else _read(body)
    try:
        body = parse_json_body(raw)
        operation = detect_operation(body) if operation == AUTO_OPERATION else operation
        request = parse_request(operation, body)
    except RequestError as exc:
        click.echo(json.dumps(exc.to_body(), indent=2))
        sys.exit(1)
    fields = request.to_meta() if hasattr(request, "to_meta") else {"model_id": request.model_id}
    normalised = {"operation": operation} | fields | {"key": request.key, "extra": dict(request.extra)}
    click.echo(json.dumps(normalised, indent=2))


def _operation_id(name: str) -> str:
    """``--operation``'s name as the operationId it means (``model_reload`` -> ``modelReload``); else a usage error."""
    if name == AUTO_OPERATION:
        return name
    names = {n: i for n, i in load_spec().operation_names().items() if i in PARSERS}
    if name not in names:
        raise click.BadParameter(f"{name!r} is not one of {', '.join([AUTO_OPERATION, *names])}",
                                 param_hint="'--operation'")
    return names[name]


def _read(path: Path) -> bytes:
    """The file's bytes; a file that cannot be read exits 2, as ``t2i lint`` does (1 means an invalid body)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        click.echo(f"error: cannot read {path}: {exc.strerror}", err=True)
        sys.exit(2)


def run() -> None:
    """Console entry point. Each command names its own T2I_<COMMAND>_<OPTION> variables
    (``spec.options``). Every expected failure is one line on stderr that says what to do:
    a bad option or value (click's usage errors) exits 2 and points at the command's
    ``--help``; a command's refusal (click's ``ClickException``: a port in use, a missing
    extra, a service that does not answer) exits with its code, 1 unless it says otherwise;
    a spec that cannot be loaded exits 2."""
    try:
        code = main.main(standalone_mode=False, prog_name="t2i")  # --help and --version: click's Exit, as a code
    except click.exceptions.NoArgsIsHelpError as exc:  # a group with no subcommand (`t2i`): its help, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        sys.exit(_one_line(exc.format_message(), exc.exit_code, exc.ctx))
    except click.ClickException as exc:
        sys.exit(_one_line(exc.format_message(), exc.exit_code))
    except click.Abort:  # Ctrl-C before a command took over
        sys.exit(_one_line("interrupted", 1))
    except SpecError as exc:
        sys.exit(_one_line(str(exc), 2))
    if isinstance(code, int) and code:
        sys.exit(code)


def _one_line(message: str, code: int, ctx: click.Context | None = None) -> int:
    """Write ``error: MESSAGE`` as one line on stderr (with the command's --help for a usage error); the exit code."""
    text = " ".join(message.split())
    if ctx is not None:
        text += f" (see '{ctx.command_path} --help')"
    click.echo(f"error: {text}", err=True)
    return code
