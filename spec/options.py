"""Command-line options generated from settings dataclasses: each option stated once.

A command's settings are a keyword-only dataclass. Each field is one option of the
command, and the field says everything about it:

- the help, with ``setting(default, help="...")`` (a plain field still becomes an
  option, but :func:`problems` reports it until it has help);
- the default, which is the field's own: click holds no copy (a flag only knows it is
  off or on), an option left out leaves the field at its default, and ``--help`` shows it;
- the type, from the annotation (``int``, ``float``, ``str``, ``bool``, ``Path``,
  ``Literal``, ``X | None``, ``tuple[X, ...]`` as a repeatable option; a ``bool`` is a
  flag, ``--x/--no-x`` when it defaults to True), or ``type=`` for a click type with a
  range or choices, or ``parse=`` for a field read from one string (``"50-200"``,
  ``"k1,k2"``);
- the flag, ``--`` and the field name in kebab case, unless ``flag=`` keeps an older one;
- the environment variable, always ``T2I_<COMMAND>_<FLAG>`` (``T2I_MOCK_PORT``); an old
  name that broke the rule can stay readable as a deprecated alias. A ``T2I_<COMMAND>_...``
  variable that names no option of the command (a typo, a renamed option) is one warning
  line on stderr, with the closest option's variable, unless :data:`NOT_OPTIONS` lists it;
- a flag the command does not have but another server has with another meaning can be
  named with ``absent=`` (:class:`Absent`): passing it is a usage error that says what
  the command calls that instead, so it never silently means something else.

:func:`settings_command` builds a click command from one or more settings classes and
calls the function with the filled instances. The pytest plugin reads the same fields
through :func:`argparse_options` and :func:`build`, so the CLI, the plugin and the settings
cannot disagree. This module sits beside the CLI host and imports nothing of ours.
"""
from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import click

__all__ = ["ENV_PREFIX", "NOT_OPTIONS", "Absent", "FieldOption", "FileToWrite", "OptionSpec", "build", "envvar_name",
           "field_options", "problems", "argparse_options", "setting", "settings_command", "split_commas",
           "unknown_variables", "unwritable"]

ENV_PREFIX = "T2I"
_KEY = "t2i.option"
_SIMPLE: dict[Any, click.ParamType] = {int: click.INT, float: click.FLOAT, str: click.STRING,
                                       Path: click.Path(path_type=Path)}
_CONTAINERS = (tuple, frozenset, list)

#: Variables the project itself sets under a command's prefix that are no option of it, so no warning names them:
#: the settings a server hands its granian worker processes (``mock_server/serving.py``,
#: ``reference_backend/serving.py``: CONFIG_ENV) and the test session's mark on every process it starts
#: (``tests/leaks.py``: SESSION_MARK).
NOT_OPTIONS = frozenset({"T2I_MOCK_SERVING_CONFIG", "T2I_SERVE_SERVING_CONFIG", "T2I_TEST_SESSION"})


class Absent(NamedTuple):
    """A flag a command does not have, which another server has with another meaning (``settings_command(absent=)``):
    ``t2i serve has no --workers (that is the mock's process count); generation threads are --generation-threads``."""

    elsewhere: str
    """What the flag means where it exists: ``the mock's process count``."""
    meaning: str
    """What the user may have meant here: ``generation threads``."""
    flag: str
    """This command's flag for that, without dashes: ``generation-threads``."""

    def message(self, command: str, flag: str) -> str:
        return f"t2i {command} has no --{flag} (that is {self.elsewhere}); {self.meaning} are --{self.flag}"


@dataclass(frozen=True, kw_only=True)
class OptionSpec:
    """What a field says about its option, beyond its name, annotation and default."""

    help: str = ""
    flag: str | None = None
    short: str | None = None
    type: click.ParamType | None = None
    parse: Callable[[Any], Any] | None = None
    default_text: str | None = None
    metavar: str | None = None
    deprecated_envvars: tuple[str, ...] = ()
    argument: bool = False
    repeatable: bool = False  # with ``parse``: the flag may be given again; ``parse`` gets every value, in order
    negatable: bool | None = None  # a bool as --x/--no-x; by default only when it defaults to True


def setting(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
            help: str, **spec: Any) -> Any:
    """A dataclass field that is also an option: ``port: int = setting(DEFAULT_PORT, help="...")``."""
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={_KEY: OptionSpec(help=help, **spec)})


class FileToWrite(click.Path):
    """A file the command will write (a report, a HAR): its folder must exist and be writable, so a bad path is a
    usage error before anything runs, not a traceback once the work is done."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        problem = unwritable(Path(path))
        if problem:
            self.fail(problem, param, ctx)
        return path


def unwritable(path: Path) -> str | None:
    """Why ``path`` cannot be written (its folder is missing or read-only), or None."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return f"cannot write {path}: the folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"cannot write {path}: permission denied"
    return None


def split_commas(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"k1, k2,,"`` -> ("k1", "k2"); empty or None gives (); several texts (a repeated flag) add up."""
    texts = [text or ""] if text is None or isinstance(text, str) else list(text)
    return tuple(part.strip() for item in texts for part in item.split(",") if part.strip())


def envvar_name(command: str, flag: str) -> str:
    """The one rule: ``T2I_<COMMAND>_<FLAG>`` (``make-tiny-model``, ``--max-body`` -> ``..._MAX_BODY``)."""
    return "_".join((ENV_PREFIX, command, flag.lstrip("-"))).replace("-", "_").upper()


@dataclass(frozen=True)
class FieldOption:
    """One field resolved into an option: everything click and pytest need."""

    name: str
    flag: str
    spec: OptionSpec
    type: click.ParamType | None
    default: Any
    required: bool
    multiple: bool = False
    is_bool: bool = False
    container: type | None = None

    @property
    def default_text(self) -> str | None:
        if self.spec.default_text is not None:
            return self.spec.default_text
        if self.default is None or self.default is dataclasses.MISSING or self.is_bool:
            return None
        if isinstance(self.default, _CONTAINERS):
            return " ".join(str(item) for item in self.default) or None
        return str(self.default)

    def convert(self, value: Any, prefix: str = "--") -> Any:
        """A value as click gave it (or raw strings, for pytest) to the field's value; None: not given."""
        if value is None or (self.multiple and not value):
            return None
        hint = f"'{prefix}{self.flag}'"
        try:
            if self.type is not None and (isinstance(value, str) or self.multiple):
                value = [self.type.convert(v, None, None) for v in value] if self.multiple \
                    else self.type.convert(value, None, None)
            if self.spec.parse is not None:
                return self.spec.parse(value)
        except click.BadParameter as exc:
            raise click.BadParameter(exc.message, param_hint=hint) from None
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=hint) from None
        return self.container(value) if self.container is not None else value


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> X: an option left out is the field's default, None or not."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _simple_type(annotation: Any) -> click.ParamType | None:
    if typing.get_origin(annotation) is Literal:
        return click.Choice([str(v) for v in typing.get_args(annotation)])
    return _SIMPLE.get(annotation)


def field_options(cls: type) -> list[FieldOption]:
    """The options of a settings class, in field order; a field of a type with no option is left out
    (and reported by :func:`problems`)."""
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        spec: OptionSpec = f.metadata.get(_KEY, OptionSpec())
        annotation = _unwrap(hints[f.name])
        default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        flag = spec.flag or f.name.replace("_", "-")
        origin = typing.get_origin(annotation)
        base = dict(name=f.name, flag=flag, spec=spec, default=default, required=required)
        if spec.parse is not None:
            option = FieldOption(type=spec.type or click.STRING, multiple=spec.repeatable, **base)
        elif annotation is bool:
            option = FieldOption(type=None, is_bool=True, **base)
        elif origin in _CONTAINERS:
            inner = spec.type or _simple_type(typing.get_args(annotation)[0])
            option = FieldOption(type=inner, multiple=True, container=origin, **base)
        else:
            option = FieldOption(type=spec.type or _simple_type(annotation), **base)
        if option.type is not None or option.is_bool:
            found.append(option)
    return found


class _SettingOption(click.Option):
    """A click option whose shown default is the field's, with deprecated variable names."""

    def __init__(self, *args: Any, default_text: str | None = None, deprecated_envvars: Sequence[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_text = default_text
        self.deprecated_envvars = tuple(deprecated_envvars)

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if self.default_text is not None:
            extra["default"] = self.default_text
        return extra

    def resolve_envvar_value(self, ctx: click.Context) -> str | None:
        value = super().resolve_envvar_value(ctx)
        if value is not None:
            return value
        for old in self.deprecated_envvars:
            if os.environ.get(old):
                click.echo(f"warning: {old} is deprecated, use {self.envvar}", err=True)
                return os.environ[old]
        return None


def _click_param(option: FieldOption, command: str) -> click.Parameter:
    spec = option.spec
    if spec.argument:
        # no default for a required parameter: since click 8.3 a default of None counts as given
        return click.Argument([option.name], type=option.type, required=option.required,
                              **({} if option.required else {"default": None}))
    decls = [spec.short] if spec.short else []
    negatable = spec.negatable if spec.negatable is not None else option.default is True
    decls.append(f"--{option.flag}/--no-{option.flag}" if option.is_bool and negatable else f"--{option.flag}")
    return _SettingOption(
        [*decls, option.name], type=option.type, multiple=option.multiple, required=option.required,
        is_flag=option.is_bool or None,
        **({} if option.required else {"default": bool(option.default) if option.is_bool else None}),
        show_default=option.is_bool and negatable,
        default_text=option.default_text, help=spec.help, metavar=spec.metavar, show_envvar=True,
        envvar=envvar_name(command, option.flag), allow_from_autoenv=False,
        deprecated_envvars=spec.deprecated_envvars)


class _SettingsCommand(click.Command):
    """A command made by :func:`settings_command`: before parsing, it warns of the command's variables that name no
    option, and refuses a flag it does not have that means something else on another server."""

    def __init__(self, *args: Any, absent: Mapping[str, Absent], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.absent = dict(absent)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            for line in unknown_variables(self, os.environ, _other_commands(ctx)):
                click.echo(f"warning: {line}", err=True)
            for arg in args:
                if arg == "--":
                    break
                flag = arg[2:].partition("=")[0] if arg.startswith("--") else ""
                if flag in self.absent:
                    raise click.UsageError(self.absent[flag].message(self.name or "", flag), ctx)
        return super().parse_args(ctx, args)


def _other_commands(ctx: click.Context) -> list[str]:
    """The names of the other commands of the group this one runs in (none when it runs alone)."""
    parent = ctx.parent
    if parent is None or not isinstance(parent.command, click.Group):
        return []
    return [name for name in parent.command.list_commands(parent) if name != ctx.info_name]


def unknown_variables(command: click.Command, environ: Mapping[str, str], others: Sequence[str] = ()) -> list[str]:
    """One line for each ``T2I_<COMMAND>_...`` variable in ``environ`` that names no option of ``command``: the
    closest option's variable when one is close, or what a flag in ``absent`` is called here. A variable of
    another command whose name extends this one's (``T2I_MAKE_TINY_MODEL_SEED`` for a command ``make``) is the
    other command's; :data:`NOT_OPTIONS` and deprecated names are known."""
    name = command.name or ""
    prefix = envvar_name(name, "")
    theirs = [envvar_name(other, "") for other in others]
    theirs = [p for p in theirs if p.startswith(prefix) and p != prefix]
    known: dict[str, str] = {}
    for param in command.params:
        if isinstance(param, click.Option) and isinstance(param.envvar, str):
            known[param.envvar] = param.envvar
            for old in getattr(param, "deprecated_envvars", ()):
                known[old] = param.envvar
    absent = getattr(command, "absent", {})
    lines = []
    for variable in sorted(environ):
        if (not variable.startswith(prefix) or variable in known or variable in NOT_OPTIONS
                or any(variable.startswith(p) for p in theirs)):
            continue
        line = f"{variable} names no option of t2i {name} and is ignored"
        flag = variable[len(prefix):].lower().replace("_", "-")
        if flag in absent:
            gone = absent[flag]
            line += f" (t2i {name} has no --{flag}: that is {gone.elsewhere}; {gone.meaning} are " \
                    f"{envvar_name(name, gone.flag)})"
        else:
            # the option part alone: the prefix all of them share would make any two alike
            close = difflib.get_close_matches(variable[len(prefix):], [v[len(prefix):] for v in known.values()],
                                              n=1, cutoff=0.6)
            if close:
                line += f"; did you mean {prefix}{close[0]}?"
        lines.append(line)
    return lines


def build(cls: type, values: Mapping[str, Any], *, prefix: str = "--",
          errors: tuple[type[Exception], ...] = (ValueError,)) -> Any:
    """An instance of ``cls`` from option values by field name; what is None or empty is left to the
    field's default. Raises click's BadParameter naming the option, or UsageError."""
    kwargs = {}
    flags = {}
    for option in field_options(cls):
        flags[option.name] = f"'{prefix}{option.flag}'"
        value = option.convert(values.get(option.name), prefix)
        if value is not None:
            kwargs[option.name] = value
    try:
        return cls(**kwargs)
    except errors as exc:
        named = getattr(exc, "field", None) or getattr(exc, "setting", None)
        if named in flags:
            raise click.BadParameter(str(exc), param_hint=flags[named]) from None
        raise click.UsageError(str(exc)) from None


def settings_command(name: str, *classes: type, errors: tuple[type[Exception], ...] = (ValueError,),
                     absent: Mapping[str, Absent] | None = None,
                     **attrs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """A click command whose options are the fields of ``classes``; the function gets one instance of each.
    ``absent``: flags (without dashes) the command does not have, refused with what it calls that instead."""

    def decorate(function: Callable[..., Any]) -> click.Command:
        params = [_click_param(option, name) for cls in classes for option in field_options(cls)]
        seen = [p.name for p in params]
        clashes = sorted({n for n in seen if seen.count(n) > 1})
        if clashes:
            raise TypeError(f"t2i {name}: settings classes share the fields {clashes}")

        def callback(**values: Any) -> Any:
            return function(*(build(cls, values, errors=errors) for cls in classes))

        command = _SettingsCommand(name, callback=callback, params=params, help=inspect.getdoc(function),
                                   absent=absent or {}, **attrs)
        command.settings_classes = classes  # type: ignore[attr-defined]
        return command

    return decorate


def argparse_options(cls: type, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """``(flag, argparse keywords)`` for each option of ``cls`` as ``--<prefix>-<flag>``; values stay raw
    strings, for :func:`build` with ``prefix="--<prefix>-"``, so they are checked as on the CLI."""
    found = []
    for option in field_options(cls):
        if option.spec.argument:
            continue
        shown = f" (default: {option.default_text})" if option.default_text else ""
        keywords: dict[str, Any] = {"dest": f"{prefix}_{option.name}", "default": None,
                                    "help": option.spec.help + shown}
        if not option.is_bool:
            keywords["metavar"] = option.spec.metavar or option.flag.upper().replace("-", "_")
        if option.is_bool:
            keywords["action"] = "store_true"
        elif option.multiple:
            keywords["action"] = "append"
        if isinstance(option.type, click.Choice):
            keywords["choices"] = list(option.type.choices)
        found.append((f"--{prefix}-{option.flag}", keywords))
    return found


def problems(command: click.Command, classes: Sequence[type] | None = None) -> list[str]:
    """What breaks "one option per field, with help, its default shown and its variable named"."""
    classes = classes if classes is not None else getattr(command, "settings_classes", ())
    found = []
    by_name: dict[str, list[click.Parameter]] = {}
    for param in command.params:
        by_name.setdefault(param.name or "", []).append(param)
    for cls in classes:
        options = {o.name: o for o in field_options(cls)}
        for f in dataclasses.fields(cls):
            where = f"{cls.__name__}.{f.name}"
            option = options.get(f.name)
            params = by_name.get(f.name, [])
            if option is None:
                found.append(f"{where}: no option can be made from its type; give it setting(type=...)")
            elif len(params) != 1:
                found.append(f"{where}: {len(params)} parameters, not one")
            elif not option.spec.help:
                found.append(f"{where}: no help; declare it with setting(help=...)")
            elif isinstance(params[0], click.Option) and not params[0].show_envvar:
                found.append(f"{where}: --help does not name its environment variable")
            elif isinstance(params[0], click.Option) and params[0].envvar != envvar_name(command.name or "",
                                                                                            option.flag):
                found.append(f"{where}: variable {params[0].envvar} breaks the rule "
                             f"{envvar_name(command.name or '', option.flag)}")
    return found
