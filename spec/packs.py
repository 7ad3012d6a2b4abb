"""Contract packs: the documents this toolkit ships, and how a contract is found and loaded.

A pack is an OpenAPI 3.1 document plus its ``x-t2i-*`` hints
(``spec/EXTENSIONS.md``). Three ship with the toolkit, by name:

- ``modelslab-v6``, the community-models API (``spec/text2img.yaml``), the default;
- ``openai-images``, OpenAI's image generations, edits and variations;
- ``a1111``, AUTOMATIC1111's web UI API (txt2img, img2img, models, progress).

``spec/packs/README.md`` says where each fact of the two vendor packs came
from. Every command that takes ``--contract NAME|FILE`` resolves it with
:func:`load_contract`: a pack's name, or the path of a user's own document
with hints. :func:`contracts` describes the packs (``t2i contracts`` prints
it), and :func:`contract_setting` is the one ``--contract`` field the
commands share.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import click

from .errors import SpecLoadError
from .loader import SPEC_PATH, Spec, load_spec
from .options import setting, settings_command
from .semantics import OperationMap, operation_maps

__all__ = ["DEFAULT_CONTRACT", "PACKS", "PACKS_DIR", "Contract", "ContractsSettings", "contract_path",
           "contract_setting", "contracts", "contracts_command", "describe", "load_contract"]

PACKS_DIR = Path(__file__).with_name("packs")
DEFAULT_CONTRACT = "modelslab-v6"
WIRE_EXTENSION = "x-t2i-wire"

#: The shipped packs by name, the default first.
PACKS: Mapping[str, Path] = {
    DEFAULT_CONTRACT: SPEC_PATH,
    "openai-images": PACKS_DIR / "openai-images.yaml",
    "a1111": PACKS_DIR / "a1111.yaml",
}


class Contract(NamedTuple):
    """One contract as ``t2i contracts`` shows it: its name, title, file and what each operation maps."""

    name: str
    title: str
    path: Path
    operations: Mapping[str, OperationMap | None]
    """operationId -> its ``x-t2i-operation`` map, ``None`` for an operation without one."""


def contract_path(name_or_path: str | Path | None = None) -> Path:
    """The document behind ``name_or_path``: a shipped pack's name, an existing file, or (``None``) the default."""
    if name_or_path is None:
        return PACKS[DEFAULT_CONTRACT]
    text = str(name_or_path)
    if text in PACKS:
        return PACKS[text]
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise SpecLoadError(f"contract {text!r} is neither a shipped pack ({', '.join(PACKS)}) nor a file")


def load_contract(name_or_path: str | Path | None = None) -> Spec:
    """Load a contract by pack name or file path (``None``: the default pack), hints checked.

    The document must be OpenAPI 3.1 with an ``x-t2i-wire`` hint, and every
    ``x-t2i-operation`` hint must name only roles, kinds, meanings and fields
    that exist; otherwise :class:`SpecLoadError` says which and why.
    """
    path = contract_path(name_or_path)
    spec = load_spec() if path == SPEC_PATH else load_spec(path)
    if not isinstance(spec.document.get(WIRE_EXTENSION), dict):
        raise SpecLoadError(f"{path} has no {WIRE_EXTENSION} hint, so it is not a contract (see spec/EXTENSIONS.md)")
    operation_maps(spec)
    return spec


def describe(name_or_path: str | Path) -> Contract:
    """The :class:`Contract` for one pack name or file."""
    spec = load_contract(name_or_path)
    maps = operation_maps(spec)
    name = str(name_or_path) if str(name_or_path) in PACKS else str(spec.path)
    title = str((spec.document.get("info") or {}).get("title", ""))
    return Contract(name, title, contract_path(name_or_path), {op: maps.get(op) for op, *_ in spec.operations()})


def contracts() -> list[Contract]:
    """Every shipped pack, the default first."""
    return [describe(name) for name in PACKS]


def contract_setting(default: str | None = None, *, role: str = "The contract",
                     default_text: str | None = DEFAULT_CONTRACT) -> Any:
    """The ``--contract NAME|FILE`` field every command that reads a contract shares.

    ``role`` starts the help (``"The document clients were built on"`` for
    ``t2i diff``); the rest of the help, the metavar and the flag are the same
    for every command.
    """
    return setting(default, metavar="NAME|FILE", default_text=default_text,
                   help=f"{role}: a shipped pack ({', '.join(PACKS)}; `t2i contracts` lists them) or the path of "
                        "your own OpenAPI document with x-t2i hints.")


# -- t2i contracts -----------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ContractsSettings:
    """What ``t2i contracts`` shows."""

    contract: str | None = contract_setting()
    json: bool = setting(False, help="Print JSON instead of text.")


def _as_dict(contract: Contract) -> dict[str, Any]:
    operations = {}
    for op_id, mapped in contract.operations.items():
        operations[op_id] = None if mapped is None else {
            "role": mapped.role, "kind": mapped.kind, "body": mapped.body, "maps": dict(mapped.semantics),
            "unmapped": list(mapped.unmapped)}
    return {"name": contract.name, "title": contract.title, "path": str(contract.path), "operations": operations}


def _as_text(contract: Contract) -> list[str]:
    default = " (default)" if contract.name == DEFAULT_CONTRACT else ""
    lines = [f"{contract.name}{default}: {contract.title}", f"  file: {contract.path}"]
    for op_id, mapped in contract.operations.items():
        if mapped is None:
            lines.append(f"  {op_id}: no x-t2i-operation hint")
            continue
        what = " ".join(part for part in (mapped.role, mapped.kind, "(multipart)" if mapped.body == "multipart"
                                          else "") if part)
        lines.append(f"  {op_id}: {what}")
        if mapped.semantics:
            lines.append("    maps: " + ", ".join(f"{k}={v}" for k, v in mapped.semantics.items()))
        if mapped.unmapped:
            lines.append("    unmapped: " + ", ".join(mapped.unmapped))
    return lines


@settings_command("contracts", ContractsSettings, context_settings={"show_default": True})
def contracts_command(settings: ContractsSettings) -> None:
    """List the contract packs and, per operation, which generic image semantics it maps.

    With --contract, shows only that pack or your own document (checking its
    hints). A document that cannot be read or whose hints name what it lacks
    exits 2 with the reason.
    """
    chosen = [describe(settings.contract)] if settings.contract else contracts()
    if settings.json:
        click.echo(json.dumps([_as_dict(c) for c in chosen], indent=2))
        return
    click.echo("\n\n".join("\n".join(_as_text(c)) for c in chosen))
