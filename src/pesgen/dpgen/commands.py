"""``pesgen import-dpgen PARAM.json [MACHINE.json] -o config.toml`` (registered in :mod:`pesgen.cli`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console(soft_wrap=True)  # paths stay on one line


def _pairs(values: list[str] | None) -> list[tuple[str, str]]:
    out = []
    for value in values or []:
        old, sep, new = value.partition("=")
        if not sep or not old:
            raise typer.BadParameter(f"{value!r}: expected OLD=NEW (a path prefix and its replacement)")
        out.append((old, new))
    return out


def _labeler(value: str | None) -> dict | None:
    if value is None:
        return None
    from pesgen.errors import ConfigError

    text = value.strip()
    if not text.startswith("{"):
        return {"kind": text}
    import tomllib

    try:
        return tomllib.loads(f"label = {text}")["label"]
    except tomllib.TOMLDecodeError as err:
        raise ConfigError("--labeler", [("", f"not a TOML inline table: {err}")]) from None


def import_dpgen_command(
    param: Path = typer.Argument(..., help="DP-GEN's run parameters (param.json)."),
    machine: Path = typer.Argument(None, help="DP-GEN's machine.json (for the executor and the fp command)."),
    out: Path = typer.Option(..., "--out", "-o", help="The pesgen config to write."),
    replace: list[str] = typer.Option(None, "--replace", help="OLD=NEW: rewrite paths starting with OLD "
                                      "(DP-GEN files name paths of the machine they ran on); repeatable."),
    labeler: str = typer.Option(None, "--labeler", help="Use this [label] instead of fp_style's: a kind "
                                "(e.g. emt) or a TOML inline table ('{kind = \"lammps\", ...}')."),
    name: str = typer.Option(None, "--name", help="The run name (default: the param file's folder)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented pesgen config from DP-GEN's param.json (and machine.json); every DP-GEN key
    it cannot map is listed, here and at the end of the config."""
    from pesgen.dpgen.param import convert_param
    from pesgen.errors import ConfigError, PesgenError
    from pesgen.loop.config import load_config

    if out.exists() and not force:
        raise PesgenError(f"{out} exists (use --force to overwrite)")
    converted = convert_param(param, machine, _pairs(replace), _labeler(labeler), name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(converted.text)
    console.print(f"wrote {out}: {converted.systems} exploration systems, {converted.stages} stages "
                  f"(model_devi_jobs)", highlight=False)
    if converted.unmapped:
        console.print(f"{len(converted.unmapped)} DP-GEN keys not mapped (also listed at the end of {out}):",
                      highlight=False)
        for key, reason in converted.unmapped:
            console.print(f"  {key}: {reason}", highlight=False, soft_wrap=True, emoji=False, markup=False)
    try:
        load_config(out)
    except ConfigError as err:
        raise ConfigError(out, [("", f"written, but not valid yet (fix it, or --replace OLD=NEW for moved "
                                     f"paths): {line}") for line in str(err).splitlines()]) from None
    console.print(f"{out} is a valid pesgen config: pesgen run {out}", highlight=False)
