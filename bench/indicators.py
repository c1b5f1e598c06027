"""Which model deviation sees which true error (issue 12 §4), measured on a run's audit frames.

Every iteration, the audit labels frames drawn at random from what was explored, whatever their
deviation, and measures the iteration's ensemble on them before it trains on them
(``iter.*/audit.json``: per frame its record row, max force error, force RMSE and energy error).
The deviation record of the same iteration (``iter.*/record.sqlite``) holds, for those rows,
every deviation the ensemble gave during exploration. So for each indicator -- max force
deviation ``max_devi_f`` (eV/Å), energy deviation ``devi_e`` and max virial deviation
``max_devi_v`` (eV/atom) -- this prints, over all audit frames of the runs given:

* Spearman's rank correlation with the true |energy error| (meV/atom) and with the true max
  atomic force error (eV/Å);
* the share of the energy error that is an offset per system and iteration: sum over (system,
  iteration) of n x (mean signed error)^2 over the sum of squared errors. Near 1, the error is a
  constant shift of a structure's energy, which no choice of frames within that system can
  reveal; for independent zero-mean errors it would be (groups / frames);
* the recall of "bad" frames at a fixed labelling budget: label the top ``--top`` fraction of
  frames by the indicator; which share of the frames whose true energy error is above
  ``--energy-target`` meV/atom (or whose max force error is above ``--force-target`` eV/Å) does
  it catch? Random selection catches ``--top`` of them on average.

    python bench/indicators.py RUN [RUN ...] [--top 0.2] [--energy-target 5] [--force-target 0.15]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from pesgen.explore.records import read_record

INDICATORS = ("max_devi_f", "devi_e", "max_devi_v")


def audit_pairs(run: Path) -> dict[str, np.ndarray]:
    """Per audit frame of ``run``: the indicators and the true errors (|dE| meV/atom, max |dF| eV/Å)."""
    rows: dict[str, list] = {k: [] for k in (*INDICATORS, "energy_error", "signed_energy_error", "max_force_error",
                                             "iteration", "system")}
    for audit_file in sorted(run.glob("iter.*/audit.json")):
        audit = json.loads(audit_file.read_text())
        frames = [f for f in audit.get("frames", []) if f.get("energy_error") is not None]
        if not frames:
            continue
        record = read_record(audit_file.parent / "record.sqlite", columns=list(INDICATORS))
        for frame in frames:
            r = frame["row"]
            for k in INDICATORS:
                rows[k].append(float(record.columns[k][r]))
            rows["energy_error"].append(abs(float(frame["energy_error"])))
            rows["signed_energy_error"].append(float(frame["energy_error"]))
            rows["system"].append(f"{audit['iteration']}:{frame['system']}")
            rows["max_force_error"].append(float(frame["max_force_error"]))
            rows["iteration"].append(audit["iteration"])
    return {k: np.asarray(v) for k, v in rows.items()}


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation."""
    return float(spearmanr(x, y).statistic)


def recall(indicator: np.ndarray, bad: np.ndarray, top: float) -> float:
    """Share of the ``bad`` frames among the ``top`` fraction of frames by ``indicator``."""
    if not bad.any():
        return float("nan")
    n = max(1, round(top * len(indicator)))
    chosen = np.argsort(-indicator, kind="stable")[:n]
    return float(bad[chosen].sum() / bad.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--top", type=float, default=0.2, help="labelled fraction for the recall (0-1)")
    parser.add_argument("--energy-target", type=float, default=5.0, help="meV/atom")
    parser.add_argument("--force-target", type=float, default=0.15, help="eV/Å, on the max atomic force error")
    args = parser.parse_args()
    parts = [audit_pairs(run) for run in args.runs]
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(data["energy_error"])
    bad_e = data["energy_error"] > args.energy_target
    bad_f = data["max_force_error"] > args.force_target
    print(f"{n} audit frames from {len(args.runs)} run(s); {bad_e.sum()} with |dE| > {args.energy_target} meV/atom, "
          f"{bad_f.sum()} with max |dF| > {args.force_target} eV/Å; recall at the top {100 * args.top:.0f} % "
          f"(random: {100 * args.top:.0f} %)")
    groups: dict[str, list[float]] = {}
    for key, err in zip(data["system"], data["signed_energy_error"], strict=True):
        groups.setdefault(str(key), []).append(float(err))
    offset = sum(len(g) * np.mean(g) ** 2 for g in groups.values()) / float(np.sum(data["signed_energy_error"] ** 2))
    print(f"energy error: RMS {np.sqrt(np.mean(data['signed_energy_error'] ** 2)):.1f} meV/atom; offset share per "
          f"(system, iteration) {100 * offset:.0f} % ({len(groups)} groups)")
    print(f"{'indicator':12s} {'rho(|dE|)':>10s} {'rho(max dF)':>12s} {'recall |dE|':>12s} {'recall dF':>10s}")
    for k in INDICATORS:
        x = data[k]
        print(f"{k:12s} {spearman(x, data['energy_error']):10.2f} {spearman(x, data['max_force_error']):12.2f} "
              f"{100 * recall(x, bad_e, args.top):11.0f}% {100 * recall(x, bad_f, args.top):9.0f}%")
    # the combination: a frame ranks by the larger of its two normalised ranks
    rank = {k: np.argsort(np.argsort(data[k])) / max(1, n - 1) for k in INDICATORS}
    for a, b in (("max_devi_f", "devi_e"), ("max_devi_f", "max_devi_v")):
        x = np.maximum(rank[a], rank[b])
        print(f"{a[:5] + '|' + b:12s} {spearman(x, data['energy_error']):10.2f} "
              f"{spearman(x, data['max_force_error']):12.2f} {100 * recall(x, bad_e, args.top):11.0f}% "
              f"{100 * recall(x, bad_f, args.top):9.0f}%")


if __name__ == "__main__":
    main()
