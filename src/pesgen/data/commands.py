"""``pesgen data ...``: import files into a store, export a store, summarize a store."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="The labeled-data store: import, export, inspect.", no_args_is_help=True)
console = Console()


def _parse_type_map(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise typer.BadParameter("empty type map; give element symbols like Al,Mg")
    return names


@app.command("import")
def import_command(
    paths: list[Path] = typer.Argument(..., help="Files or folders to import."),
    store: Path = typer.Option(..., "--store", "-s", help="The store file (created if missing)."),
    fmt: str = typer.Option("auto", "--format", "-f",
                            help="auto, deepmd, deepmd-npy, deepmd-raw, dpgen (a DP-GEN run directory), extxyz, store, "
                                 "ase:<format> (e.g. ase:vasp-out), dpdata:<format> "
                                 "(e.g. dpdata:vasp/outcar)."),
    type_map: str | None = typer.Option(None, "--type-map",
                                        help="Element of each DeePMD type index, e.g. Al,Mg "
                                             "(only for systems without type_map.raw)."),
    iteration: int = typer.Option(0, help="Provenance: iteration of the imported frames."),
    origin: str = typer.Option("imported", help="Provenance: initial, explored or imported."),
    labeler: str = typer.Option("", help="Provenance: name of the code that labeled them."),
    system: str = typer.Option("", help="Provenance: system id (default: file/folder name)."),
    keep_provenance: bool = typer.Option(True, help="Keep provenance recorded by a pesgen "
                                                    "export instead of the options above."),
    skip_duplicates: bool = typer.Option(True, help="Skip frames whose task id the store "
                                                    "already holds (re-imports add nothing)."),
) -> None:
    """Import labeled frames into a store, all files in one transaction."""
    from pesgen.data.importers import import_into_store
    from pesgen.data.provenance import Provenance
    from pesgen.data.store import Store

    prov = Provenance(iteration=iteration, origin=origin, labeler=labeler, system=system)
    db = Store(store)
    results = import_into_store(db, paths, fmt, _parse_type_map(type_map), prov,
                                keep_provenance, skip_duplicates)
    table = Table(title=f"import into {store}")
    for col in ("source", "frames read", "added", "skipped (already in store)"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for r in results:
        table.add_row(str(r.path), str(r.read), str(r.added), str(r.skipped))
    console.print(table)
    console.print(f"{store}: {len(db)} labeled frames")


@app.command("export")
def export_command(
    store: Path = typer.Argument(..., help="The store file."),
    out: Path = typer.Argument(..., help="Output folder (DeePMD) or file (extxyz)."),
    fmt: str = typer.Option("deepmd-npy", "--format", "-f",
                            help="deepmd-npy, deepmd-raw or extxyz."),
    type_map: str | None = typer.Option(None, "--type-map",
                                        help="Element order of DeePMD type indices, e.g. Al,Mg "
                                             "(default: by atomic number)."),
    iteration: int | None = typer.Option(None, help="Only frames of this iteration."),
    origin: str | None = typer.Option(None, help="Only frames of this origin."),
) -> None:
    """Export the labeled (never the failed) frames of a store."""
    from pesgen.data.exporters import export_frames
    from pesgen.data.store import Store

    frames = Store(store, readonly=True).frames(iteration=iteration, origin=origin)
    if not frames:
        console.print(f"{store}: no labeled frames match; nothing written")
        raise typer.Exit(code=1)
    written = export_frames(frames, out, fmt, _parse_type_map(type_map))
    console.print(f"wrote {len(frames)} frames to {len(written)} "
                  f"{'system' if fmt.startswith('deepmd') else 'file'}(s) under {out}")
    for path in written:
        console.print(f"  {path}", highlight=False)


def _range(lo_hi: tuple[float, float] | None, fmt: str = "{:.4f}") -> str:
    return "-" if lo_hi is None else f"{fmt.format(lo_hi[0])} .. {fmt.format(lo_hi[1])}"


@app.command("info")
def info_command(store: Path = typer.Argument(..., help="The store file, or a run directory (its store).")) -> None:
    """Counts per composition, iteration, origin and labeler; failures by reason; label ranges."""
    from pesgen.data.store import Store, store_file
    from pesgen.data.summary import summarize

    s = summarize(Store(store_file(store), readonly=True))
    console.print(f"[bold]{s.path}[/bold]: {s.labeled} labeled frames, {s.failed} failed "
                  f"(journal: {s.journal_mode})", highlight=False)
    console.print(f"energy per atom: {_range(s.energy_per_atom)} eV/atom;  "
                  f"|force| per atom: {_range(s.force_norm)} eV/Å")
    table = Table(title="per composition")
    for col in ("formula", "atoms", "frames", "with stress", "E/atom (eV)", "max |F| (eV/Å)"):
        table.add_column(col, justify="left" if col == "formula" else "right")
    for c in s.compositions:
        table.add_row(c.formula, str(c.natoms), str(c.count), str(c.with_stress),
                      _range(c.energy_per_atom), f"{c.max_force:.3f}")
    console.print(table)
    for title, counts in (("per iteration", s.iterations), ("per origin", s.origins),
                          ("per labeler", s.labelers)):
        table = Table(title=title)
        table.add_column(title.split()[1])
        table.add_column("frames", justify="right")
        for key in sorted(counts):
            table.add_row(str(key), str(counts[key]))
        console.print(table)
    if s.failed:
        table = Table(title=f"failed labels ({s.failed}, never used for training)")
        table.add_column("reason")
        table.add_column("count", justify="right")
        for reason, n in s.failed_reasons.most_common():
            table.add_row(reason, str(n))
        console.print(table)
