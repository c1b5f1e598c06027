"""Physics of the MD integrators on Lennard-Jones argon (32-atom cells).

NVE conserves energy; NHC and Bussi conserve their extended energies; Langevin and Bussi give the
canonical kinetic-energy distribution (mean dof·kT/2, variance dof·(kT)²/2) at two temperatures;
stochastic cell rescaling gives the target mean pressure (isotropic and flexible cells).
"""

import numpy as np
import pytest
import torch
from ase import units
from ase.build import bulk

from pesgen.explore.md import (
    NVE,
    Bussi,
    Langevin,
    MDSampler,
    NoseHooverChain,
    StochasticCellRescaling,
    nhc_energy,
)
from pesgen.explore.md.observables import kinetic_energy
from pesgen.model.pair import PairPotential

POT = PairPotential.lennard_jones_argon(rcut=7.0, r_on=6.0)


def argon(a=5.6, n=2, seed=None):
    atoms = bulk("Ar", "fcc", a=a, cubic=True).repeat(n)
    if seed is not None:
        atoms.rattle(0.02, seed=seed)
    return atoms


def total_energy_trace(integ, temps, n_steps, dtype=torch.float64, skin=0.5):
    s = MDSampler(POT, integ, dtype=dtype, skin=skin, seed=3)
    state = s.init([argon(seed=k) for k in range(len(temps))], temps)
    out = []
    for _ in range(n_steps):
        state = integ.step(state, s.compute, s.generator)
        e = state.energy + kinetic_energy(state.velocities, state.masses, state.batch.frame, state.n_walkers)
        if "nhc_x" in state.extras:
            e = e + nhc_energy(state)
        if "thermostat_energy" in state.extras:
            e = e + state.extras["thermostat_energy"]
        out.append(e.double())
    return torch.stack(out).numpy(), state


@pytest.mark.parametrize(
    "integ",
    [NVE(timestep=5.0), NoseHooverChain(timestep=5.0, tau=200.0), Bussi(timestep=5.0, tau=200.0)],
    ids=["nve", "nhc", "bussi"],
)
def test_energy_conservation_over_a_long_run(integ):
    # 2000 steps of 5 fs (10 ps) of hot, expanded fcc argon: atoms diffuse, the list is rebuilt.
    trace, state = total_energy_trace(integ, [100.0, 150.0], 2000)
    drift = np.abs(trace - trace[0]).max(0)
    kin_scale = 1.5 * 32 * units.kB * 100.0  # 0.41 eV
    assert (drift < 2e-3 * kin_scale).all(), drift
    assert int(state.neighbors.n_builds.sum()) > 20  # the Verlet list was rebuilt along the way


def test_nve_float32_drift_is_bounded():
    trace, state = total_energy_trace(NVE(timestep=5.0), [120.0], 1000, dtype=torch.float32)
    assert state.batch.positions.dtype == torch.float32
    assert np.abs(trace - trace[0]).max() < 2e-3


@pytest.mark.slow
@pytest.mark.parametrize(
    "integ", [Langevin(timestep=5.0, friction=0.02), Bussi(timestep=5.0, tau=100.0)], ids=["langevin", "bussi"]
)
def test_canonical_kinetic_energy_at_two_temperatures(integ):
    temps = [30.0] * 8 + [70.0] * 8
    s = MDSampler(POT, integ, record_every=10, chunk_records=1000, dtype=torch.float64, seed=11, skin=0.5)
    chunk = s.sample([argon(a=5.35, seed=k) for k in range(16)], 2000, temperature=temps)
    c = chunk.columns
    dof = 3 * 32 if isinstance(integ, Langevin) else 3 * 32 - 3
    assert s.state.dof[0].item() == dof
    for t in (30.0, 70.0):
        rows = (c["temperature_target"] == t) & (c["step"] >= 400)
        kin = 0.5 * dof * units.kB * c["temperature"][rows]
        kt = units.kB * t
        mean_ratio = kin.mean() / (0.5 * dof * kt)
        var_ratio = kin.var() / (0.5 * dof * kt * kt)
        # 8 walkers x 160 records, correlation time ~ 2-3 records: ~500 effective samples;
        # relative std of K is sqrt(2/dof) = 0.14, so the mean is known to ~0.7 %, the variance to ~7 %.
        assert mean_ratio == pytest.approx(1.0, abs=0.03), (t, mean_ratio)
        assert var_ratio == pytest.approx(1.0, abs=0.2), (t, var_ratio)


def block_mean_error(x, n_blocks=10):
    blocks = np.array_split(x, n_blocks)
    means = np.array([b.mean() for b in blocks])
    return x.mean(), means.std(ddof=1) / np.sqrt(n_blocks)


@pytest.mark.slow
@pytest.mark.parametrize("flexible", [False, True], ids=["isotropic", "flexible"])
def test_npt_mean_pressure_matches_target(flexible):
    integ = StochasticCellRescaling(timestep=5.0, friction=0.02, tau_p=250.0, compressibility=4e-5, flexible=flexible)
    target = 1000.0
    s = MDSampler(POT, integ, record_every=5, chunk_records=10000, dtype=torch.float64, seed=5, skin=0.5)
    chunk = s.sample([argon(a=5.35, seed=k) for k in range(8)], 2000, temperature=60.0, pressure=target)
    c = chunk.columns
    assert not s.stop_events
    rows = c["step"] >= 400
    # Average over walkers at each recorded step, then block-average in time.
    steps = np.unique(c["step"][rows])
    series = np.array([c["pressure"][rows & (c["step"] == st)].mean() for st in steps])
    mean, err = block_mean_error(series)
    assert abs(mean - target) < max(4 * err, 40.0), (mean, err)
    # The cell really moved: the volume fluctuates and differs from the start.
    vol = c["volume"][rows]
    assert vol.std() > 1.0
    assert abs(vol.mean() - c["volume"][0]) > 5.0
    if flexible:
        cells = chunk.cells[rows]
        offdiag = cells[:, 0, 1]
        assert np.abs(offdiag).max() > 1e-3  # shear fluctuations happen
