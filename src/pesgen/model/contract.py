"""The potential contract: what MD, the ASE calculator and validation ask of a model.

A :class:`Potential` has a ``type_map`` (species index k of a batch means ``type_map[k]``), a
cutoff ``rcut`` (Å) and ``evaluate(batch, neighbors=None) -> dict`` over a
:class:`~pesgen.model.batch.Batch` of F frames and N atoms:

================ =============== ======== ===================================================
key              shape           unit     meaning
================ =============== ======== ===================================================
``energy``       (F,)            eV       total energy of each frame (required)
``forces``       (N, 3)          eV/Å     -dE/dx (required)
``virial``       (F, 3, 3)       eV       W = -Σ_edges r_ij ⊗ ∂E/∂r_ij; ASE stress = -W/V
                                          (required for constant pressure and for stress)
``atom_energy``  (N,)            eV       per-atom energies summing to ``energy`` (optional)
================ =============== ======== ===================================================

Other (F,) outputs are per-frame records that MD keeps (an ensemble's deviations). An
:class:`~pesgen.model.ensemble.Ensemble` returns the members' means under the keys above and adds
``energy_members`` (M, F), ``forces_members`` (M, N, 3), ``virial_members`` (M, F, 3, 3) and the
deviations of :mod:`pesgen.model.deviation` (``devi_f`` (N,) and the per-frame ones, eV/Å and
eV/atom). ``neighbors`` is None (the potential builds its own list) or a full list built with any
cutoff >= ``rcut`` (MD passes a Verlet list with a skin): edges longer than ``rcut`` count for
nothing. :func:`check_potential` runs a potential on a tiny batch and checks all of this.
:func:`split_frames` cuts such a result into one dict per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch

from pesgen.errors import PesgenError
from pesgen.model.batch import Batch
from pesgen.model.deviation import FRAME_DEVIATIONS
from pesgen.model.neighbors import Neighbors, neighbor_list

#: keys whose first axis (after the members' axis of ``*_members``) runs over the N atoms; every
#: other key runs over the F frames
PER_ATOM_KEYS = ("forces", "atom_energy", "devi_f")


def split_frames(result: dict[str, torch.Tensor], natoms: Sequence[int]) -> list[dict]:
    """One dict per frame from a batch result of ``evaluate``: the same keys, as numpy arrays of
    that frame (``energy`` a float, ``forces`` (n, 3), ``virial`` (3, 3), ``energy_members``
    (M,), ``forces_members`` (M, n, 3), ``max_devi_f`` a float, ...) for frames of ``natoms``
    atoms each (the batch's order)."""
    counts = [int(n) for n in natoms]
    starts = [sum(counts[:k]) for k in range(len(counts))]
    frames: list[dict] = [{} for _ in counts]
    for key, value in result.items():
        members = key.endswith("_members")
        per_atom = key.removesuffix("_members") in PER_ATOM_KEYS
        array = value.detach().cpu().numpy()
        for k, (start, n) in enumerate(zip(starts, counts, strict=True)):
            index = slice(start, start + n) if per_atom else k
            part = array[:, index] if members else array[index]
            frames[k][key] = float(part) if part.ndim == 0 else part
    return frames


class PotentialContractError(PesgenError, TypeError):
    """A potential does not honour the contract of :mod:`pesgen.model.contract`; the message says how."""


@runtime_checkable
class Potential(Protocol):
    """Anything MD, :class:`~pesgen.calculator.PesgenCalculator` and validation can drive."""

    @property
    def type_map(self) -> Sequence[str]: ...

    @property
    def rcut(self) -> float: ...

    def evaluate(self, batch: Batch, neighbors: Neighbors | None = None) -> dict[str, torch.Tensor]: ...


def require_potential(potential: object) -> Potential:
    """``potential`` itself, or PotentialContractError naming what it lacks."""
    if not isinstance(potential, Potential):
        missing = [name for name in ("type_map", "rcut", "evaluate") if not hasattr(potential, name)]
        raise PotentialContractError(f"{type(potential).__name__} is not a potential: it has no {missing} "
                                     "(see pesgen.model.contract)")
    return potential


def output_problems(out: object, n_frames: int, n_atoms: int, need_virial: bool = False) -> list[str]:
    """What is missing or misshapen in the outputs ``out`` of a batch of n_frames, n_atoms."""
    if not isinstance(out, dict):
        return [f"evaluate returned a {type(out).__name__}, not a dict"]
    shapes = {"energy": (n_frames,), "forces": (n_atoms, 3), "virial": (n_frames, 3, 3), "atom_energy": (n_atoms,)}
    required = ("energy", "forces", "virial") if need_virial else ("energy", "forces")
    problems = [f"no {key!r} (got {sorted(out)})" for key in required if key not in out]
    for key, shape in shapes.items():
        if key in out and (not torch.is_tensor(out[key]) or tuple(out[key].shape) != shape):
            got = tuple(out[key].shape) if torch.is_tensor(out[key]) else type(out[key]).__name__
            problems.append(f"{key!r} should be a tensor of shape {shape}, got {got}")
    return problems


def tiny_batch(n_types: int, rcut: float, dtype: torch.dtype = torch.float64, device: str = "cpu") -> Batch:
    """Two frames, species cycling through the type map: a rattled triclinic periodic cell of 4
    atoms (smaller than the cutoff, so periodic images count) and a free cluster of 3 atoms;
    nearest neighbours at rcut/2."""
    g = torch.Generator().manual_seed(0)
    d = 0.5 * rcut
    a = d * 2**0.5
    fcc = torch.tensor([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]], dtype=torch.float64) * a
    cluster = torch.tensor([[0, 0, 0], [d, 0, 0], [0.5 * d, 0.8 * d, 0.1 * d]], dtype=torch.float64)
    positions = torch.cat([fcc, cluster]) + 0.05 * d * torch.randn(7, 3, generator=g, dtype=torch.float64)
    cell = torch.stack([torch.eye(3, dtype=torch.float64) * a, torch.zeros(3, 3, dtype=torch.float64)])
    cell[0, 0, 1] = 0.1 * a  # a triclinic cell
    return Batch(positions=positions.to(device, dtype), species=torch.arange(7, device=device) % n_types,
                 cell=cell.to(device, dtype), pbc=torch.tensor([[True] * 3, [False] * 3], device=device),
                 frame=torch.tensor([0, 0, 0, 0, 1, 1, 1], device=device))


def _energy(potential: Potential, batch: Batch) -> torch.Tensor:
    return potential.evaluate(batch)["energy"].detach().to(torch.float64)


def check_potential(potential: object, batch: Batch | None = None, rtol: float | None = None,
                    atol: float | None = None) -> dict[str, torch.Tensor]:
    """Run ``potential`` on a tiny batch (default :func:`tiny_batch`, float64, CPU) and check the
    contract: attributes; keys, shapes, floating dtypes and finite values of the outputs; the input
    left untouched; the same results with a longer neighbour list and frame by frame; forces =
    -dE/dx and virial = -dE/dstrain by central differences (periodic frames); for an ensemble,
    members' outputs whose mean is the output. Every difference must be within ``rtol`` times the
    largest |value| of its quantity plus ``atol`` (eV, eV/Å); defaults 1e-5 and 1e-8 for float64
    outputs, 1e-2 and 1e-4 for float32.

    Returns the outputs on the batch; raises PotentialContractError listing every problem.
    """
    potential = require_potential(potential)
    if batch is None:
        batch = tiny_batch(len(potential.type_map), float(potential.rcut))
    before = [t.clone() for t in (batch.positions, batch.species, batch.cell, batch.pbc, batch.frame)]
    out = potential.evaluate(batch)
    problems = output_problems(out, batch.n_frames, batch.n_atoms)
    if problems:
        raise PotentialContractError(f"{type(potential).__name__}: " + "; ".join(problems))
    for key, value in out.items():
        if torch.is_tensor(value) and not (value.is_floating_point() and bool(torch.isfinite(value).all())):
            problems.append(f"{key!r} is not finite floating point ({value.dtype})")
    after = (batch.positions, batch.species, batch.cell, batch.pbc, batch.frame)
    if any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)):
        problems.append("evaluate modified its input batch")
    single = out["forces"].dtype != torch.float64
    rtol = rtol if rtol is not None else (1e-2 if single else 1e-5)
    atol = atol if atol is not None else (1e-4 if single else 1e-8)

    def compare(name: str, got: torch.Tensor, want: torch.Tensor) -> None:
        got, want = got.detach().to(torch.float64).cpu(), want.detach().to(torch.float64).cpu()
        bound = rtol * float(want.abs().max()) + atol if want.numel() else 0.0
        worst = float((got - want).abs().max()) if want.numel() else 0.0
        if not worst <= bound:
            problems.append(f"{name}: off by {worst:.3g} (bound {bound:.3g})")

    keys = [k for k in ("energy", "forces", "virial") if k in out]
    longer = potential.evaluate(batch, neighbor_list(batch, float(potential.rcut) + 1.0))
    for key in keys:
        compare(f"{key} with a neighbour list of rcut + 1 Å", longer[key], out[key])
        members = out.get(f"{key}_members")
        if members is not None:
            compare(f"mean of {key}_members", members.mean(0), out[key])
    for f, sl in enumerate(batch.frame_slices()):
        alone = potential.evaluate(batch.select(torch.arange(batch.n_frames, device=batch.device) == f))
        compare(f"energy of frame {f} evaluated alone", alone["energy"], out["energy"][f:f + 1])
        compare(f"forces of frame {f} evaluated alone", alone["forces"], out["forces"][sl])
    if "atom_energy" in out:
        summed = torch.zeros_like(out["energy"]).index_add(0, batch.frame, out["atom_energy"])
        compare("sum of atom_energy", summed, out["energy"])
    for key in FRAME_DEVIATIONS:
        if key in out and (out[key].shape != (batch.n_frames,) or bool((out[key] < 0).any())):
            problems.append(f"{key!r} should be (F,) and >= 0")
    h = 1e-2 if single else 1e-4
    fd = torch.zeros(batch.n_atoms, 3, dtype=torch.float64)
    for k in range(batch.n_atoms):
        for c in range(3):
            step = torch.zeros_like(batch.positions)
            step[k, c] = h
            plus, minus = (_energy(potential, batch.with_positions(batch.positions + s * step)) for s in (1, -1))
            fd[k, c] = -(plus - minus)[batch.frame[k]] / (2 * h)
    compare("forces against -dE/dx by finite differences", out["forces"], fd)
    periodic = batch.pbc.all(-1)
    if "virial" in out and bool(periodic.any()):
        eye = torch.eye(3, dtype=batch.dtype, device=batch.device)
        fd = torch.zeros(batch.n_frames, 3, 3, dtype=torch.float64)
        for a, b in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)):
            strain = torch.zeros(3, 3, dtype=batch.dtype, device=batch.device)
            strain[a, b] = strain[b, a] = h  # x -> x (1 + strain), cell -> cell (1 + strain)
            plus, minus = (_energy(potential, batch.with_positions(
                torch.einsum("nk,kl->nl", batch.positions, eye + s * strain), batch.cell @ (eye + s * strain)))
                for s in (1, -1))
            fd[:, a, b] = fd[:, b, a] = -(plus - minus) / (2 * h) / (1 if a == b else 2)
        virial = out["virial"].detach().to(torch.float64).cpu()
        compare("virial against -dE/dstrain", (0.5 * (virial + virial.mT))[periodic], fd[periodic])
    if problems:
        raise PotentialContractError(f"{type(potential).__name__}: " + "; ".join(problems))
    return out
