"""The stages a config builds: its convergence keys reach the stage rules and change decisions."""

from __future__ import annotations

import pytest
from loop_testkit import write_tiny

from pesgen.loop.config import load_config
from pesgen.loop.errors import ConfigError
from pesgen.loop.schedule import build_schedule


def _schedule(tmp_path, selection: str = "", convergence: str = ""):
    text = (write_tiny(tmp_path).read_text().replace("[selection]\n", "[selection]\n" + selection)
            .replace("[convergence]\n", "[convergence]\n" + convergence))
    path = tmp_path / "variant.toml"
    path.write_text(text)
    return build_schedule(load_config(path), ["Al-fcc"], str(path))


def _record(schedule, iterations):
    for it, (candidate, f_lo) in enumerate(iterations):
        schedule.conditions(it)
        schedule.record(it, accurate=100 - candidate, candidate=candidate, failed=0, f_lo=f_lo)
    return schedule


def test_conv_tolerance_reaches_the_adaptive_lower_rule(tmp_path):
    # accurate ratio 0.5 never meets accurate_ratio = 0.999; the adapted f_lo settles (eV/Å)
    history = [(50, 0.30), (50, 0.20), (50, 0.195)]
    plain = _record(_schedule(tmp_path, "adaptive_lower = true\n"), history)
    tolerant = _record(_schedule(tmp_path, "adaptive_lower = true\n", "conv_tolerance = 0.01\n"), history)
    assert plain.stages[0].f_lo_tolerance is None and not plain.finished
    assert tolerant.stages[0].f_lo_tolerance == 0.01
    assert tolerant.finished and tolerant.converged
    assert tolerant.events == ["stage 0 converged at iteration 2: deviation rule (f_lo moved 0.0050 vs "
                               "tolerance 0.01 eV/Å) holds"]  # |0.20 - 0.195| < 0.01
    loose = _record(_schedule(tmp_path, "adaptive_lower = true\n", "conv_tolerance = 0.2\n"), history[:2])
    assert loose.events[0].startswith("stage 0 converged at iteration 1: ")  # |0.30 - 0.20| < 0.2


def test_conv_tolerance_needs_the_adaptive_lower_level(tmp_path):
    with pytest.raises(ConfigError) as info:
        _schedule(tmp_path, convergence="conv_tolerance = 0.01\n")
    assert [k for k, _ in info.value.problems] == ["convergence.conv_tolerance"]
    assert "adaptive_lower" in str(info.value)


def test_min_candidates_reaches_the_stage_rule(tmp_path):
    history = [(30, None), (8, None)]
    assert not _record(_schedule(tmp_path), history).finished
    few = _record(_schedule(tmp_path, convergence="min_candidates = 10\n"), history)
    assert few.events == ["stage 0 converged at iteration 1: deviation rule (8 candidates < 10) holds"]
    assert few.converged
