"""pesgen's DeepPot-SE gives DeePMD-kit's numbers for the same weights (skipped without DeePMD-kit).

DeePMD-kit is an optional extra (pesgen[deepmd]; CI installs it, scripts/setup.sh): this test loads
pesgen weights into DeePMD-kit's own PyTorch model and compares energy, forces, virial.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from model_testkit import alcu_cell, emt_frames

import pesgen
from pesgen.model.deepmd_export import deepmd_member

pytest.importorskip("deepmd.pt.model.model", reason="DeePMD-kit (PyTorch) not installed")


@pytest.mark.parametrize("type_one_side", [True, False])
def test_same_numbers_as_deepmd_kit(type_one_side):
    warnings.filterwarnings("ignore")
    model = pesgen.DeepPot(type_map=["Al", "Cu"], rcut=5.5, rcut_smth=2.0, seed=4, type_one_side=type_one_side)
    model.compute_statistics(emt_frames(4), auto_sel=True)
    dm = deepmd_member(model.module)
    atoms = alcu_cell(seed=61, rattle=0.15)
    species = torch.tensor([model.type_map.index(s) for s in atoms.get_chemical_symbols()]).reshape(1, -1)
    ref = dm(torch.tensor(atoms.positions).reshape(1, -1), species, torch.tensor(atoms.cell.array).reshape(1, 9))
    out = model.evaluate(atoms)
    assert out["energy"].item() == pytest.approx(ref["energy"].item(), abs=1e-10)
    torch.testing.assert_close(out["forces"], ref["force"].reshape(-1, 3), atol=1e-10, rtol=0)
    torch.testing.assert_close(out["virial"][0], ref["virial"].reshape(3, 3), atol=1e-10, rtol=0)



def test_same_statistics_as_deepmd_kit():
    """davg/dstd from two-species frames equal DeePMD-kit 3.2's own se_e2_a statistics (per centre
    species, pooled over all neighbour slots): pesgen's per-pair statistics of before 2026-12-01 fail."""
    warnings.filterwarnings("ignore")
    from deepmd.pt.model.model import get_model

    from pesgen.model.deepmd_weights import deepmd_model_params

    frames = emt_frames(4)
    model = pesgen.DeepPot(type_map=["Al", "Cu"], rcut=5.5, rcut_smth=2.0, seed=4)
    model.compute_statistics(frames, auto_sel=True)
    dm = get_model(deepmd_model_params(model.module)).to(torch.float64)
    sampled = [{"coord": torch.tensor(a.positions).reshape(1, -1),
                "atype": torch.tensor([model.type_map.index(s) for s in a.get_chemical_symbols()]).reshape(1, -1),
                "box": torch.tensor(a.cell.array).reshape(1, 9)} for a in frames]
    dm.atomic_model.descriptor.compute_input_stats(sampled)
    mean, std = dm.atomic_model.descriptor.get_stat_mean_and_stddev()
    sel = model.hyperparameters["sel"]
    first = [0, sel[0]]                                   # first slot of each neighbour species' section
    d = model.module.descriptor
    for b in range(2):
        torch.testing.assert_close(d.davg[0][:, b], mean[:, first[b]].double(), atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(d.dstd[0][:, b], std[:, first[b]].double(), atol=1e-12, rtol=1e-10)
