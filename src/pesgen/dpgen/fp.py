"""DP-GEN's first-principles settings (``fp_style`` and its keys) as a pesgen ``[label]`` table.

Each supported style becomes ``kind = "ase"`` with the matching ASE calculator and its keyword
arguments: vasp (``ase.calculators.vasp.Vasp``), pwscf (``ase.calculators.espresso.Espresso``),
cp2k (``ase.calculators.cp2k.CP2K``), gaussian (``ase.calculators.gaussian.Gaussian``) and siesta
(``ase.calculators.siesta.Siesta``). What a style's keys hold that the calculator cannot take is
listed as not mapped. ABACUS has no calculator in ASE: give ``--labeler``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pesgen.dpgen.keys import Keys, absolute_path

#: fp_style -> ASE calculator import path
CALCULATORS = {"vasp": "ase.calculators.vasp.Vasp", "pwscf": "ase.calculators.espresso.Espresso",
               "cp2k": "ase.calculators.cp2k.CP2K", "gaussian": "ase.calculators.gaussian.Gaussian",
               "siesta": "ase.calculators.siesta.Siesta"}

#: VASP's ISMEAR of DP-GEN's fp_params smearing names
_ISMEAR = {"gauss": 0, "mp": 1, "fd": -1}


def parse_incar(text: str) -> dict[str, Any]:
    """INCAR tags as ASE Vasp keyword arguments (lower-case names; numbers, booleans, strings)."""
    out: dict[str, Any] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split("!", 1)[0]
        for part in line.split(";"):
            if "=" not in part:
                continue
            key, value = (s.strip() for s in part.split("=", 1))
            if key:
                out[key.lower()] = _incar_value(value)
    return out


def _incar_value(value: str) -> Any:
    low = value.lower()
    if low in (".true.", "t", "true", ".t."):
        return True
    if low in (".false.", "f", "false", ".f."):
        return False
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def labeler_table(keys: Keys, elements: list[str], base: Path, replace: Sequence[tuple[str, str]],
                  command: str | None) -> tuple[dict[str, Any], list[str]]:
    """The ``[label]`` table of ``fp_style`` and its comment lines; raises a ConfigError naming
    fp_style when it has no mapping (``--labeler`` then gives one)."""
    style = keys.get("fp_style", str, required=True)
    if style not in CALCULATORS:
        raise keys.error("fp_style", f"{style!r} has no ASE calculator mapping (mapped: {', '.join(CALCULATORS)}); "
                                     "give --labeler to choose the labeler")
    pp_path = keys.get("fp_pp_path", str)
    pp_path = None if pp_path is None else absolute_path(pp_path, base, replace)
    pp_files = keys.strings("fp_pp_files")
    kwargs: dict[str, Any] = {}
    comments = [f"DP-GEN fp_style = {style!r}: ASE's {CALCULATORS[style]}."]
    table: dict[str, Any] = {"kind": "ase", "calculator": CALCULATORS[style], "name": f"dpgen-{style}"}
    if style == "vasp":
        _vasp(keys, kwargs, base, replace, pp_path, pp_files, comments)
        if command:
            kwargs["command"] = command
    elif style == "pwscf":
        profile = _pwscf(keys, kwargs, elements, pp_path or str(base), pp_files)
        table["profile"] = {"command": command or "pw.x", **profile}
    elif style == "cp2k":
        path = keys.get("external_input_path", str)
        if path is not None:
            inp = Path(absolute_path(path, base, replace))
            if not inp.is_file():
                raise keys.error("external_input_path", f"{inp}: no such file")
            kwargs["inp"] = inp.read_text()
            comments.append(f"inp: the text of external_input_path ({path})")
        keys.skip("user_fp_params", "a nested CP2K input table: ASE's CP2K takes an input text (inp)")
        keys.skip("fp_pp_files", "CP2K names basis and potential files in its input")
        if command:
            kwargs["command"] = command
    elif style == "gaussian":
        _gaussian(keys, kwargs)
    elif style == "siesta":
        _siesta(keys, kwargs, pp_path)
    if kwargs:
        table["kwargs"] = kwargs
    keys.skip("fp_pp_path", "used for the pseudopotentials above" if style in ("pwscf", "siesta")
              else "ASE finds pseudopotentials itself (see the comment of [label])")
    keys.skip("fp_pp_files", "see the comment of [label]")
    return table, comments


def _vasp(keys: Keys, kwargs: dict[str, Any], base: Path, replace: Sequence[tuple[str, str]],
          pp_path: str | None, pp_files: list[str] | None, comments: list[str]) -> None:
    incar = keys.get("fp_incar", str)
    if incar is not None:
        path = Path(absolute_path(incar, base, replace))
        if not path.is_file():
            raise keys.error("fp_incar", f"{path}: no such file")
        kwargs.update(parse_incar(path.read_text()))
        comments.append(f"kwargs: the tags of fp_incar ({path})")
    params = keys.child("fp_params")
    if params is not None:
        kwargs.update({"prec": "A", "isym": 0, "algo": "fast", "lreal": False, "nelmin": 4, "isif": 2,
                       "ibrion": -1, "nsw": 0, "lwave": False, "lcharg": False, "kgamma": False})
        for key, new in (("ecut", "encut"), ("ediff", "ediff"), ("kspacing", "kspacing"), ("sigma", "sigma"),
                         ("npar", "npar"), ("kpar", "kpar")):
            value = params.get(key, (int, float))
            if value is not None:
                kwargs[new] = value
        smearing = params.get("smearing", str)
        if smearing is not None:
            name, _, order = smearing.partition(":")
            if name not in _ISMEAR:
                raise params.error("smearing", f"{smearing!r}: choose gauss, mp[:N] or fd")
            kwargs["ismear"] = int(order) if name == "mp" and order else _ISMEAR[name]
        metagga = params.get("metagga", str)
        if metagga and metagga.upper() != "NONE":
            kwargs["metagga"] = metagga
        user = params.get("user_vasp_params", dict, {})
        kwargs.update({k.lower(): v for k, v in user.items()})
        params.finish("an fp_params key of VASP that pesgen does not map")
    comments.append("ASE's Vasp reads POTCARs from $VASP_PP_PATH/<setup>/<element>/POTCAR (set VASP_PP_PATH, and")
    comments.append(f"kwargs.setups if needed); DP-GEN's fp_pp_files were {pp_files} in {pp_path}.")


def _pwscf(keys: Keys, kwargs: dict[str, Any], elements: list[str], pp_path: str,
           pp_files: list[str] | None) -> dict[str, Any]:
    if pp_files is not None:
        if len(pp_files) != len(elements):
            raise keys.error("fp_pp_files", f"has {len(pp_files)} files for {len(elements)} types in type_map")
        kwargs["pseudopotentials"] = dict(zip(elements, pp_files, strict=True))
    user = keys.get("user_fp_params", dict)
    input_data: dict[str, Any] = {"control": {"tprnfor": True, "tstress": True}}
    if user is not None:
        for section, values in user.items():
            if isinstance(values, dict):
                input_data.setdefault(section.lower(), {}).update(values)
            elif section.lower() == "kspacing":
                kwargs["kspacing"] = values
            else:
                keys.unmapped.add(f"user_fp_params.{section}", "not a QE namelist")
        input_data["control"].pop("pseudo_dir", None)
        input_data["control"].pop("outdir", None)
    params = keys.child("fp_params")
    if params is not None:
        system = input_data.setdefault("system", {})
        ecut = params.get("ecut", float)
        if ecut is not None:
            system["ecutwfc"] = ecut
        sigma = params.get("sigma", float)
        smearing = params.get("smearing", str)
        if smearing is not None:
            system.update({"occupations": "smearing", "smearing": smearing})
        if sigma is not None:
            system["degauss"] = sigma
        ediff = params.get("ediff", float)
        if ediff is not None:
            input_data.setdefault("electrons", {})["conv_thr"] = ediff
        kspacing = params.get("kspacing", float)
        if kspacing is not None:
            kwargs["kspacing"] = kspacing
        params.finish("an fp_params key of pwscf that pesgen does not map")
    kwargs["input_data"] = input_data
    return {"pseudo_dir": pp_path}


def _gaussian(keys: Keys, kwargs: dict[str, Any]) -> None:
    params = keys.child("fp_params", required=True)
    words = params.get("keywords", (str, list), "")
    words = " ".join(words) if isinstance(words, list) else words
    route = [w for w in words.split() if w.lower() != "force"]
    method = next((w for w in route if "/" in w), None)
    if method is not None:
        kwargs["method"], kwargs["basis"] = method.split("/", 1)
        route.remove(method)
    elif len(route) >= 2:
        kwargs["method"], kwargs["basis"] = route[0], route[1]
        route = route[2:]
    if route:
        params.unmapped.add(params.where("keywords"), f"route words {route} (ASE's Gaussian writes method/basis "
                                                      "and 'force'; add the rest as kwargs)")
    nproc = params.get("nproc", int)
    if nproc is not None:
        kwargs["nprocshared"] = nproc
    mult = params.get("multiplicity", (int, str))
    if isinstance(mult, int):
        kwargs["mult"] = mult
    elif mult is not None:
        params.unmapped.add(params.where("multiplicity"), f"{mult!r}: ASE's Gaussian takes an integer mult")
    charge = params.get("charge", int)
    if charge is not None:
        kwargs["charge"] = charge
    params.finish("an fp_params key of Gaussian that pesgen does not map")


def _siesta(keys: Keys, kwargs: dict[str, Any], pp_path: str | None) -> None:
    params = keys.child("fp_params", required=True)
    ecut = params.get("ecut", float)
    if ecut is not None:
        kwargs["mesh_cutoff"] = f"{ecut} Ry"
    basis = params.get("basisSet", str)
    if basis is not None:
        kwargs["basis_set"] = basis
    xc = params.get("xcFunctional", str)
    if xc is not None:
        kwargs["xc"] = params.get("xcFunctionalType", str, xc)
    ediff = params.get("ediff", float)
    if ediff is not None:
        kwargs.setdefault("fdf_arguments", {})["DM.Tolerance"] = ediff
    if pp_path is not None:
        kwargs["pseudo_path"] = pp_path
    params.finish("an fp_params key of SIESTA that pesgen does not map")
