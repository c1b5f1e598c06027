"""Audit samples and the audited convergence rule, driven without MD or labels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pesgen.explore.audit import SystemErrors, draw_audit, pooled, upper_rmse
from pesgen.explore.errors import StageError
from pesgen.explore.stages import Conditions, Schedule, Stage, StageStatistics

DEVIATIONS = ("max_devi_f", "min_devi_f", "avg_devi_f", "devi_e", "max_devi_v")


def _columns(seed: int = 0, n_walkers: int = 3, n_steps: int = 20) -> dict[str, np.ndarray]:
    """A record of 3 systems x n_walkers walkers x n_steps recorded steps, one stop frame."""
    rng = np.random.default_rng(seed)
    systems, steps, walkers = [], [], []
    for w in range(3 * n_walkers):
        for k in range(n_steps):
            systems.append(f"s{w % 3}")
            steps.append(10 * k)
            walkers.append(w)
    n = len(steps)
    cols = {"system": np.array(systems), "step": np.array(steps), "walker": np.array(walkers),
            "stop_code": np.zeros(n, dtype=np.int64)}
    cols["stop_code"][5] = 3
    for name in DEVIATIONS:
        cols[name] = rng.lognormal(-2.0, 1.0, n)
    return cols


def test_the_audit_sample_does_not_depend_on_the_deviations():
    cols = _columns()
    first = draw_audit(cols, ["s0", "s1", "s2"], np.random.default_rng(7), per_system=4)
    for k in range(5):  # the deviation columns permuted over the rows (and one replaced by its rank)
        perm = np.random.default_rng(100 + k).permutation(len(cols["step"]))
        shuffled = dict(cols) | {name: cols[name][perm] for name in DEVIATIONS}
        shuffled["max_devi_f"] = np.argsort(np.argsort(shuffled["max_devi_f"])).astype(float) * (k + 1)
        assert draw_audit(shuffled, ["s0", "s1", "s2"], np.random.default_rng(7), per_system=4) == first
    # whereas a sample that looked at ε (e.g. the highest) would follow the permutation
    assert {len(v) for v in first.values()} == {4}


def test_the_audit_sample_is_reproducible_by_seed_and_uniform():
    cols = _columns()
    a = draw_audit(cols, ["s0", "s1", "s2"], np.random.default_rng(7))
    assert a == draw_audit(cols, ["s0", "s1", "s2"], np.random.default_rng(7))
    assert a != draw_audit(cols, ["s0", "s1", "s2"], np.random.default_rng(8))
    for name, rows in a.items():
        assert len(rows) == 2 and all(cols["system"][r] == name for r in rows)
        assert all(cols["step"][r] > 0 and cols["stop_code"][r] == 0 for r in rows)   # never step 0 or a stop
    # every eligible frame is equally likely: counts over many draws are flat
    counts = np.zeros(len(cols["step"]))
    rng = np.random.default_rng(1)
    for _ in range(3000):
        for rows in draw_audit(cols, ["s0"], rng, per_system=3).values():
            counts[rows] += 1
    eligible = (cols["system"] == "s0") & (cols["step"] > 0) & (cols["stop_code"] == 0)
    assert counts[~eligible].sum() == 0
    expected = 3000 * 3 / eligible.sum()
    assert np.all(np.abs(counts[eligible] - expected) < 5 * math.sqrt(expected))


def test_audit_size_per_system_or_fraction():
    cols = _columns(n_walkers=1, n_steps=11)       # 10 eligible frames per system (s0 has a stop: 9)
    assert {k: len(v) for k, v in draw_audit(cols, ["s0", "s1"], np.random.default_rng(0), per_system=50).items()} \
        == {"s0": 9, "s1": 10}
    sizes = {k: len(v) for k, v in draw_audit(cols, ["s1", "s2"], np.random.default_rng(0), fraction=0.25).items()}
    assert sizes == {"s1": 3, "s2": 3}             # ceil(0.25 x 10)
    assert draw_audit(cols, ["nobody"], np.random.default_rng(0)) == {"nobody": []}
    with pytest.raises(StageError):
        draw_audit(cols, ["s0"], np.random.default_rng(0), fraction=1.5)


def test_upper_bound_on_a_hand_computed_example():
    # two frames with force RMSE 0.01 and 0.04 eV/Å: mean squares 1e-4 and 16e-4, sum 17e-4;
    # the chi-square with 2 degrees of freedom has CDF 1 - exp(-x/2), so its 10 % quantile is
    # -2 ln 0.9 = 0.210721, and the 90 % upper bound is sqrt(17e-4 / 0.210721) = 0.089819 eV/Å
    e = SystemErrors.of_frames([0.01, 0.04], [0.001, -0.003], [0.05, 0.2])
    assert e.n == 2 and e.max_force_error == 0.2
    assert e.rmse_f == pytest.approx(math.sqrt(8.5e-4))
    assert e.rmse_e == pytest.approx(math.sqrt(5e-6))
    assert upper_rmse(e.sum_sq_f, e.n, 0.9) == pytest.approx(0.089819, rel=1e-4)
    assert upper_rmse(e.sum_sq_f, e.n, 0.9) == pytest.approx(math.sqrt(17e-4 / (-2 * math.log(0.9))))
    # 1 degree of freedom: the 5 % quantile of chi2(1) is 0.0039321
    assert upper_rmse(0.01, 1, 0.95) == pytest.approx(math.sqrt(0.01 / 0.0039321), rel=1e-4)
    assert upper_rmse(1.0, 0, 0.9) == math.inf
    assert upper_rmse(0.01 * 200, 200, 0.9) < 0.11          # many frames: the bound nears the RMSE
    assert pooled({"a": e, "b": e}).n == 4


def _stage(**kw) -> Stage:
    return Stage(Conditions(("a", "b"), (300.0,)), accurate_threshold=0.95, **kw)


def _errors(rmse_f: float, rmse_e: float, n: int = 2) -> SystemErrors:
    return SystemErrors.of_frames([rmse_f] * n, [rmse_e] * n)


def _stats(audit) -> StageStatistics:
    stats = StageStatistics()
    stats.add(0, 100, 0, 0, audit=audit)       # 100 % accurate
    return stats


def test_convergence_refuses_when_the_audit_is_above_target_even_at_100_percent_accurate():
    plain = _stage()
    strict = _stage(target_force_rmse=0.05, target_energy_rmse=0.005)
    above = {"a": _errors(0.01, 0.001, 30), "b": _errors(0.08, 0.001, 30)}     # b: forces 0.08 > 0.05
    assert plain.converged(_stats(above))                                      # today's rule fires
    v = strict.verdict(_stats(above))
    assert not v.converged and v.deviation_holds and not v.audit_holds and v.decided_by == "audit"
    assert "rmse_f worst b 0.08" in v.audit_text
    energy = {"a": _errors(0.01, 0.001, 30), "b": _errors(0.01, 0.009, 30)}    # b: 9 > 5 meV/atom
    assert not strict.converged(_stats(energy))
    assert not strict.converged(_stats(None))                                  # no audit: never
    assert not strict.converged(_stats({"a": _errors(0.01, 0.001, 30), "b": SystemErrors(0, 0.0, 0.0)}))
    assert not strict.converged(_stats({"a": _errors(0.01, 0.001, 30)}))       # a system never audited
    below = {"a": _errors(0.01, 0.001, 30), "b": _errors(0.02, 0.002, 30)}
    good = strict.verdict(_stats(below))
    assert good.converged and good.decided_by == "deviation+audit"


def test_convergence_takes_the_small_sample_into_account():
    strict = _stage(target_force_rmse=0.05)
    # every point estimate 0.04 < 0.05, but 2 frames per system: the 90 % bound of the pooled
    # RMSE over 4 frames is 0.04 sqrt(4 / 1.0636) = 0.0776 > 0.05
    few = {"a": _errors(0.04, 0.0, 2), "b": _errors(0.04, 0.0, 2)}
    v = strict.verdict(_stats(few))
    assert not v.converged and "upper 90% 0.07757" in v.audit_text
    many = {"a": _errors(0.04, 0.0, 40), "b": _errors(0.04, 0.0, 40)}          # 80 frames: 0.0449
    assert strict.converged(_stats(many))
    loose = _stage(target_force_rmse=0.05, target_confidence=0.5)              # 4 frames, median: 0.0434
    assert loose.converged(_stats(few))
    with pytest.raises(StageError):
        _stage(target_confidence=1.0)


def test_schedule_records_the_audit_and_restores_old_states():
    sched = Schedule([_stage(target_force_rmse=0.05), _stage()])
    sched.conditions(0)
    v = sched.record(0, 100, 0, 0, audit={"a": _errors(0.09, 0.0, 30), "b": _errors(0.01, 0.0, 30)})
    assert not v.converged and sched.current_stage == 0
    sched.conditions(1)
    assert sched.record(1, 100, 0, 0, audit={"a": _errors(0.01, 0.0, 30), "b": _errors(0.01, 0.0, 30)}).converged
    assert sched.current_stage == 1 and "audit (60 frames" in sched.events[-1]
    again = Schedule([_stage(target_force_rmse=0.05), _stage()])
    again.restore(sched.to_dict())
    assert again.stats[0].last_audit() == sched.stats[0].last_audit()
    old = sched.to_dict()
    for s in old["stats"]:
        del s["audit"]                                    # a state written before audits existed
    again.restore(old)
    assert again.stats[0].audit == [None, None] and again.stats[0].last_audit() is None
