"""DP-GEN's ``run`` parameters (param.json) as a pesgen run config.

:func:`convert_param` reads a param.json (and optionally a machine.json) and returns the
commented TOML text of a pesgen config plus the keys it could not map. The mapping (docs/dpgen.md
has the table):

* ``type_map``/``mass_map`` -> ``elements``/``masses`` (amu);
* ``init_data_prefix`` + ``init_data_sys`` (DeePMD systems) -> ``initial.files`` (imported as
  the initial data);
* ``sys_configs_prefix`` + ``sys_configs[k]`` (POSCAR globs) -> the structure-file system
  ``sysKKK`` of ``[initial.structures]``, so that ``sys_idx`` k names system ``sysKKK``;
* ``numb_models``, ``default_training_param`` -> ``[train]``; ``training_reuse_*`` -> ``[warm_start]``;
* ``model_devi_jobs`` -> ``[[exploration.stages]]`` in list order (DP-GEN runs job i in iteration
  i: each stage runs exactly one iteration, ``max_iterations`` = the number of jobs);
  ``model_devi_dt`` (ps) -> ``exploration.timestep`` (fs);
* trust levels, ``model_devi_adapt_trust_lo`` and its candidate counts, ``model_devi_skip``,
  ``fp_task_max``/``min``, ``fp_accurate_*threshold`` -> ``[selection]``; ``ratio_failed`` ->
  ``label_policy.max_failed_ratio``;
* ``fp_style`` and its files -> ``[label]`` (:mod:`pesgen.dpgen.fp`); machine.json ->
  ``[executor]`` (:mod:`pesgen.dpgen.machine`).

Paths are made absolute against the param file's folder; ``replace`` rewrites path prefixes
(DP-GEN files name the paths of the machine they ran on).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ase.data import atomic_numbers

from pesgen.dpgen.fp import labeler_table
from pesgen.dpgen.keys import Keys, Unmapped, absolute_path, joined, read_json_file
from pesgen.dpgen.machine import executor_table
from pesgen.dpgen.toml_text import Document

#: DP-GEN ensembles -> pesgen's (npt-i, npt-a and npt-t are DP-GEN's LAMMPS barostat variants)
ENSEMBLES = {"nvt": "nvt", "npt": "npt", "npt-i": "npt", "npt-iso": "npt", "npt-a": "npt", "npt-aniso": "npt",
             "npt-t": "npt", "npt-tri": "npt", "nve": "nve"}

#: keys of a model_devi job that change nothing in pesgen (LAMMPS-file or DP-GEN bookkeeping)
_JOB_SKIPPED = {
    "template": "a LAMMPS input template: pesgen's MD is its own (thermostat/barostat in [exploration])",
    "rev_mat": "LAMMPS template substitution", "sys_rev_mat": "LAMMPS template substitution",
    "model_devi_f_trust_lo": "per-job trust levels: pesgen's are per run ([selection])",
    "model_devi_f_trust_hi": "per-job trust levels: pesgen's are per run ([selection])",
    "model_devi_v_trust_lo": "per-job trust levels: pesgen's are per run ([selection])",
    "model_devi_v_trust_hi": "per-job trust levels: pesgen's are per run ([selection])",
    "dt": "per-job timestep: pesgen's timestep is per run (exploration.timestep)",
    "taut": "per-job thermostat time: set [exploration.thermostat]",
    "taup": "per-job barostat time: set [exploration.barostat]",
    "nbeads": "path-integral MD is not implemented",
}

_IGNORED = {
    "model_devi_clean_traj": "pesgen keeps its deviation records (iter.*/record.sqlite), no trajectory files",
    "model_devi_merge_traj": "pesgen writes no LAMMPS trajectories",
    "shuffle_poscar": "pesgen's walkers start from every structure of a system (walkers_per_system limits them)",
    "model_devi_engine": "pesgen's exploration is its own batched MD (no LAMMPS/GROMACS/CALYPSO engine)",
    "model_devi_nopbc": "periodicity comes from the structures",
    "model_devi_plumed": "PLUMED is not supported", "model_devi_plumed_path": "PLUMED is not supported",
    "init_batch_size": "pesgen has one batch size (train.batch_size), 'auto' by default",
    "sys_batch_size": "pesgen has one batch size (train.batch_size), 'auto' by default",
    "sys_format": "structure files are read by ase.io (format guessed from the name)",
    "use_ele_temp": "electronic temperature is not supported", "use_clusters": "cluster fp is not supported",
    "cluster_cutoff": "cluster fp is not supported",
    "dp_compress": "pesgen trains no compressed models", "one_h5": "pesgen's data store is SQLite",
    "training_init_model": "continue a pesgen run with `pesgen run NEW.toml --from RUN` (docs/dpgen.md)",
    "training_iter0_model_path": "continue a pesgen run with `pesgen run NEW.toml --from RUN` (docs/dpgen.md)",
    "training_reuse_old_ratio": "pesgen trains warm starts on all labeled frames",
    "training_reuse_start_pref_e": "warm starts use the [train] prefactors",
    "training_reuse_start_pref_f": "warm starts use the [train] prefactors",
    "model_devi_activation_func": "the ensemble's members share [train.model] activation",
    "model_devi_numb_candi_v": "pesgen's adaptive lower level is for forces only",
    "model_devi_perc_candi_v": "pesgen's adaptive lower level is for forces only",
    "model_devi_f_avg_relative": "use [selection] levels on the absolute deviation",
    "fp_cluster_vacuum": "cluster fp is not supported",
    "detailed_report_make_fp": "pesgen status and pesgen report give the counts",
    "init_multi_systems": "initial data folders may hold several systems; all are read",
    "sys_configs_prefix_relpath": "paths are made absolute at import",
}


@dataclass
class Converted:
    """An imported config: its TOML text and the DP-GEN keys it did not map (key, reason)."""

    text: str
    unmapped: list[tuple[str, str]]
    systems: int
    stages: int


def convert_param(param: str | Path, machine: str | Path | None = None,
                  replace: Sequence[tuple[str, str]] = (), labeler: dict[str, Any] | None = None,
                  name: str | None = None) -> Converted:
    """The pesgen config of a DP-GEN run param.json (and machine.json).

    Args:
        param: DP-GEN's run parameters (JSON).
        machine: DP-GEN's machine file (old or dpdispatcher form), for the executor and fp command.
        replace: (old prefix, new prefix) pairs applied to every path of the files.
        labeler: a ``[label]`` table to use instead of the one mapped from ``fp_style``.
        name: the run name (default: the param file's folder name).

    Raises:
        ConfigError: a file is unreadable, not JSON, or a key has the wrong type (named).
    """
    param = Path(param)
    unmapped = Unmapped()
    keys = Keys(read_json_file(param), param, unmapped)
    base = param.resolve().parent
    doc = Document(header=[
        f"pesgen run config imported from DP-GEN's {param} by `pesgen import-dpgen`"
        + (f" (machine: {machine})" if machine else "") + ".",
        "Units: eV, Å, eV/Å, fs, K, bar. DP-GEN's _comment keys are left out; the keys that were not",
        "mapped are listed at the end of this file.",
    ])
    elements = _elements(keys, doc, name or base.name)
    _initial(keys, doc, base, replace)
    n_systems = _systems(keys, doc, base, replace)
    _training(keys, doc, elements)
    n_stages = _stages(keys, doc, n_systems)
    _selection(keys, doc)
    fp_command = None
    executor = None
    if machine is not None:
        mkeys = Keys(read_json_file(Path(machine)), Path(machine), unmapped, "machine:")
        executor, fp_command = executor_table(mkeys)
        mkeys.finish()
    label = labeler_table(keys, elements, base, replace, fp_command)
    if labeler is not None:
        label = (labeler, [f"[label] given on the command line instead of fp_style's ({label[0].get('kind')}: "
                           f"{label[0].get('calculator', '')})"])
    _table_from(doc, "label", *label)
    _table_from(doc, "executor", *(executor or ({"kind": "local", "max_workers": 2},
                                                 ["labels run in 2 local processes (no machine.json given)"])))
    keys.finish()
    items = unmapped.items
    tail = doc.table("", "DP-GEN keys not mapped (key: reason):" if items else "Every DP-GEN key was mapped.")
    tail.comments += [f"  {k}: {r}" for k, r in items]
    return Converted(doc.text(), list(items), n_systems, n_stages)


def _table_from(doc: Document, name: str, values: dict[str, Any], comments: list[str]) -> None:
    table = doc.table(name, *comments)
    for key, value in values.items():
        table.set(key, value)


def _elements(keys: Keys, doc: Document, name: str) -> list[str]:
    type_map = keys.strings("type_map", required=True)
    if not type_map:
        raise keys.error("type_map", "is empty")
    for el in type_map:
        if el not in atomic_numbers or el == "X":
            raise keys.error("type_map", f"{el!r} is not a chemical symbol")
    top = doc.top
    top.set("name", name)
    top.set("seed", 0, "pesgen derives every step's seed from this")
    top.set("elements", type_map, "DP-GEN type_map (type index order kept)")
    masses = keys.numbers("mass_map")
    if masses is not None:
        if len(masses) != len(type_map):
            raise keys.error("mass_map", f"has {len(masses)} entries for {len(type_map)} types in type_map")
        top.set("masses", {el: float(m) for el, m in zip(type_map, masses, strict=True)}, "amu, DP-GEN mass_map")
    return type_map


def _initial(keys: Keys, doc: Document, base: Path, replace: Sequence[tuple[str, str]]) -> None:
    prefix = keys.get("init_data_prefix", str)
    systems = keys.strings("init_data_sys", required=True)
    files = [absolute_path(joined(prefix, s), base, replace) for s in systems]
    table = doc.table("initial", "Initial data: DP-GEN's init_data_prefix + init_data_sys (DeePMD systems), imported",
                      "as labeled initial frames; the structure files below are exploration starts only.")
    table.set("files", files)
    table.set("format", "deepmd")
    table.set("label_structures", False, "DP-GEN does not label sys_configs")


def _systems(keys: Keys, doc: Document, base: Path, replace: Sequence[tuple[str, str]]) -> int:
    prefix = keys.get("sys_configs_prefix", str)
    configs = keys.get("sys_configs", list, required=True)
    doc.table("initial.structures",
              "Exploration systems: sys_configs[k] (POSCAR globs) is system 'sysKKK', so that a model_devi",
              "job's sys_idx k is system sysKKK; every matched file is a walker start.")
    entries = []
    for k, patterns in enumerate(configs):
        patterns = [patterns] if isinstance(patterns, str) else patterns
        if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
            raise keys.error(f"sys_configs[{k}]", "expected a list of path patterns")
        entries.append({"system": f"sys{k:03d}",
                        "paths": [absolute_path(joined(prefix, p), base, replace) for p in patterns]})
    if not entries:
        raise keys.error("sys_configs", "is empty")
    for entry in entries:
        table = doc.table("initial.structures.files", array=True)
        for key, value in entry.items():
            table.set(key, value)
    for key, reason in _IGNORED.items():
        keys.skip(key, reason)
    return len(entries)


def _training(keys: Keys, doc: Document, elements: list[str]) -> None:
    train = doc.table("train", "The ensemble: numb_models and default_training_param.")
    train.set("n_members", keys.get("numb_models", int, 4), "DP-GEN numb_models")
    model = doc.table("train.model", "default_training_param.model (descriptor se_e2_a, fitting net).")
    dtp = keys.child("default_training_param")
    if dtp is not None:
        _model(dtp, model, elements)
        _learning(dtp, train)
        dtp.finish("a DeePMD-kit training key pesgen has no use for")
    warm = doc.table("warm_start", "training_reuse_*: later iterations continue from the previous ensemble.")
    reuse_iter = keys.get("training_reuse_iter", int)
    warm.set("enabled", reuse_iter is not None,
             "DP-GEN training_reuse_iter" + (f" = {reuse_iter}: pesgen warm-starts from iteration 1 on"
                                             if reuse_iter is not None else " not set: every iteration from scratch"))
    steps = keys.get("training_reuse_numb_steps", int)
    steps = keys.get("training_reuse_stop_batch", int, steps)
    warm.set("numb_steps", steps)
    warm.set("start_lr", keys.get("training_reuse_start_lr", float))


def _model(dtp: Keys, model, elements: list[str]) -> None:
    m = dtp.child("model")
    if m is None:
        return
    tm = m.strings("type_map")
    if tm is not None and tm != elements:
        raise m.error("type_map", f"{tm} differs from the top-level type_map {elements}")
    d = m.child("descriptor")
    if d is not None:
        kind = d.get("type", str, "se_e2_a")
        if kind not in ("se_a", "se_e2_a"):
            d.unmapped.add(d.where("type"), f"descriptor {kind!r}: pesgen implements se_e2_a only; "
                                            "the se_e2_a below uses the other descriptor keys")
        for key in ("rcut", "rcut_smth"):
            value = d.get(key, float)
            model.set(key, None if value is None else float(value), "Å")
        sel = d.get("sel", (list, int, str))
        if isinstance(sel, int):
            sel = [sel] * len(elements)
        if sel is not None:
            model.set("sel", sel if sel == "auto" or isinstance(sel, list) else "auto")
        model.set("neuron", d.numbers("neuron", integer=True))
        model.set("axis_neuron", d.get("axis_neuron", int))
        model.set("type_one_side", d.get("type_one_side", bool))
        model.set("resnet_dt", d.get("resnet_dt", bool))
        model.set("activation", d.get("activation_function", str))
        model.set("precision", _precision(d))
        d.skip("seed", "pesgen derives the members' seeds from the run seed")
        d.finish("a descriptor key pesgen's se_e2_a does not have")
    f = m.child("fitting_net")
    if f is not None:
        model.set("fitting_neuron", f.numbers("neuron", integer=True))
        model.set("fitting_resnet_dt", f.get("resnet_dt", bool))
        f.skip("seed", "pesgen derives the members' seeds from the run seed")
        f.skip("activation_function", "one activation for descriptor and fitting (train.model.activation)")
        f.skip("precision", "one precision for descriptor and fitting (train.model.precision)")
        f.finish("a fitting-net key pesgen does not have")
    m.finish("a DeePMD-kit model key pesgen does not have")


def _precision(d: Keys) -> str | None:
    p = d.get("precision", str)
    if p is None:
        return None
    if p not in ("float64", "float32", "default"):
        raise d.error("precision", f"{p!r}: pesgen has float64 and float32")
    return "float64" if p == "default" else p


def _learning(dtp: Keys, train) -> None:
    lr = dtp.child("learning_rate")
    if lr is not None:
        kind = lr.get("type", str, "exp")
        if kind != "exp":
            lr.unmapped.add(lr.where("type"), f"{kind!r}: pesgen's learning rate decays exponentially")
        train.set("start_lr", lr.get("start_lr", float))
        train.set("stop_lr", lr.get("stop_lr", float))
        train.set("decay_steps", lr.get("decay_steps", int))
        lr.finish("a learning-rate key pesgen does not have")
    loss = dtp.child("loss")
    if loss is not None:
        for key in ("start_pref_e", "limit_pref_e", "start_pref_f", "limit_pref_f", "start_pref_v", "limit_pref_v"):
            value = loss.get(key, float)
            train.set(key, None if value is None else float(value))
        loss.skip("type", "pesgen's loss is DeePMD-kit's 'ener'")
        loss.finish("a loss key pesgen does not have")
    t = dtp.child("training")
    if t is not None:
        steps = t.get("numb_steps", int)
        train.set("numb_steps", t.get("stop_batch", int, steps), "DeePMD-kit stop_batch / numb_steps")
        train.set("disp_freq", t.get("disp_freq", int))
        data = t.child("training_data")
        if data is not None:
            bs = data.get("batch_size", (int, str, list))
            if isinstance(bs, int) or bs == "auto":
                train.set("batch_size", bs)
            elif bs is not None:
                data.unmapped.add(data.where("batch_size"), "per-system batch sizes: pesgen has one (or 'auto')")
            data.skip("systems", "pesgen trains on every frame of its store")
            data.finish("a training-data key pesgen has no use for")
        t.skip("seed", "pesgen derives the members' seeds from the run seed")
        t.finish("a DeePMD-kit training key pesgen has no use for")


def _stages(keys: Keys, doc: Document, n_systems: int) -> int:
    dt = keys.get("model_devi_dt", float)
    jobs = keys.get("model_devi_jobs", list, required=True)
    if not jobs:
        raise keys.error("model_devi_jobs", "is empty")
    ex = doc.table("exploration", "model_devi_*: batched MD driven by the ensemble mean.")
    if dt is not None:
        ex.set("timestep", float(dt) * 1000.0, f"fs (DP-GEN model_devi_dt = {dt} ps)")
    doc.top.set("max_iterations", len(jobs), "DP-GEN runs job i of model_devi_jobs in iteration i")
    for k, job in enumerate(jobs):
        if not isinstance(job, dict):
            raise keys.error(f"model_devi_jobs[{k}]", "expected a table (JSON object)")
        j = Keys(job, keys.path, keys.unmapped, f"model_devi_jobs[{k}].")
        idx = j.get("_idx", (int, str), k)
        sys_idx = j.numbers("sys_idx", required=True, integer=True)
        bad = [i for i in sys_idx if not 0 <= i < n_systems]
        if bad:
            raise j.error("sys_idx", f"{bad} are not indices of sys_configs (0..{n_systems - 1})")
        temps = j.numbers("temps", required=True)
        ens_name = j.get("ensemble", str, "nvt")
        if ens_name.lower() not in ENSEMBLES:
            raise j.error("ensemble", f"{ens_name!r}: choose one of {sorted(ENSEMBLES)}")
        ensemble = ENSEMBLES[ens_name.lower()]
        press = j.numbers("press")
        stage = doc.table("exploration.stages", array=True)
        stage.set("name", f"job {idx}")
        stage.set("systems", [f"sys{i:03d}" for i in sys_idx], "DP-GEN sys_idx")
        stage.set("temperatures", [float(t) for t in temps], "K")
        if ensemble == "npt":
            if not press:
                raise j.error("press", f"ensemble {ens_name!r} needs pressures (bar)")
            stage.set("pressures", [float(p) for p in press], "bar")
        stage.set("ensemble", ensemble, f"DP-GEN {ens_name}" + (
            " (pesgen's barostat is stochastic cell rescaling)" if ens_name.lower() not in ("nvt", "npt", "nve")
            else ""))
        stage.set("n_steps", j.get("nsteps", int, required=True))
        stage.set("record_every", j.get("trj_freq", int, required=True), "DP-GEN trj_freq")
        stage.set("min_iterations", 1)
        stage.set("max_iterations", 1, "as DP-GEN: one iteration per job; raise it to iterate to convergence")
        if ensemble != "npt" and press:
            j.unmapped.add(j.where("press"), f"ignored with ensemble {ens_name!r} (as in DP-GEN)")
        for key, reason in _JOB_SKIPPED.items():
            j.skip(key, reason)
        j.finish("a model_devi job key pesgen does not have")
    return len(jobs)


def _levels(keys: Keys, key: str) -> float | None:
    """A trust level: a number, or a per-system list / table (the smallest value is used)."""
    value = keys.get(key, (float, list, dict))
    if value is None or isinstance(value, int | float):
        return value
    values = list(value.values()) if isinstance(value, dict) else value
    if not values or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise keys.error(key, "expected a number, or a list/table of numbers per system")
    if len(set(values)) > 1:
        keys.unmapped.add(keys.where(key), f"per-system levels {values}: pesgen's are per run; the smallest "
                                           f"({min(values)}) is used")
    return float(min(values))


def _selection(keys: Keys, doc: Document) -> None:
    sel = doc.table("selection", "Trust levels (eV/Å; virial eV/atom) and the label cap per system and iteration.")
    sel.set("f_lo", _levels(keys, "model_devi_f_trust_lo"), "DP-GEN model_devi_f_trust_lo")
    sel.set("f_hi", _levels(keys, "model_devi_f_trust_hi"), "DP-GEN model_devi_f_trust_hi")
    sel.set("v_lo", _levels(keys, "model_devi_v_trust_lo"), "DP-GEN model_devi_v_trust_lo")
    sel.set("v_hi", _levels(keys, "model_devi_v_trust_hi"), "DP-GEN model_devi_v_trust_hi")
    adapt = keys.get("model_devi_adapt_trust_lo", bool)
    sel.set("adaptive_lower", adapt)
    sel.set("numb_candi_f", keys.get("model_devi_numb_candi_f", int))
    perc = keys.get("model_devi_perc_candi_f", float)
    sel.set("perc_candi_f", None if perc is None else float(perc), "%")
    sel.set("skip_steps", keys.get("model_devi_skip", int), "DP-GEN model_devi_skip: frames at MD steps below it")
    sel.set("max_per_system", keys.get("fp_task_max", int), "DP-GEN fp_task_max")
    sel.set("min_per_system", keys.get("fp_task_min", int), "DP-GEN fp_task_min")
    for key, new in (("fp_accurate_threshold", "accurate_threshold"),
                     ("fp_accurate_soft_threshold", "accurate_soft_threshold")):
        value = keys.get(key, float)
        sel.set(new, None if value is None else float(value), f"DP-GEN {key}")
    sel.set("strategy", "random", "DP-GEN picks candidates at random")
    doc.table("audit", "pesgen's audit labels a few random explored frames per system each iteration to measure the",
              "true error; DP-GEN has none. Set enabled = true to measure it.").set("enabled", False)
    ratio = keys.get("ratio_failed", float)
    if ratio is not None:
        doc.table("label_policy").set("max_failed_ratio", float(ratio), "DP-GEN ratio_failed")
