"""Selection on synthetic deviation records: classes, counts, caps, strategies, filters."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from pesgen.explore.errors import SelectionError
from pesgen.explore.filters import CellShapeFilter, MinDistanceFilter
from pesgen.explore.pick import DiversePicker, HighestPicker, RandomPicker, farthest_point_order
from pesgen.explore.records import RecordWriter, read_record
from pesgen.explore.select import (
    ACCURATE,
    CANDIDATE,
    FAILED,
    SKIPPED,
    AdaptiveLower,
    LabelCap,
    TrustLevels,
    select,
)


def synthetic(rng, n_per_system=(300, 200, 7), temps=(300.0, 600.0), pressures=(np.nan, 1000.0)):
    f, sysname, t, p, step = [], [], [], [], []
    for s, n in enumerate(n_per_system):
        f.append(rng.lognormal(np.log(0.1), 1.0, n))
        sysname += [f"sys{s}"] * n
        t.append(rng.choice(temps, n))
        p.append(rng.choice(pressures, n))
        step.append(np.arange(n) * 10)
    return {"max_devi_f": np.concatenate(f), "system": np.array(sysname),
            "temperature_target": np.concatenate(t), "pressure_target": np.concatenate(p),
            "step": np.concatenate(step), "max_devi_v": np.concatenate(f) * 0.1}


def test_trust_levels_boundaries_nan_and_virial():
    tl = TrustLevels(0.1, 0.3)
    cols = {"max_devi_f": np.array([0.0, 0.0999, 0.1, 0.2999, 0.3, 5.0, np.nan])}
    np.testing.assert_array_equal(
        tl.classify(cols).labels, [ACCURATE, ACCURATE, CANDIDATE, CANDIDATE, FAILED, FAILED, FAILED]
    )
    tv = TrustLevels(0.1, 0.3, v_lo=0.01, v_hi=0.05)
    cols = {"max_devi_f": np.array([0.05, 0.05, 0.2, 0.2, 0.05]),
            "max_devi_v": np.array([0.0, 0.02, 0.0, 0.06, 0.07])}
    np.testing.assert_array_equal(tv.classify(cols).labels,
                                  [ACCURATE, CANDIDATE, CANDIDATE, FAILED, FAILED])
    with pytest.raises(SelectionError):
        TrustLevels(0.3, 0.1)
    with pytest.raises(SelectionError):
        TrustLevels(0.1, 0.3, v_lo=0.1)


def test_energy_deviation_levels():
    """e levels act on devi_e (eV/atom): a strained crystal with tiny force deviation but a large
    energy deviation becomes a candidate; NaN or above e_hi fails."""
    te = TrustLevels(0.1, 0.3, e_lo=0.002, e_hi=0.05)
    cols = {"max_devi_f": np.array([0.01, 0.01, 0.01, 0.2, 0.01]),
            "devi_e": np.array([0.001, 0.004, 0.06, 0.001, np.nan])}
    np.testing.assert_array_equal(te.classify(cols).labels, [ACCURATE, CANDIDATE, FAILED, CANDIDATE, FAILED])
    with pytest.raises(SelectionError, match="e_lo and e_hi"):
        TrustLevels(0.1, 0.3, e_hi=0.05)
    with pytest.raises(SelectionError, match="e_lo <= e_hi"):
        TrustLevels(0.1, 0.3, e_lo=0.1, e_hi=0.05)
    with pytest.raises(SelectionError, match="devi_e"):
        te.classify({"max_devi_f": np.array([0.01])})


def test_counts_per_system_and_condition_and_caps():
    rng = np.random.default_rng(0)
    cols = synthetic(rng)
    sel = select(cols, TrustLevels(0.08, 0.4), cap=20, picker=RandomPicker(), rng=rng)
    f = cols["max_devi_f"]
    expected = np.where(f < 0.08, ACCURATE, np.where(f < 0.4, CANDIDATE, FAILED))
    np.testing.assert_array_equal(sel.labels, expected)
    for s in ("sys0", "sys1", "sys2"):
        m = cols["system"] == s
        ps = sel.per_system[s]
        assert (ps.counts.accurate, ps.counts.candidate, ps.counts.failed) == (
            np.sum(expected[m] == ACCURATE), np.sum(expected[m] == CANDIDATE),
            np.sum(expected[m] == FAILED))
        assert len(ps.selected) == min(20, ps.counts.candidate)
        assert np.all(cols["system"][ps.selected] == s)
        assert np.all(expected[ps.selected] == CANDIDATE)
        assert len(set(ps.selected.tolist())) == len(ps.selected)
    assert len(sel.per_system["sys2"].selected) < 20  # tiny system: all its candidates
    assert sel.counts.total == len(f)
    # per condition (T, P): NaN pressure is the key None
    assert set(sel.per_condition) == {(300.0, None), (300.0, 1000.0), (600.0, None),
                                      (600.0, 1000.0)}
    for (t, p), c in sel.per_condition.items():
        m = (cols["temperature_target"] == t) & (
            np.isnan(cols["pressure_target"]) if p is None else cols["pressure_target"] == p)
        assert c.total == m.sum() and c.candidate == np.sum(expected[m] == CANDIDATE)
    assert len(sel.selected_rows) == sum(len(v.selected) for v in sel.per_system.values())


def test_label_cap_follows_dpgen_thresholds():
    cap = LabelCap(100, accurate_threshold=0.99, accurate_soft_threshold=0.9)
    assert cap.cap(0.5) == 100 and cap.cap(0.8999) == 100
    assert cap.cap(0.945) == int(100 * (0.945 - 0.99) / (0.9 - 0.99))
    assert 49 <= cap.cap(0.945) <= 50
    assert cap.cap(0.99) == 0 and cap.cap(1.0) == 0
    assert LabelCap(10).cap(0.999) == 10 and LabelCap(10).cap(1.0) == 0
    assert LabelCap(10, min_per_system=5).number(0.0, 4) == 0
    assert LabelCap(10, min_per_system=5).number(0.0, 7) == 7
    with pytest.raises(SelectionError):
        LabelCap(10, accurate_threshold=0.8, accurate_soft_threshold=0.9)
    # inside select: a system that is 95 % accurate gets a reduced cap
    rng = np.random.default_rng(1)
    f = np.concatenate([np.full(950, 0.01), rng.uniform(0.1, 0.3, 50)])
    cols = {"max_devi_f": f, "system": np.array(["s"] * 1000)}
    sel = select(cols, TrustLevels(0.05, 0.5), LabelCap(40, 0.99, 0.9), picker=HighestPicker())
    assert sel.per_system["s"].cap == int(40 * (0.95 - 0.99) / (0.9 - 0.99))
    assert len(sel.selected_rows) == sel.per_system["s"].cap


def test_highest_and_random_strategies():
    rng = np.random.default_rng(2)
    cols = synthetic(rng, n_per_system=(500,))
    tl = TrustLevels(0.05, 1.0)
    sel = select(cols, tl, 10, picker=HighestPicker())
    cand = np.flatnonzero(sel.labels == CANDIDATE)
    top = cand[np.argsort(-cols["max_devi_f"][cand])][:10]
    np.testing.assert_array_equal(np.sort(sel.selected_rows), np.sort(top))
    # random: reproducible with a seed, and each candidate equally likely
    a = select(cols, tl, 10, picker=RandomPicker(), rng=np.random.default_rng(5)).selected_rows
    b = select(cols, tl, 10, picker=RandomPicker(), rng=np.random.default_rng(5)).selected_rows
    np.testing.assert_array_equal(a, b)
    hits = np.zeros(len(cols["max_devi_f"]))
    gen = np.random.default_rng(6)
    for _ in range(400):
        hits[select(cols, tl, 10, picker=RandomPicker(), rng=gen).selected_rows] += 1
    p = 10 / len(cand)
    assert hits[sel.labels != CANDIDATE].sum() == 0
    assert abs(hits[cand].mean() / 400 - p) < 1e-12  # exactly 10 per draw
    # top-deviation frames are not favoured (random ignores the deviation)
    assert abs(hits[top].mean() / 400 - p) < 4 * np.sqrt(p * (1 - p) / (400 * 10))


def test_diverse_picks_one_per_cluster_and_falls_back_without_features():
    rng = np.random.default_rng(3)
    sizes = (200, 20, 2)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    feats = np.concatenate([c + rng.normal(0, 0.3, (n, 2)) for c, n in zip(centres, sizes,
                                                                            strict=True)])
    n = len(feats)
    cols = {"max_devi_f": rng.uniform(0.1, 0.2, n), "system": np.array(["s"] * n)}
    sel = select(cols, TrustLevels(0.05, 0.5), 3, picker=DiversePicker(feats))
    cluster = np.repeat([0, 1, 2], sizes)
    assert sorted(cluster[sel.selected_rows]) == [0, 1, 2]
    assert sel.strategy == "diverse"
    assert sel.selected_rows[0] == np.argmax(cols["max_devi_f"])  # starts at highest deviation
    # random almost never covers the 2-point cluster with 3 picks
    with pytest.warns(UserWarning, match="falling back to 'random'"):
        fb = select(cols, TrustLevels(0.05, 0.5), 3, picker=DiversePicker())
    assert fb.strategy == "random" and "features" in fb.messages[0]
    # features given only for some rows
    with pytest.raises(SelectionError, match="no features for candidate"):
        select(cols, TrustLevels(0.05, 0.5), 3, picker=DiversePicker(feats[:10], np.arange(10)))
    with pytest.raises(SelectionError, match=r"\(n, d\)"):
        select(cols, TrustLevels(0.05, 0.5), 3, picker=DiversePicker(feats[:, 0]))


def test_farthest_point_order_maximises_min_distance():
    pts = np.array([[0.0], [1.0], [2.0], [10.0], [4.0]])
    assert list(farthest_point_order(pts, 0)) == [0, 3, 4, 2, 1]


def test_adaptive_lower_follows_dpgen_rule():
    rng = np.random.default_rng(4)
    f = rng.uniform(0, 1, 300)
    f[:5] = 0.5  # exactly f_hi: not failed (DP-GEN fails only f > f_hi)
    cols = {"max_devi_f": f, "system": np.array(["a"] * 200 + ["b"] * 100)}
    ad = AdaptiveLower(f_hi=0.5, numb_candi_f=10, perc_candi_f=20.0)
    sel = select(cols, ad, 1000, picker=HighestPicker())
    for name, rows in (("a", np.arange(200)), ("b", np.arange(200, 300))):
        fr = f[rows]
        ok = fr <= 0.5
        n_c = max(10, int(0.2 * ok.sum()))
        lab = sel.labels[rows]
        assert np.all(lab[~ok] == FAILED)
        assert np.sum(lab == CANDIDATE) == n_c
        thresh = np.sort(fr[ok])[-n_c]
        assert sel.per_system[name].f_lo == pytest.approx(thresh)
        assert np.all(fr[lab == CANDIDATE] >= thresh) and np.all(fr[lab == ACCURATE] <= thresh)
    # numb dominates when the percentage is small; virial candidates add to force ones
    ad2 = AdaptiveLower(f_hi=0.5, numb_candi_f=3, v_hi=1.0, numb_candi_v=2)
    v = rng.uniform(0, 0.5, 300)
    sel2 = select({"max_devi_f": f, "max_devi_v": v, "system": np.array(["a"] * 300)},
                  ad2, 100, picker=HighestPicker())
    ok = f <= 0.5
    top_f = set(np.flatnonzero(ok)[np.argsort(f[ok], kind="stable")][-3:])
    top_v = set(np.flatnonzero(ok)[np.argsort(v[ok], kind="stable")][-2:])
    assert set(np.flatnonzero(sel2.labels == CANDIDATE)) == top_f | top_v


def test_skip_steps_marks_early_frames_skipped():
    rng = np.random.default_rng(5)
    cols = synthetic(rng, n_per_system=(100,))
    sel = select(cols, TrustLevels(0.05, 0.5), 5, picker=HighestPicker(), skip_steps=200)
    assert np.all(sel.labels[cols["step"] < 200] == SKIPPED)
    assert sel.counts.total == np.sum(cols["step"] >= 200)
    assert np.all(cols["step"][sel.selected_rows] >= 200)


def test_filters_on_frames():
    atoms = bulk("Al", "fcc", a=4.05, cubic=True)
    assert MinDistanceFilter(2.0).check(atoms) is None
    squeezed = atoms.copy()
    squeezed.positions[1] = squeezed.positions[0] + [0.5, 0.5, 0.0]
    assert "0.707" in MinDistanceFilter(1.0).check(squeezed)
    assert MinDistanceFilter(0.5, pairs={"Al-Al": 0.8}).check(squeezed) is not None
    with pytest.raises(SelectionError, match="Al-Xx"):
        MinDistanceFilter(1.0, pairs={"Al-Xx": 1.0})
    tilted = atoms.copy()
    tilted.set_cell([[4.05, 0, 0], [4.05 * 3, 4.05, 0], [0, 0, 4.05]], scale_atoms=False)
    msg = CellShapeFilter(max_tilt_deg=60).check(tilted)
    assert msg is not None and "tilt" in msg  # atan(3) = 71.6 deg
    assert CellShapeFilter(max_tilt_deg=60, reduce=True).check(tilted) is None  # same lattice
    long = atoms.repeat((1, 1, 8))
    assert "ratio" in CellShapeFilter().check(long)
    assert CellShapeFilter(max_length_ratio=None).check(long) is None


def test_select_with_record_skips_filtered_frames(tmp_path):
    rng = np.random.default_rng(6)
    n = 60
    cols = {
        "walker": np.arange(n) % 4, "system": np.array(["Al-fcc"] * n), "step": np.arange(n),
        "time": np.arange(n) * 1.0, "temperature_target": np.full(n, 300.0),
        "temperature": np.full(n, 300.0), "pressure_target": np.full(n, np.nan),
        "pressure": np.zeros(n), "max_devi_f": np.linspace(0.01, 0.3, n),
        "min_devi_f": np.zeros(n), "avg_devi_f": np.zeros(n), "devi_e": np.zeros(n),
        "max_devi_v": np.zeros(n), "min_devi_v": np.zeros(n), "avg_devi_v": np.zeros(n),
    }
    frames = []
    for i in range(n):
        a = bulk("Al", "fcc", a=4.05, cubic=True)
        a.positions += rng.normal(0, 0.02, a.positions.shape)
        if i >= n - 3:  # the three highest deviations are collapsed pairs
            a.positions[1] = a.positions[0] + [0.3, 0.0, 0.0]
        frames.append(a)
    path = tmp_path / "rec.sqlite"
    with RecordWriter(path, keep_above=0.1) as w:
        w.append(cols, frames)
    rec = read_record(path)
    sel = select(rec, TrustLevels(0.1, 0.5), 5, picker=HighestPicker(),
                 filters=[MinDistanceFilter(1.5), CellShapeFilter()])
    assert list(sel.selected_rows) == [n - 4, n - 5, n - 6, n - 7, n - 8]
    assert sorted(sel.per_system["Al-fcc"].rejected) == [n - 3, n - 2, n - 1]
    assert "rejected by filters" in sel.messages[0]
    with pytest.raises(SelectionError, match="need frames"):
        select(rec.columns, TrustLevels(0.1, 0.5), 5, filters=[MinDistanceFilter(1.5)])
