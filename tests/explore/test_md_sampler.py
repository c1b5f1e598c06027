"""The batched sampler: batched runs equal one-by-one runs, walkers stop alone, deviations are
recorded, the Verlet list stays exact under a changing cell, records join to ase.Atoms."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.cluster import Icosahedron

from pesgen.explore.md import (
    NVE,
    STOP_REASONS,
    FrameChunk,
    Langevin,
    MDInputError,
    MDSampler,
    NoseHooverChain,
    StochasticCellRescaling,
    StopCriteria,
    check_walkers,
)
from pesgen.model.batch import Batch
from pesgen.model.neighbors import neighbor_list
from pesgen.model.pair import PairPotential

POT = PairPotential.lennard_jones_argon(rcut=7.0, r_on=6.0)


class PerturbedLJEnsemble:
    """Test helper: an 'ensemble' of LJ argon models with different epsilons and sigmas, giving
    real model deviations by the definitions of the DP-GEN paper (eq. 1) and DeePMD-kit."""

    def __init__(self, scales=(0.97, 1.0, 1.03, 1.06)):
        self.members = [
            PairPotential(["Ar"], "lj", rcut=7.0, r_on=6.0, epsilon=0.0104 * s, sigma=3.40 * s**0.1) for s in scales
        ]
        self.type_map = ["Ar"]
        self.rcut = 7.0

    def evaluate(self, batch, neighbors=None):
        if neighbors is None:
            neighbors = neighbor_list(batch, self.rcut)
        outs = [m.evaluate(batch, neighbors) for m in self.members]
        e = torch.stack([o["energy"] for o in outs])
        f = torch.stack([o["forces"] for o in outs])
        w = torch.stack([o["virial"] for o in outs])
        nat = batch.natoms.to(e.dtype)
        devi_atom = ((f - f.mean(0)) ** 2).sum(-1).mean(0).sqrt()
        nf = batch.n_frames
        fr = batch.frame
        zero = torch.zeros(nf, dtype=e.dtype)
        devi_v = (w / nat[None, :, None, None]).std(0, unbiased=False).reshape(nf, 9)
        return {
            "energy": e.mean(0),
            "forces": f.mean(0),
            "virial": w.mean(0),
            "max_devi_f": zero.scatter_reduce(0, fr, devi_atom, "amax", include_self=False),
            "min_devi_f": zero.scatter_reduce(0, fr, devi_atom, "amin", include_self=False),
            "avg_devi_f": zero.index_add(0, fr, devi_atom) / nat,
            "devi_e": e.std(0, unbiased=False) / nat,
            "max_devi_v": devi_v.max(-1).values,
            "min_devi_v": devi_v.min(-1).values,
            "avg_devi_v": devi_v.mean(-1),
        }


def walkers():
    a = bulk("Ar", "fcc", a=5.4, cubic=True).repeat(2)
    a.rattle(0.03, seed=1)
    b = bulk("Ar", "fcc", a=5.5, cubic=True).repeat((2, 1, 1))
    b.rattle(0.03, seed=2)
    c = Icosahedron("Ar", 2)
    c.center()
    c.info["system"] = "ico13"
    return [a, b, c]


@pytest.mark.parametrize("integ", [NVE(timestep=4.0), NoseHooverChain(timestep=4.0, tau=100.0)], ids=["nve", "nhc"])
def test_batched_run_equals_walkers_run_one_by_one(integ):
    temps = [40.0, 60.0, 20.0]
    s = MDSampler(POT, integ, record_every=50, dtype=torch.float64, skin=0.4)
    together = s.sample(walkers(), 400, temperature=temps)
    for k, atoms in enumerate(walkers()):
        alone_sampler = MDSampler(POT, integ, record_every=50, dtype=torch.float64, skin=0.4)
        # Velocities are drawn per walker from (seed, walker index): start walker k the same way.
        state = alone_sampler.init([atoms], temps[k])
        ref = MDSampler(POT, integ, dtype=torch.float64).init(walkers(), temps)
        state.velocities = ref.velocities[ref.batch.frame == k].clone()
        alone = alone_sampler.sample(state, 400)
        rows = together.walker_rows(k)
        assert len(rows) == len(alone) == 9
        for r_t, r_a in zip(rows, range(len(alone)), strict=True):
            a_t, a_a = together.atoms(r_t), alone.atoms(r_a)
            np.testing.assert_allclose(a_t.positions, a_a.positions, atol=1e-8)
            np.testing.assert_allclose(a_t.get_velocities(), a_a.get_velocities(), atol=1e-8)
            assert a_t.info["energy"] == pytest.approx(a_a.info["energy"], abs=1e-9)


def test_exploding_walker_stops_alone():
    good = walkers()[:2]
    bad = bulk("Ar", "fcc", a=5.4, cubic=True).repeat(2)
    bad.positions[1] = bad.positions[0] + [0.9, 0.0, 0.0]  # nearly fused: explodes at once
    s = MDSampler(POT, NVE(timestep=4.0), record_every=20, dtype=torch.float64, chunk_records=3)
    chunks = list(s.run([good[0], bad, good[1]], 200, temperature=[40.0, 40.0, 60.0]))
    assert len(chunks) > 1
    run = FrameChunk.concat(chunks)
    assert len(s.stop_events) == 1
    event = s.stop_events[0]
    assert event.walker == 1 and event.step <= 5
    assert event.reason in ("not_finite", "too_close", "too_hot")
    assert not (run.columns["walker"] == 1)[run.columns["step"] > event.step].any()
    # The others went on to the end, exactly as without the bad walker.
    ref = MDSampler(POT, NVE(timestep=4.0), record_every=20, dtype=torch.float64)
    state = ref.init(good, [40.0, 60.0])
    full = MDSampler(POT, NVE(timestep=4.0), dtype=torch.float64).init([good[0], bad, good[1]], [40.0, 40.0, 60.0])
    state.velocities = torch.cat([full.velocities[full.batch.frame == 0], full.velocities[full.batch.frame == 2]])
    alone = ref.sample(state, 200)
    for new_id, old_id in ((0, 0), (1, 2)):
        rows = run.walker_rows(old_id)
        rows = rows[run.columns["stop_code"][rows] == 0]
        assert run.columns["step"][rows][-1] == 200
        last_alone = alone.walker_rows(new_id)[-1]
        np.testing.assert_allclose(run.atoms(rows[-1]).positions, alone.atoms(last_alone).positions, atol=1e-8)


def test_deviations_recorded_and_deviation_stop():
    ens = PerturbedLJEnsemble()
    squeezed = bulk("Ar", "fcc", a=4.6, cubic=True).repeat(2)  # strongly compressed: large forces
    squeezed.rattle(0.1, seed=4)
    structures = [*walkers()[:2], squeezed]
    ens_probe = ens.evaluate(Batch.from_atoms(structures, ["Ar"]))
    level = float(ens_probe["max_devi_f"][2]) * 0.3
    assert float(ens_probe["max_devi_f"][:2].max()) < level / 5
    s = MDSampler(ens, Langevin(timestep=4.0, friction=0.02), record_every=10, stop=StopCriteria(max_devi_f=level))
    run = s.sample(structures, 60, temperature=[50.0, 50.0, 50.0])
    assert [(e.walker, e.reason) for e in s.stop_events] == [(2, "deviation")]
    c = run.columns
    stop_row = np.nonzero(c["stop_code"])[0]
    assert len(stop_row) == 1 and STOP_REASONS[int(c["stop_code"][stop_row[0]])] == "deviation"
    assert c["max_devi_f"][stop_row[0]] > level
    for key in ("max_devi_f", "min_devi_f", "avg_devi_f", "devi_e", "max_devi_v", "min_devi_v", "avg_devi_v"):
        assert key in c and np.isfinite(c[key]).all()
    assert (c["max_devi_f"] >= c["avg_devi_f"]).all() and (c["avg_devi_f"] >= c["min_devi_f"]).all()
    assert (c["max_devi_f"][c["walker"] < 2] > 0).all()
    assert set(c["step"][c["walker"] == 0]) == {0, 10, 20, 30, 40, 50, 60}
    np.testing.assert_allclose(c["time"], c["step"] * 4.0)
    assert c["natoms"].tolist()[:3] == [32, 8, 32]
    assert c["system"][c["walker"] == 0][0] == "Ar32#0"


def test_cell_collapse_and_heat_are_detected():
    s = MDSampler(POT, NVE(timestep=2.0), dtype=torch.float64)
    state = s.init(walkers()[:2], [40.0, 40.0])
    crushed = state.batch.cell.clone()
    crushed[1] *= 0.55  # V / V0 = 0.17
    state.batch.cell = crushed
    state.batch.positions = state.batch.positions.clone()
    assert check_walkers(state, StopCriteria(min_distance=None)).tolist() == [0, 4]
    state.velocities = state.velocities * torch.where(state.batch.frame == 0, 5.0, 1.0)[:, None]  # T x 25
    assert check_walkers(state, StopCriteria(min_distance=None)).tolist() == [5, 4]
    state.batch.positions[3, 0] = float("nan")
    assert check_walkers(state, StopCriteria(min_distance=None)).tolist() == [1, 4]


def test_verlet_list_exact_while_cell_fluctuates():
    integ = StochasticCellRescaling(timestep=5.0, friction=0.05, tau_p=100.0, compressibility=2e-4, flexible=True)
    s = MDSampler(POT, integ, dtype=torch.float64, skin=0.3, seed=2)
    state = s.init(walkers()[:2], [60.0, 80.0], pressure=[-500.0, 2000.0])
    v0 = state.extras["volume0"].clone()
    for _ in range(150):
        state = integ.step(state, s.compute, s.generator)
        fresh = POT.evaluate(state.batch)
        torch.testing.assert_close(state.forces, fresh["forces"], atol=1e-10, rtol=0)
        torch.testing.assert_close(state.virial, fresh["virial"], atol=1e-10, rtol=0)
    assert int(state.neighbors.n_builds.sum()) > 4
    assert (abs(state.extras["volume0"] / v0 - 1) < 1e-12).all()
    from pesgen.explore.md.observables import volume

    assert (abs(volume(state.batch.cell) / v0 - 1) > 0.01).any()


def test_frames_join_to_ase_atoms():
    s = MDSampler(POT, Langevin(timestep=4.0), record_every=5, chunk_records=2)
    chunks = list(s.run(walkers(), 20, temperature=30.0))
    assert [len(c) for c in chunks] == [6, 6, 3]
    run = FrameChunk.concat(chunks)
    assert all(v.ndim == 1 and len(v) == len(run) for v in run.columns.values())
    mask = run.columns["walker"] == 2
    frames = run.select_frames(mask)
    assert [f is None for f in frames] == (~mask).tolist()
    assert len(run.frames) == len(run) and run.frames[-1].info["step"] == 20
    ico = frames[int(np.nonzero(mask)[0][-1])]
    assert isinstance(ico, Atoms) and len(ico) == 13 and not ico.pbc.any()
    assert ico.info["system"] == "ico13" and ico.info["step"] == 20
    assert np.isnan(ico.info["pressure"]) and np.isfinite(ico.info["temperature"])
    first = run.atoms(0)
    assert first.get_chemical_symbols() == ["Ar"] * 32 and first.pbc.all()
    assert first.info["temperature_target"] == 30.0


def test_bad_input_is_named():
    with pytest.raises(MDInputError, match="pressure"):
        MDSampler(POT, StochasticCellRescaling()).init(walkers()[:1], 300.0)
    with pytest.raises(MDInputError, match="periodic"):
        MDSampler(POT, StochasticCellRescaling()).init(walkers(), 300.0, pressure=1.0)
    with pytest.raises(MDInputError, match="Cu"):
        MDSampler(POT, NVE()).init([bulk("Cu")], 300.0)
    with pytest.raises(MDInputError, match="one per walker"):
        MDSampler(POT, NVE()).init(walkers(), [300.0, 200.0])
    with pytest.raises(MDInputError, match="timestep"):
        NVE(timestep=0.0)
    with pytest.raises(MDInputError, match="temperature <= 0"):
        MDSampler(POT, NoseHooverChain()).init(walkers()[:1], 0.0)


def test_chunks_append_to_a_record_file(tmp_path):
    records = pytest.importorskip("pesgen.explore.records")
    s = MDSampler(PerturbedLJEnsemble(), Langevin(timestep=4.0), record_every=5, chunk_records=2)
    keep_above = 1e-4
    with records.RecordWriter(tmp_path / "record.sqlite", keep_above=keep_above) as writer:
        chunks = list(s.run(walkers()[:2], 20, temperature=60.0))
        for chunk in chunks:
            writer.append(chunk.columns, chunk.frames)
    run = FrameChunk.concat(chunks)
    rec = records.read_record(tmp_path / "record.sqlite")
    np.testing.assert_allclose(rec.columns["max_devi_f"], run.columns["max_devi_f"], rtol=1e-6)
    row = int(np.argmax(run.columns["max_devi_f"]))
    assert run.columns["max_devi_f"][row] >= keep_above
    np.testing.assert_allclose(rec.frame(row).positions, run.atoms(row).positions)


def test_split_potential_calls_equal_one_call():
    ens = PerturbedLJEnsemble()
    runs = []
    for cap in (None, 40):
        s = MDSampler(ens, NVE(timestep=4.0), record_every=10, dtype=torch.float64, max_atoms_per_call=cap)
        runs.append(s.sample(walkers(), 30, temperature=50.0))
        if cap:
            assert s.compute.n_calls == 2 * 31  # (32 + 8) | 13 atoms: two calls per evaluation
    one, split = runs
    for key in ("energy", "max_devi_f", "devi_e", "max_devi_v", "pressure"):
        np.testing.assert_allclose(split.columns[key], one.columns[key], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(split.positions, one.positions, atol=1e-10)


def test_only_stale_walkers_rebuild_their_lists():
    cold, hot = walkers()[0], walkers()[0]
    s = MDSampler(POT, NVE(timestep=5.0), dtype=torch.float64, skin=0.3)
    s.sample([cold, hot], 200, temperature=[2.0, 150.0])
    builds = s.state.neighbors.n_builds.tolist()
    assert builds[0] == 1 and builds[1] > 3, builds
