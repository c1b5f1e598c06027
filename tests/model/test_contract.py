"""The potential contract: pesgen's potentials pass check_potential, broken ones fail with the reason;
MD and the calculator refuse what is not a potential."""

from __future__ import annotations

import re

import pytest
import torch
from ase.build import bulk

import pesgen
from pesgen.calculator import PesgenCalculator
from pesgen.explore.md import NVE, MDSampler
from pesgen.model.contract import Potential, PotentialContractError, check_potential, tiny_batch
from pesgen.model.pair import PairPotential

LJ = PairPotential.lennard_jones_argon(rcut=7.0, r_on=6.0)


@pytest.mark.parametrize("name", ["lj", "morse", "deeppot", "deeppot32", "ensemble"])
def test_pesgen_potentials_honour_the_contract(name, model, ensemble):
    potential = {"lj": LJ, "morse": PairPotential.morse_al_cu(), "deeppot": model, "ensemble": ensemble,
                 "deeppot32": pesgen.DeepPot(["Al", "Cu"], rcut=5.0, seed=3, precision="float32")}[name]
    assert isinstance(potential, Potential)
    out = check_potential(potential)
    assert out["forces"].shape == (7, 3) and out["energy"].shape == (2,)
    if name == "ensemble":
        assert out["forces_members"].shape == (4, 7, 3) and out["max_devi_f"].shape == (2,)


class Broken:
    """LJ argon with one fault switched on."""

    type_map = ["Ar"]
    rcut = 7.0

    def __init__(self, fault: str) -> None:
        self.fault = fault

    def evaluate(self, batch, neighbors=None):
        if self.fault == "unmasked" and neighbors is not None:  # uses edges beyond rcut
            wide = PairPotential(["Ar"], "lj", rcut=neighbors.cutoff, r_on=6.0, epsilon=0.0104, sigma=3.40)
            return wide.evaluate(batch, neighbors)
        out = dict(LJ.evaluate(batch, neighbors))
        if self.fault == "forces":
            out["forces"] = 0.9 * out["forces"]
        elif self.fault == "virial":
            out["virial"] = out["virial"].mT.contiguous() * 1.1
        elif self.fault == "shape":
            out["energy"] = out["energy"][:, None]
        elif self.fault == "missing":
            del out["forces"]
        elif self.fault == "inplace":
            batch.positions += 0.0 * batch.positions + 1e-3
        elif self.fault == "batched":  # frames interact through the batch
            out["energy"] = out["energy"] + out["energy"].sum() * 1e-3
        return out


@pytest.mark.parametrize(("fault", "message"), [
    ("forces", "forces against -dE/dx"), ("virial", "virial against -dE/dstrain"),
    ("shape", "'energy' should be a tensor of shape (2,)"), ("missing", "no 'forces'"),
    ("inplace", "modified its input batch"), ("unmasked", "neighbour list of rcut + 1"),
    ("batched", "evaluated alone"),
])
def test_broken_potentials_are_caught(fault, message):
    check_potential(Broken("none"))
    with pytest.raises(PotentialContractError, match=re.escape(message)):
        check_potential(Broken(fault))


def test_not_a_potential_is_refused_by_md_and_calculator():
    class NoCutoff:
        type_map = ["Ar"]

        def evaluate(self, batch, neighbors=None):
            return LJ.evaluate(batch, neighbors)

    for build in (lambda p: MDSampler(p, NVE(timestep=1.0)), PesgenCalculator, check_potential):
        with pytest.raises(PotentialContractError, match=r"no \['rcut'\]"):
            build(NoCutoff())


def test_md_refuses_misshapen_outputs():
    sampler = MDSampler(Broken("shape"), NVE(timestep=1.0))
    with pytest.raises(PotentialContractError, match="'energy' should be"):
        sampler.init([bulk("Ar", "fcc", a=5.3, cubic=True)], temperature=10.0)


def test_tiny_batch_has_every_species_and_a_cell_smaller_than_the_cutoff():
    batch = tiny_batch(3, 6.0, dtype=torch.float32)
    assert set(batch.species.tolist()) == {0, 1, 2} and batch.dtype == torch.float32
    assert batch.cell[0].norm(dim=-1).max() < 6.0 and not bool(batch.pbc[1].any())
