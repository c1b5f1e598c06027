"""Exploration stages and schedules, driven without MD."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pesgen.explore.errors import StageError
from pesgen.explore.select import LabelCap
from pesgen.explore.stages import (
    Conditions,
    Schedule,
    Stage,
    ramp_schedule,
    temperature_ramp,
)


def cond(t=300.0, **kw):
    return Conditions(("Al-fcc-2x2x2",), (t,), **kw)


def test_conditions_walkers_and_validation():
    c = Conditions(("a", "b"), (100, 300), (1.0, 1000.0), n_steps=500, ensemble="npt",
                   record_every=50)
    assert len(c.walkers()) == 2 * 2 * 2 and c.n_records == 10
    assert Conditions(("a",), (100,), (1.0,)).walkers() == [("a", 100.0, None)]  # nvt
    for bad in ({"systems": (), "temperatures": (1,)},
                {"systems": ("a",), "temperatures": (-5,)},
                {"systems": ("a",), "temperatures": (5,), "ensemble": "npt"},
                {"systems": ("a",), "temperatures": (5,), "ensemble": "nph"},
                {"systems": ("a",), "temperatures": (5,), "n_steps": 10, "record_every": 20}):
        with pytest.raises(StageError):
            Conditions(**bad)
    with pytest.raises(StageError, match="stages\\[2\\].*unknown key.*temp"):
        Conditions.from_dict({"systems": ["a"], "temp": [1]}, where="stages[2]")
    assert Conditions.from_dict({"systems": ["a"], "temperatures": [50]}).temperatures == (50.0,)


def test_temperature_ramp_paper_range():
    t = temperature_ramp(8)
    assert t[0] == pytest.approx(50) and t[-1] == pytest.approx(2000)
    assert np.allclose(np.diff(np.log(t)), np.log(40) / 7)
    lin = temperature_ramp(5, spacing="linear")
    assert np.allclose(np.diff(lin), (2000 - 50) / 4)
    assert temperature_ramp(1) == [50.0]


def test_schedule_advances_on_convergence_and_maps_iterations():
    sched = ramp_schedule(["s"], 3, accurate_threshold=0.95, n_consecutive=2, max_iterations=5)
    temps = []
    it = 0
    # stage 0: ratios 0.5, 0.96, 0.97 -> converged after iteration 2
    # stage 1: 0.99, 0.99 -> converged after iteration 4
    # stage 2: 0.2 x5 -> max iterations, not converged
    ratios = [0.5, 0.96, 0.97, 0.99, 0.99, 0.2, 0.2, 0.2, 0.2, 0.2]
    for r in ratios:
        temps.append(sched.conditions(it).temperatures[0])
        acc = int(1000 * r)
        sched.record(it, accurate=acc, candidate=1000 - acc, failed=0, n_selected=5)
        it += 1
        if sched.finished:
            break
    assert sched.finished and not sched.converged and it == 10
    assert temps[:3] == [pytest.approx(50)] * 3
    assert temps[3:5] == [pytest.approx(50 * 40**0.5)] * 2
    assert temps[5:] == [pytest.approx(2000)] * 5
    assert [sched.stage_of(i) for i in range(10)] == [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
    assert sched.stats[0].accurate_ratio == [0.5, 0.96, 0.97]
    assert "max_iterations" in sched.events[-1]
    with pytest.raises(StageError, match="finished"):
        sched.conditions(10)


def test_schedule_converges_and_resumes_from_state():
    stages = [Stage(cond(100), accurate_threshold=0.9, min_iterations=2),
              Stage(cond(500), accurate_threshold=0.9, label_cap=LabelCap(50, 0.99, 0.9))]
    s = Schedule(stages)
    s.conditions(0)
    s.record(0, 95, 5, 0)  # converged but min_iterations=2
    assert s.current_stage == 0
    s.conditions(1)
    s.record(1, 95, 5, 0)
    assert s.current_stage == 1
    assert s.stage(2).label_cap.cap(0.95) == int(50 * (0.95 - 0.99) / (0.9 - 0.99))
    state = json.loads(json.dumps(s.to_dict()))
    resumed = Schedule(stages)
    resumed.restore(state)
    assert resumed.conditions(2).temperatures == (500.0,)
    resumed.record(2, 99, 1, 0)
    assert resumed.finished and resumed.converged
    with pytest.raises(StageError, match="never planned"):
        Schedule(stages).record(5, 1, 1, 1)
    with pytest.raises(StageError, match="not the next"):
        Schedule(stages).conditions(3)


def test_adaptive_lower_convergence_on_f_lo():
    st = Stage(cond(), f_lo_tolerance=0.01, n_consecutive=2, max_iterations=10)
    s = Schedule([st])
    f_los = [0.30, 0.20, 0.15, 0.145, 0.141]
    for i, f in enumerate(f_los):
        s.conditions(i)
        s.record(i, 90, 10, 0, f_lo=f)
        if s.finished:
            break
    assert s.finished and s.converged and i == 4  # |0.15-0.145|, |0.145-0.141| < 0.01


def test_no_candidates_without_convergence_is_reported():
    s = Schedule([Stage(cond(), accurate_threshold=0.99, max_iterations=3)])
    s.conditions(0)
    s.record(0, accurate=50, candidate=0, failed=50)
    assert "no candidates" in s.events[-1]
    with pytest.raises(StageError, match="no explored frames"):
        s.conditions(1)
        s.record(1, 0, 0, 0)
