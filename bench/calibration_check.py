"""Do calibrated trust levels keep their promise on frames the loop never saw?

For the latest model of a run and a labelled held-out set (``bench/heldout_emt.py``...), per
category: the frames, the median ε (max force deviation, eV/Å) and true max atomic force error
(eV/Å), their ratio's median and 0.9 quantile, and for the pooled levels of the run's last
calibrated selection (or ``--f-lo``/``--target``): the share of frames called accurate (ε < f_lo)
and the share of those whose true max force error is below the target. The promise is that the
latter is at least about the calibration quantile.

    python bench/calibration_check.py RUN bench/.cache/heldout-emt-seed0-v2.extxyz
"""

from __future__ import annotations

import argparse

import numpy as np

import pesgen
from pesgen.loop.rundir import RunDir
from pesgen.loop.summaries import SelectSummary
from pesgen.validate.evaluate import read_frames


def frame_errors(model, frames, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(ε, true max atomic force error) per frame, eV/Å."""
    eps, err = [], []
    for start in range(0, len(frames), batch):
        part = frames[start:start + batch]
        res = model.evaluate(part)
        forces = res["forces"].detach().cpu().numpy()
        eps.extend(res["max_devi_f"].detach().cpu().numpy().tolist())
        offset = 0
        for a in part:
            n = len(a)
            err.append(float(np.linalg.norm(forces[offset:offset + n] - a.get_forces(), axis=1).max()))
            offset += n
    return np.array(eps), np.array(err)


def last_levels(run: RunDir) -> tuple[float, float, float] | None:
    """(pooled f_lo eV/Å, target eV/Å, quantile) of the run's last calibrated selection."""
    for it in reversed(run.iterations()):
        se = run.read_summary(SelectSummary, it)
        if se and se.calibration and se.calibration.pooled:
            c = se.calibration
            return c.levels()[0], c.target, c.quantile
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("frames", nargs="+")
    parser.add_argument("--f-lo", type=float, default=None, help="eV/Å (default: the run's last calibrated)")
    parser.add_argument("--target", type=float, default=None, help="eV/Å (default: the run's calibration target)")
    args = parser.parse_args()
    run = RunDir(args.run)
    levels = last_levels(run)
    f_lo = args.f_lo if args.f_lo is not None else (levels[0] if levels else None)
    target = args.target if args.target is not None else (levels[1] if levels else None)
    if f_lo is None or target is None:
        raise SystemExit("no calibrated selection in the run: give --f-lo and --target")
    model = pesgen.load(args.run)
    print(f"model {run.latest_model()}, f_lo {f_lo:.4f} eV/Å, target {target} eV/Å"
          + (f", quantile {levels[2]}" if levels else ""))
    print(f"{'category':<22}{'frames':>7}{'med ε':>8}{'med err':>9}{'err/ε':>7}{'q90':>7}{'acc %':>7}"
          f"{'err<T | acc':>12}")
    all_eps, all_err = [], []
    for name, frames in read_frames(args.frames).items():
        eps, err = frame_errors(model, frames)
        all_eps.append(eps)
        all_err.append(err)
        acc = eps < f_lo
        ok = f"{100 * np.mean(err[acc] < target):.0f} %" if acc.any() else "-"
        pos = eps > 1e-6   # perfect crystals: no force, no deviation, no ratio
        r = err[pos] / eps[pos]
        med, q90 = (f"{np.median(r):>7.1f}", f"{np.quantile(r, 0.9):>7.1f}") if pos.any() else (f"{'-':>7}",) * 2
        print(f"{name:<22}{len(eps):>7}{np.median(eps):>8.3f}{np.median(err):>9.3f}{med}{q90}"
              f"{100 * acc.mean():>7.0f}{ok:>12}")
    eps, err = np.concatenate(all_eps), np.concatenate(all_err)
    acc = eps < f_lo
    print(f"all: {len(eps)} frames, {100 * acc.mean():.0f} % accurate, of those "
          f"{100 * np.mean(err[acc] < target):.1f} % below the target; of the others "
          f"{100 * np.mean(err[~acc] < target):.1f} %")


if __name__ == "__main__":
    main()
