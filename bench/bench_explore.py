"""Benchmark: exploration throughput (atom-steps per second) of pesgen's batched MD sampler.

The potential is a 4-model Deep Potential ensemble (``pesgen.Ensemble`` of
``pesgen.DeepPot(type_map=["Al"], rcut=6.0, seed=s)``, s = 0..3; a 4-model perturbed Morse pair
ensemble with the same deviation keys when the Deep Potential is not importable), evaluated
with its deviations at every step. Workloads: 16 walkers of 32 atoms and 4 walkers of 256 atoms
(rattled fcc Al), Langevin NVT at 300 K, 1 fs, a frame recorded every 10 steps.

* pesgen: ``MDSampler`` advancing all walkers together (one ensemble call per step, Verlet skin);
* ASE: ``ase.md.langevin.Langevin`` driving the same ensemble through its ASE calculator,
  one walker after the other (deviations computed at every step by the calculator);
* DeePMD-kit (if ``deepmd`` is importable): the same weights, in the same precision, loaded into
  four ``deepmd.infer.DeepPot`` (frozen and compressed by ``dp --pt freeze`` / ``dp --pt compress``
  unless ``--deepmd-exact``; bench/deepmd_peer.py), an ASE calculator calling the four of them
  plus ``calc_model_devi_f/_e/_v`` at every step, ASE Langevin one walker after the other.

The ensemble's statistics come from EMT-labelled rattled cells; pesgen runs it compressed
(``Ensemble.compress()``) unless ``--exact``, batched and one walker after the other alike.

Run: ``python bench/bench_explore.py [--steps 20] [--peer-steps 10] [--threads 2] [--dtype float32]``.
Prints a table and the ratios pesgen / peer.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from ase import units
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.md.langevin import Langevin as AseLangevin

from deepmd_peer import deepmd_models
from pesgen.explore.md import Langevin, MDSampler
from pesgen.model.batch import Batch
from pesgen.model.neighbors import neighbor_list
from pesgen.model.pair import PairPotential

WORKLOADS = {"16 x 32": (16, (2, 2, 2)), "4 x 256": (4, (4, 4, 4))}


def structures(n_walkers: int, repeat) -> list:
    out = []
    for k in range(n_walkers):
        atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(repeat)
        atoms.rattle(0.05, seed=k)
        out.append(atoms)
    return out


class PairEnsemble:
    """Fallback potential: four Morse Al models (D scaled by 0.97..1.06) with DeePMD's deviations."""

    def __init__(self) -> None:
        self.members = [
            PairPotential(["Al"], "morse", rcut=6.0, D=0.2703 * s, alpha=1.1646, r0=3.253)
            for s in (0.97, 1.0, 1.03, 1.06)
        ]
        self.type_map, self.rcut = ["Al"], 6.0

    def evaluate(self, batch, neighbors=None):
        if not isinstance(batch, Batch):
            batch = Batch.from_atoms(batch, self.type_map)
        if neighbors is None:
            neighbors = neighbor_list(batch, self.rcut)
        outs = [m.evaluate(batch, neighbors) for m in self.members]
        e = torch.stack([o["energy"] for o in outs])
        f = torch.stack([o["forces"] for o in outs])
        v = torch.stack([o["virial"] for o in outs])
        nat = batch.natoms.to(e.dtype)
        da = ((f - f.mean(0)) ** 2).sum(-1).mean(0).sqrt()
        z = torch.zeros(batch.n_frames, dtype=e.dtype)
        dv = (v / nat[None, :, None, None]).std(0, unbiased=False).flatten(1)
        return {
            "energy": e.mean(0),
            "forces": f.mean(0),
            "virial": v.mean(0),
            "max_devi_f": z.scatter_reduce(0, batch.frame, da, "amax", include_self=False),
            "min_devi_f": z.scatter_reduce(0, batch.frame, da, "amin", include_self=False),
            "avg_devi_f": z.index_add(0, batch.frame, da) / nat,
            "devi_e": e.std(0, unbiased=False) / nat,
            "max_devi_v": dv.max(-1).values,
            "min_devi_v": dv.min(-1).values,
            "avg_devi_v": dv.mean(-1),
        }


class ContractCalculator(Calculator):
    """ASE calculator over the potential contract, one frame per call (the peer's way)."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, potential, dtype) -> None:
        super().__init__()
        self.potential, self.dtype = potential, dtype

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        out = self.potential.evaluate(Batch.from_atoms(self.atoms, self.potential.type_map, dtype=self.dtype))
        self.results = {k: v.detach().double().numpy() for k, v in out.items() if torch.is_tensor(v)}
        self.results["energy"] = float(out["energy"][0])
        self.results["forces"] = out["forces"].detach().double().numpy()


class DeepMDEnsembleCalculator(Calculator):
    """Four DeePMD-kit DeepPots with DeePMD-kit's model-deviation functions, one frame per call."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, models) -> None:
        super().__init__()
        from deepmd.infer.model_devi import calc_model_devi_e, calc_model_devi_f, calc_model_devi_v

        self.models = models
        self.devi = (calc_model_devi_f, calc_model_devi_e, calc_model_devi_v)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        a = self.atoms
        coord, cell = a.positions.reshape(1, -1), a.cell.array.reshape(1, 9)
        atype = np.zeros(len(a), dtype=int)
        outs = [m.eval(coord, cell, atype) for m in self.models]
        es = np.stack([o[0] for o in outs])
        fs = np.stack([o[1] for o in outs])
        vs = np.stack([o[2] for o in outs]) / len(a)
        devi_f, devi_e, devi_v = self.devi[0](fs), self.devi[1](es), self.devi[2](vs)
        self.results = {
            "energy": float(es.mean()),
            "forces": fs.mean(0).reshape(-1, 3),
            "max_devi_f": devi_f[0][0],
            "devi_e": devi_e[0],
            "max_devi_v": devi_v[0][0],
        }


def run_pesgen(potential, walkers, steps, dtype, skin, max_atoms=None) -> tuple[float, float, float]:
    """(atom-steps/s, ms per step, ms per potential call alone)."""
    sampler = MDSampler(
        potential,
        Langevin(timestep=1.0, friction=0.01),
        record_every=10,
        dtype=dtype,
        skin=skin,
        max_atoms_per_call=max_atoms,
    )
    state = sampler.init(walkers, 300.0)
    sampler.sample(state, 3)  # warm-up
    state = sampler.state
    start = time.perf_counter()
    chunk = sampler.sample(state, steps)
    wall = time.perf_counter() - start
    assert "max_devi_f" in chunk.columns and np.isfinite(chunk.columns["max_devi_f"]).all()
    # The potential alone on the same batch and list: the floor of a step's cost.
    state = sampler.state
    reps = max(3, steps // 4)
    start = time.perf_counter()
    for _ in range(reps):
        if state.neighbors is None:
            potential.evaluate(state.batch)
        else:
            potential.evaluate(state.batch, neighbors=state.neighbors.neighbors)
    model = (time.perf_counter() - start) / reps
    return sum(len(a) for a in walkers) * steps / wall, 1e3 * wall / steps, 1e3 * model


def run_ase(calc_factory, walkers, steps) -> float:
    total_atoms, wall = 0, 0.0
    for k, atoms in enumerate(walkers):
        atoms = atoms.copy()
        atoms.calc = calc_factory()
        dyn = AseLangevin(
            atoms, 1.0 * units.fs, temperature_K=300.0, friction=0.01 / units.fs, rng=np.random.default_rng(k)
        )
        records = []
        dyn.attach(lambda a=atoms, r=records: r.append(a.calc.results["max_devi_f"]), interval=10)
        dyn.run(3)  # warm-up (TorchScript optimises over its first calls)
        start = time.perf_counter()
        dyn.run(steps)
        wall += time.perf_counter() - start
        total_atoms += len(atoms)
    return total_atoms * steps / wall


def trained_statistics(ensemble) -> None:
    """Environment statistics and energy bias from EMT-labelled rattled cells (as after training)."""
    from ase.calculators.emt import EMT

    frames = structures(4, (2, 2, 2))
    for atoms in frames:
        atoms.calc = EMT()
        atoms.get_potential_energy()
    ensemble.compute_statistics(frames, auto_sel=True)


def peer_models(ensemble, compress: bool):
    """Four DeePMD-kit DeepPots of the ensemble's members in its precision, compressed if DeePMD-kit can."""
    folder = Path(tempfile.mkdtemp(prefix="pesgen-bench-"))
    r_min = ensemble.metadata.get("min_neighbor_distance")
    if compress:
        try:
            return deepmd_models(ensemble.module, folder / "c", compress=True, min_nbor_dist=r_min), "compressed"
        except Exception as err:  # DeePMD-kit without its custom ops cannot compress
            print(f"dp --pt compress failed ({type(err).__name__}: {err}); uncompressed DeePMD-kit peer.")
    return deepmd_models(ensemble.module, folder), "uncompressed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="pesgen MD steps per workload")
    parser.add_argument("--peer-steps", type=int, default=10, help="peer MD steps per walker")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--skin", type=float, default=0.5)
    parser.add_argument("--pair", action="store_true", help="use the Morse pair ensemble")
    parser.add_argument("--max-atoms", type=int, default=None, help="MDSampler max_atoms_per_call")
    parser.add_argument("--exact", action="store_true", help="pesgen with the exact nets (default: compressed)")
    parser.add_argument("--deepmd-exact", action="store_true", help="DeePMD-kit peer uncompressed")
    args = parser.parse_args()
    os.environ.setdefault("DP_INTRA_OP_PARALLELISM_THREADS", str(args.threads))
    os.environ.setdefault("DP_INTER_OP_PARALLELISM_THREADS", "1")
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    dtype = getattr(torch, args.dtype)

    ensemble = None
    if not args.pair:
        try:
            import pesgen

            ensemble = pesgen.Ensemble([pesgen.DeepPot(type_map=["Al"], rcut=6.0, seed=s) for s in range(4)])
        except (ImportError, AttributeError) as err:
            print(f"pesgen.Ensemble not available ({err}); using the Morse pair ensemble.")
    if ensemble is not None:
        trained_statistics(ensemble)
        ensemble.to(dtype)  # DeePMD-kit's models are built in the same precision
        dp_models, dp_kind = peer_models(ensemble, compress=not args.deepmd_exact)
        if not args.exact:
            ensemble.compress()
        potential_name = (f"pesgen.Ensemble of 4 DeepPot (se_e2_a, rcut 6, "
                          f"{'exact' if args.exact else 'compressed'}); DeePMD-kit peer {dp_kind}")
        potential = ensemble
    else:
        potential_name = "4 Morse Al pair models"
        potential, dp_models = PairEnsemble(), None

    print(
        f"potential: {potential_name}; dtype {args.dtype}; threads {args.threads}; skin {args.skin} Å; "
        f"max_atoms_per_call {args.max_atoms}; torch {torch.__version__}"
    )
    rows = []
    for name, (n_walkers, repeat) in WORKLOADS.items():
        walkers = structures(n_walkers, repeat)
        pes, ms_step, ms_model = run_pesgen(potential, walkers, args.steps, dtype, args.skin, args.max_atoms)
        ase_rate = run_ase(lambda: ContractCalculator(potential, dtype), walkers, args.peer_steps)
        dp_rate = None
        if dp_models is not None:
            dp_rate = run_ase(lambda: DeepMDEnsembleCalculator(dp_models), walkers, args.peer_steps)
        rows.append((name, pes, ase_rate, dp_rate, ms_step, ms_model))
        dp = "-" if dp_rate is None else f"{dp_rate:.0f}"
        print(
            f"  {name}: pesgen {pes:.0f} ({ms_step:.1f} ms/step, potential alone {ms_model:.1f} ms), "
            f"ASE {ase_rate:.0f}, DeePMD-kit {dp} atom-steps/s",
            flush=True,
        )

    print("\nexploration throughput, atom-steps/s (4-model ensemble + deviations every step)")
    print(
        f"{'walkers x atoms':<16} {'pesgen batched':>15} {'ASE 1-by-1':>11} {'DeePMD+ASE':>11} "
        f"{'pesgen/ASE':>11} {'pesgen/DeePMD':>14} {'potential share':>16}"
    )
    for name, pes, ase_rate, dp_rate, ms_step, ms_model in rows:
        dp = "-" if dp_rate is None else f"{dp_rate:.0f}"
        ratio_dp = "-" if dp_rate is None else f"{pes / dp_rate:.2f}"
        print(
            f"{name:<16} {pes:>15.0f} {ase_rate:>11.0f} {dp:>11} {pes / ase_rate:>11.2f} {ratio_dp:>14} "
            f"{ms_model / ms_step:>16.2f}"
        )


if __name__ == "__main__":
    main()
