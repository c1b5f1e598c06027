"""Commented run configs that ``pesgen init EXAMPLE`` writes (copies of ``examples/*/config.toml``)."""

from __future__ import annotations

from importlib import resources

#: example name -> one-line description
TEMPLATES = {
    "al-emt": "pure Al, EMT oracle, fcc/hcp/sc/diamond, 50-2000 K (minutes on 2 cores)",
    "almg-meam": "Al, Mg and Al-Mg alloys, MEAM oracle (LAMMPS), the paper's Fig. 1 scheme, NVT and NPT",
    "al-gpaw": "the quick Al example with real DFT labels (GPAW, PBE)",
}


def template_text(name: str) -> str:
    """The text of a template config."""
    if name not in TEMPLATES:
        raise KeyError(f"unknown template {name!r}; choose one of {list(TEMPLATES)}")
    return resources.files("pesgen.loop").joinpath("configs", f"{name}.toml").read_text()
