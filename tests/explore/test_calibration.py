"""Calibrated trust levels on synthetic ensembles and pairs whose error/ε ratio is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pesgen.explore.calibration import Calibration, Pairs, fit_calibration, fit_exponent, max_to_rmse
from pesgen.explore.errors import SelectionError
from pesgen.explore.select import ACCURATE, CANDIDATE, FAILED, CalibratedLevels, TrustLevels, select
from pesgen.model.deviation import force_deviation

Z90 = 1.2815515655446004  # standard normal 0.9 quantile


def ensemble_pairs(ratio: float, n_frames: int = 400, n_atoms: int = 16, members: int = 4, seed: int = 0):
    """A synthetic ensemble: member forces = truth + the mean's error + member noise. Per atom the
    mean's error is ``ratio`` x the atom's ensemble deviation x a random vector of unit rms length,
    so the frame's true max force error over its max deviation ε is ``ratio`` x O(1) noise.
    Returns (ε eV/Å, true max atomic force error eV/Å) per frame."""
    rng = np.random.default_rng(seed)
    eps, err = [], []
    for _ in range(n_frames):
        scale = rng.lognormal(np.log(0.05), 0.8)
        truth = rng.normal(0.0, 1.0, (n_atoms, 3))
        noise = rng.normal(0.0, scale, (members, n_atoms, 3))
        noise -= noise.mean(axis=0)
        dev = force_deviation(torch.from_numpy(noise)).numpy()          # per atom, eV/Å
        offset = ratio * dev[:, None] * rng.normal(0.0, 1.0 / np.sqrt(3), (n_atoms, 3))
        forces = truth + offset + noise                                 # (members, atoms, 3)
        mean = forces.mean(axis=0)
        eps.append(float(force_deviation(torch.from_numpy(forces)).max()))
        err.append(float(np.linalg.norm(mean - truth, axis=1).max()))
    return np.array(eps), np.array(err)


def lognormal_pairs(rng, n: int, k: float, sigma: float, exponent: float = 1.0):
    eps = rng.lognormal(np.log(0.08), 0.7, n)
    return eps, k * eps ** exponent * rng.lognormal(0.0, sigma, n)


def test_ensemble_levels_follow_its_error_to_deviation_ratio():
    eps, err = ensemble_pairs(3.0)
    fit = fit_calibration(Pairs.of("Al", eps, err), target=0.1, quantile=0.9, min_pairs=10, hi_multiple=4.0)
    p = fit.pooled
    assert p is not None and p.n_pairs == 400 and p.exponent == 1.0
    assert 1.5 < p.k_median < 4.5 and p.k > p.k_median                      # O(1) x the ratio 3
    assert abs(p.coverage - 0.9) < 0.01
    f_lo, f_hi = fit.levels()
    assert f_lo == pytest.approx(0.1 / p.k) and f_hi == pytest.approx(4 * f_lo)
    # the same ensemble with twice the error: the prefactor doubles, the levels halve
    eps2, err2 = ensemble_pairs(6.0)
    assert np.allclose(eps2, eps)
    fit2 = fit_calibration(Pairs.of("Al", eps2, err2), target=0.1)
    assert fit2.pooled.k == pytest.approx(2 * p.k, rel=1e-9)
    assert np.allclose(fit2.levels(), np.array(fit.levels()) / 2, rtol=1e-9)


def test_accurate_frames_meet_the_target_with_the_chosen_confidence():
    rng = np.random.default_rng(1)
    eps, err = lognormal_pairs(rng, 3000, k=3.0, sigma=0.4)
    fit = fit_calibration(Pairs.of("Al", eps, err), target=0.15, quantile=0.9)
    assert fit.pooled.k_median == pytest.approx(3.0, rel=0.04)
    assert fit.pooled.k == pytest.approx(3.0 * np.exp(0.4 * Z90), rel=0.04)
    assert fit.pooled.scatter == pytest.approx(0.4, rel=0.05)
    f_lo, _ = fit.levels()
    # fresh frames of the same indicator: among those called accurate, >= 90 % meet the target
    eps_new, err_new = lognormal_pairs(rng, 20000, k=3.0, sigma=0.4)
    accurate = eps_new < f_lo
    assert accurate.sum() > 1000
    assert np.mean(err_new[accurate] < 0.15) >= 0.9
    # frames just below f_lo (the worst accurate ones) meet it close to 90 % of the time
    edge = (eps_new > 0.9 * f_lo) & accurate
    assert 0.85 < np.mean(err_new[edge] < 0.15) < 0.95


def test_ratio_changes_move_the_levels_by_the_same_factor():
    levels = {}
    for k in (2.0, 8.0):
        eps, err = lognormal_pairs(np.random.default_rng(2), 500, k=k, sigma=0.3)
        levels[k] = fit_calibration(Pairs.of("Al", eps, err), target=0.2, hi_multiple=3.0).levels()
    assert levels[2.0][0] / levels[8.0][0] == pytest.approx(4.0, rel=1e-9)
    assert levels[2.0][1] / levels[8.0][1] == pytest.approx(4.0, rel=1e-9)


def test_power_law_exponent_is_measured_and_fits_better_when_true():
    rng = np.random.default_rng(3)
    eps, err = lognormal_pairs(rng, 800, k=2.0, sigma=0.2, exponent=1.5)
    pairs = Pairs.of("Al", eps, err)
    assert fit_exponent(pairs, "power") == pytest.approx(1.5, abs=0.05)
    power = fit_calibration(pairs, target=0.05, model="power")
    prop = fit_calibration(pairs, target=0.05, model="proportional")
    assert power.pooled.scatter < 0.7 * prop.pooled.scatter
    f_lo, f_hi = power.levels()
    assert power.pooled.error_at(f_lo) == pytest.approx(0.05)
    assert f_hi == pytest.approx(f_lo * 4 ** (1 / power.pooled.exponent))
    # an exponent far outside the physical range is clipped
    assert fit_exponent(Pairs.of("Al", eps, eps ** -1.0), "power") == 0.25


def test_per_system_levels_pooled_fallback_and_fixed_levels_until_enough_pairs():
    rng = np.random.default_rng(4)
    parts = []
    for name, k, n in (("soft", 2.0, 40), ("stiff", 8.0, 40), ("rare", 100.0, 3)):
        eps, err = lognormal_pairs(rng, n, k=k, sigma=0.1)
        parts.append(Pairs.of(name, eps, err, "audit" if name == "rare" else "candidates"))
    fit = fit_calibration(Pairs.concat(parts), target=0.1, min_pairs=10)
    assert set(fit.per_system) == {"soft", "stiff"} and fit.sources == {"audit": 3, "candidates": 80}
    assert fit.fit_of("rare")[1] == "pooled" and fit.fit_of("new")[1] == "pooled"
    assert fit.levels("soft")[0] / fit.levels("stiff")[0] == pytest.approx(4.0, rel=0.15)
    fixed = TrustLevels(0.05, 0.15, 0.01, 0.02)
    cl = fit.classifier(fixed)
    assert cl.window("soft").f_lo == pytest.approx(fit.levels("soft")[0])
    assert cl.window("rare") == cl.window("new") == TrustLevels(*fit.levels(), 0.01, 0.02)
    # fewer pairs than min_pairs in all: no fit, the fixed levels everywhere
    few = fit_calibration(parts[2], target=0.1, min_pairs=10)
    assert few.pooled is None and few.per_system == {} and few.fit_of("rare") == (None, "none")
    assert few.classifier(fixed).window("rare") == fixed
    # non-finite or non-positive pairs are left out, a file round trip keeps everything
    dirty = Pairs.concat([Pairs.of("soft", [0.0, np.nan, 0.1], [0.1, 0.1, -1.0]), parts[0]])
    assert fit_calibration(dirty, target=0.1).per_system["soft"] == fit.per_system["soft"]
    assert Calibration.from_json(fit.to_json()) == fit


def test_calibrated_levels_classify_each_system_with_its_own_window():
    cl = CalibratedLevels({"a": TrustLevels(0.05, 0.2), "b": TrustLevels(0.2, 0.8)}, TrustLevels(0.1, 0.3))
    f = np.array([0.01, 0.1, 0.5, 0.01, 0.1, 0.5, 0.01, 0.1, 0.5])
    columns = {"max_devi_f": f, "system": np.array(["a"] * 3 + ["b"] * 3 + ["c"] * 3), "step": np.zeros(9)}
    sel = select(columns, cl, cap=10)
    assert sel.labels.tolist() == [ACCURATE, CANDIDATE, FAILED, ACCURATE, ACCURATE, CANDIDATE,
                                   ACCURATE, CANDIDATE, FAILED]
    assert [sel.per_system[s].f_lo for s in "abc"] == [0.05, 0.2, 0.1]
    assert cl.f_hi_max == 0.8                      # the diverse picker needs features below it


@pytest.mark.parametrize("kwargs", [{"target": 0.0}, {"target": 0.1, "quantile": 1.0}, {"target": 0.1, "min_pairs": 1},
                                    {"target": 0.1, "hi_multiple": 1.0}, {"target": 0.1, "model": "cubic"}])
def test_bad_settings_are_named(kwargs):
    with pytest.raises(SelectionError):
        fit_calibration(Pairs.of("a", [0.1] * 20, [0.2] * 20), **kwargs)


def test_pairs_need_one_system_deviation_and_error_each():
    with pytest.raises(SelectionError, match="2 systems, 3 deviations"):
        Pairs.of(["a", "b"], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3])


def test_max_to_rmse_prefers_the_audit_frames():
    cand = Pairs.of("a", [0.1] * 20, [0.6] * 20, "candidates", [0.1] * 20)      # ratio 6 (worst frames)
    audit = Pairs.of("a", [0.1] * 12, [0.25] * 12, "audit", [0.1] * 12)         # ratio 2.5 (typical)
    assert max_to_rmse(Pairs.concat([cand, audit])) == pytest.approx(2.5)
    assert max_to_rmse(Pairs.concat([cand, audit.take(np.arange(12) < 3)])) == pytest.approx(6.0)
    assert max_to_rmse(Pairs.of("a", [0.1], [0.2])) is None                     # no RMSE measured

