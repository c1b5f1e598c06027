"""Run the property tests on the model and on the reference; collect both side by side.

``run_validation(model_calc, reference_calc, config)`` returns a JSON-ready dict::

    {"model": name, "reference": name, "elements": [...], "properties": [...],
     "rows": [{"group", "element", "quantity", "unit", "model", "reference", "difference"}],
     "curves": {"eos": ..., "gsf": ..., "phonons": ..., "rdf": ..., "surfaces": ..., "alloys": ...},
     "errors": [{"group", "element", "side", "message"}], "timings": {group: s}}

``difference`` is model - reference. A property that fails on one side (a relaxation that
blows up, an element the reference lacks) is recorded in ``errors`` with ``None`` values; the
other properties still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ase.calculators.calculator import Calculator
from threadpoolctl import threadpool_limits

from pesgen.structures.alloys import PROTOTYPES, build_prototype
from pesgen.structures.crystals import ground_lattice
from pesgen.validate.alloys import alloy_properties, read_structure
from pesgen.validate.config import ALL_PROPERTIES, DEFAULT_PROPERTIES, ValidateConfig
from pesgen.validate.defects import point_defects
from pesgen.validate.elastic import elastic_constants
from pesgen.validate.eos import bulk_modulus, eos_curve
from pesgen.validate.equilibrium import equilibrium
from pesgen.validate.liquid import LiquidSettings, liquid_properties
from pesgen.validate.melting import MeltingSettings, melting_point
from pesgen.validate.phonons import dispersion
from pesgen.validate.relax import RelaxSettings
from pesgen.validate.side import Side
from pesgen.validate.stacking import gsf_curve, stacking_faults
from pesgen.validate.surfaces import surface_energies

SIDES = ("model", "reference")
Progress = Callable[[str], None]


class _Collector:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.curves: dict[str, dict] = {}
        self.errors: list[dict[str, str]] = []
        self.timings: dict[str, float] = {}

    def row(self, group: str, element: str, quantity: str, unit: str, values: dict[str, float | None]) -> None:
        m, r = values.get("model"), values.get("reference")
        diff = None if m is None or r is None else float(m) - float(r)
        self.rows.append({"group": group, "element": element, "quantity": quantity, "unit": unit,
                          "model": None if m is None else float(m), "reference": None if r is None else float(r),
                          "difference": diff})

    def curve(self, kind: str, key: str, results: dict[str, Any]) -> None:
        """The curve data of each side that has a result."""
        for side, data in results.items():
            if data is not None:
                self.curves.setdefault(kind, {}).setdefault(key, {})[side] = data


def _both(sides: dict[str, Side], out: _Collector, group: str, element: str, fn: Callable[[Side], Any],
          only: tuple[str, ...] = SIDES) -> dict[str, Any]:
    """Run ``fn`` on each side; failures become error records and ``None``."""
    results: dict[str, Any] = {}
    for name in only:
        try:
            results[name] = fn(sides[name])
        except Exception as err:  # recorded per side so the other tests still run
            results[name] = None
            out.errors.append({"group": group, "element": element, "side": name,
                               "message": f"{type(err).__name__}: {err}"})
    return results


def _pick(results: dict[str, Any], *keys: str) -> dict[str, float | None]:
    out = {}
    for side, value in results.items():
        for key in keys:
            value = None if value is None else value.get(key)
        out[side] = value
    return out


def resolve_properties(config: ValidateConfig, full: bool) -> list[str]:
    if config.properties is not None:
        return list(config.properties)
    return list(ALL_PROPERTIES if full else DEFAULT_PROPERTIES)


def miller_max(config: ValidateConfig, element: str, lattice: str, full: bool) -> int:
    value = config.surfaces.miller_max
    if isinstance(value, dict):
        value = value.get(element)
    if value is None:
        value = (2 if lattice == "hcp" else 3) if full else 1
    return int(value)


def run_validation(model_calc: Calculator, reference_calc: Calculator, config: ValidateConfig | None = None,
                   *, elements: list[str] | None = None, full: bool = False, model_name: str = "model",
                   reference_name: str = "reference", progress: Progress | None = None) -> dict:
    """Compute every selected property with both calculators (see the module docstring)."""
    config = config or ValidateConfig()
    elements = list(config.elements or elements or [])
    if not elements:
        raise ValueError("no elements to test: give them in the config or through the model's type map")
    props = resolve_properties(config, full)
    settings = RelaxSettings(fmax=config.relax.fmax, steps=config.relax.steps)
    sides = {"model": Side("model", model_calc, settings), "reference": Side("reference", reference_calc, settings)}
    out = _Collector()
    say = progress or (lambda _msg: None)

    def timed(group: str, body: Callable[[], None]) -> None:
        say(group)
        start = time.perf_counter()
        body()
        out.timings[group] = out.timings.get(group, 0.0) + time.perf_counter() - start

    with threadpool_limits(1, user_api="blas"):  # 3x3 solves: threads only cost time here
        for element in elements:
            lattice = config.lattice.get(element) or ground_lattice(element)
            if "equilibrium" in props:
                timed("equilibrium", lambda e=element: _equilibrium(sides, out, e, config.structures))
            if "eos" in props:
                timed("eos", lambda e=element, lat=lattice: _eos(sides, out, e, lat, config))
            if "elastic" in props:
                timed("elastic", lambda e=element, lat=lattice: _elastic(sides, out, e, lat, config))
            if "defects" in props:
                timed("defects", lambda e=element, lat=lattice: _defects(sides, out, e, lat, config))
            if "stacking" in props and lattice in ("fcc", "hcp"):
                timed("stacking", lambda e=element, lat=lattice: _stacking(sides, out, e, lat, config))
            if "surfaces" in props:
                mm = miller_max(config, element, lattice, full)
                timed("surfaces", lambda e=element, lat=lattice, m=mm: _surfaces(sides, out, e, lat, m, config))
            if "phonons" in props:
                timed("phonons", lambda e=element, lat=lattice: _phonons(sides, out, e, lat, config))
            if "liquid" in props:
                timed("liquid", lambda e=element: _liquid(sides, out, e, config))
            if "melting" in props:
                timed("melting", lambda e=element, lat=lattice: _melting(sides, out, e, lat, config))
        if "alloys" in props:
            timed("alloys", lambda: _alloys(sides, out, elements, config))
    return {"model": model_name, "reference": reference_name, "elements": elements, "properties": props,
            "config": config.model_dump(mode="json"), "rows": out.rows, "curves": out.curves,
            "errors": out.errors, "timings": out.timings}


def _equilibrium(sides, out: _Collector, element: str, structures: list[str]) -> None:
    res = _both(sides, out, "equilibrium", element, lambda s: equilibrium(s, element, structures))
    for name in structures:
        out.row("equilibrium", element, f"E0 {name}", "eV/atom", _pick(res, name, "energy"))
        out.row("equilibrium", element, f"V0 {name}", "Å^3/atom", _pick(res, name, "volume"))
        if name in ("hcp", "dhcp"):
            out.row("equilibrium", element, f"c/a {name}", "", _pick(res, name, "c_over_a"))
    ref = {side: (None if r is None else r.get("fcc", {}).get("energy")) for side, r in res.items()}
    for name in structures:
        if name != "fcc" and "fcc" in structures:
            vals = {side: (None if r is None or ref[side] is None else r[name]["energy"] - ref[side])
                    for side, r in res.items()}
            out.row("equilibrium", element, f"E({name}) - E(fcc)", "eV/atom", vals)


def _eos(sides, out: _Collector, element: str, lattice: str, config: ValidateConfig) -> None:
    structures = config.eos.structures or config.structures
    for name in structures:
        res = _both(sides, out, "eos", element,
                    lambda s, n=name: eos_curve(s, element, n, config.eos.v_min, config.eos.v_max, config.eos.points))
        out.curve("eos", f"{element} {name}", res)
    res = _both(sides, out, "eos", element, lambda s: bulk_modulus(s, element, lattice))
    out.row("eos", element, f"B0 {lattice} (EOS fit)", "GPa", _pick(res, "B0"))


def _elastic(sides, out: _Collector, element: str, lattice: str, config: ValidateConfig) -> None:
    for name in config.elastic.structures or [lattice]:
        res = _both(sides, out, "elastic", element,
                    lambda s, n=name: elastic_constants(s, element, n, config.elastic.strain))
        keys = next((list(r) for r in res.values() if r is not None), [])
        for key in keys:
            out.row("elastic", element, f"{key} {name}", "GPa", _pick(res, key))


def _defects(sides, out: _Collector, element: str, lattice: str, config: ValidateConfig) -> None:
    n = config.defects.supercell
    res = _both(sides, out, "defects", element, lambda s: point_defects(s, element, lattice, n))
    keys = next((list(r) for r in res.values() if r is not None), [])
    labels = {"vacancy": "E_vf", "octahedral": "E_if (oh)", "tetrahedral": "E_if (th)"}
    for key in keys:
        out.row("defects", element, f"{labels.get(key, key)} {lattice} {n}x{n}x{n}", "eV", _pick(res, key))


def _stacking(sides, out: _Collector, element: str, lattice: str, config: ValidateConfig) -> None:
    c = config.stacking
    res = _both(sides, out, "stacking", element, lambda s: stacking_faults(s, element, lattice, c.layers))
    names = {"isf": "γ_sf (111)", "tsf": "γ_tsf (111)", "twin_boundary": "γ_twin boundary (111)",
             "I1": "γ_I1 (0001)", "I2": "γ_I2 (0001)", "E": "γ_E (0001)"}
    keys = next((list(r) for r in res.values() if r is not None), [])
    for key in keys:
        out.row("stacking", element, names.get(key, key), "J/m^2", _pick(res, key))
    gsf = _both(sides, out, "stacking", element, lambda s: gsf_curve(s, element, lattice, c.layers, c.gsf_points))
    out.curve("gsf", f"{element} {lattice}", gsf)
    out.row("stacking", element, "γ_usf (GSF max)", "J/m^2",
            {side: (None if d is None else max(d["energy"])) for side, d in gsf.items()})


def _surfaces(sides, out: _Collector, element: str, lattice: str, max_index: int, config: ValidateConfig) -> None:
    c = config.surfaces
    res = _both(sides, out, "surfaces", element,
                lambda s: surface_energies(s, element, lattice, max_index, c.min_thickness, c.vacuum, c.relaxed))
    keys = next((list(r) for r in res.values() if r is not None), [])
    for hkl in keys:
        out.row("surfaces", element, f"E_sf ({hkl}) unrelaxed", "J/m^2", _pick(res, hkl, "unrelaxed"))
        if c.relaxed:
            out.row("surfaces", element, f"E_sf ({hkl}) relaxed", "J/m^2", _pick(res, hkl, "relaxed"))
    out.curve("surfaces", element, res)


def _phonons(sides, out: _Collector, element: str, lattice: str, config: ValidateConfig) -> None:
    c = config.phonons
    res = _both(sides, out, "phonons", element, lambda s: dispersion(s, element, lattice, c.supercell, c.path,
                                                                     c.npoints))
    out.curve("phonons", f"{element} {lattice}", res)
    if all(r is not None for r in res.values()):
        import numpy as np

        m, r = (np.array(res[s]["frequencies"]) for s in SIDES)
        out.rows.append({"group": "phonons", "element": element, "quantity": "RMS Δν along the path",
                         "unit": "THz", "model": None, "reference": None,
                         "difference": float(np.sqrt(np.mean((m - r) ** 2)))})
    keys = next((list(r["special"]) for r in res.values() if r is not None), [])
    for point in keys:
        if point.upper() in ("G", "Γ"):
            continue
        out.row("phonons", element, f"ν_max at {point}", "THz",
                {side: (None if d is None else max(d["special"][point])) for side, d in res.items()})


def _liquid(sides, out: _Collector, element: str, config: ValidateConfig) -> None:
    c = config.liquid
    settings = LiquidSettings(**c.model_dump(exclude={"reference"}))
    only = SIDES if c.reference else ("model",)
    res = _both(sides, out, "liquid", element, lambda s: liquid_properties(s, element, settings), only=only)
    t = f"{c.temperature:g} K"
    out.row("liquid", element, f"D at {t}", "1e-9 m^2/s", _pick(res, "diffusion"))
    out.row("liquid", element, f"V liquid at {t}", "Å^3/atom", _pick(res, "volume"))
    out.row("liquid", element, f"g(r) first peak at {t}", "", {
        side: (None if d is None else max(d["rdf"])) for side, d in res.items()})
    out.curve("rdf", f"{element} {t}", res)


def _melting(sides, out: _Collector, element: str, lattice: str, config: ValidateConfig) -> None:
    c = config.melting
    settings = MeltingSettings(**c.model_dump(exclude={"reference"}), lattice=lattice)
    only = SIDES if c.reference else ("model",)
    res = _both(sides, out, "melting", element, lambda s: melting_point(s, element, settings), only=only)
    out.row("melting", element, f"T_m ({lattice}, coexistence)", "K", _pick(res, "melting_point"))
    out.row("melting", element, "T_m bracket half-width", "K", _pick(res, "uncertainty"))
    out.row("melting", element, "ΔH_f at T_m", "kJ/mol", _pick(res, "enthalpy_of_fusion"))
    out.curve("melting", element, res)


def _alloys(sides, out: _Collector, elements: list[str], config: ValidateConfig) -> None:
    c = config.alloys
    structures = []
    pair = c.elements or elements[:2]
    if len(pair) >= 2:
        structures += [(f"{p} {pair[0]}-{pair[1]}", build_prototype(p, pair[0], pair[1])) for p in c.prototypes
                       if p in PROTOTYPES]
    structures += [(path.stem, read_structure(path)) for path in c.files]
    for name, atoms in structures:
        element = atoms.get_chemical_formula()
        res = _both(sides, out, "alloys", element,
                    lambda s, n=name, a=atoms: alloy_properties(s, n, a, c.vacancies, c.min_atoms))
        out.row("alloys", element, f"E_f {name}", "eV/atom", _pick(res, "formation_energy"))
        out.row("alloys", element, f"V {name}", "Å^3/atom", _pick(res, "volume"))
        sites = next((list(r["vacancy"]) for r in res.values() if r is not None), [])
        for site in sites:
            out.row("alloys", element, f"E_vf {name} {site}", "eV", _pick(res, "vacancy", site))
        out.curve("alloys", name, res)
