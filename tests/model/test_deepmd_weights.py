"""The DeePMD-kit weight mapping is invertible (no DeePMD-kit needed)."""

from __future__ import annotations

import pytest
import torch
from model_testkit import alcu_cell, emt_frames

import pesgen
from pesgen.model.deepmd_weights import deepmd_state_dict, load_deepmd_state_dict


def test_weights_round_trip_through_deepmd_names():
    """deepmd_state_dict then load_deepmd_state_dict reproduces the model exactly."""
    model = pesgen.DeepPot(type_map=["Al", "Cu"], rcut=5.0, seed=1, type_one_side=False)
    model.compute_statistics(emt_frames(2), auto_sel=True)
    other = pesgen.DeepPot(type_map=["Al", "Cu"], rcut=5.0, seed=2, type_one_side=False,
                           sel=model.hyperparameters["sel"])
    atoms = alcu_cell(seed=62)
    assert not torch.equal(other.evaluate(atoms)["forces"], model.evaluate(atoms)["forces"])
    load_deepmd_state_dict(other.module, deepmd_state_dict(model.module))
    assert torch.equal(other.evaluate(atoms)["forces"], model.evaluate(atoms)["forces"])


def test_deepmd_export_without_deepmd_kit_says_how_to_install_it(model, monkeypatch, tmp_path):
    import sys

    from pesgen.model.deepmd_export import DeepmdExportError, write_deepmd

    monkeypatch.setitem(sys.modules, "deepmd", None)  # `import deepmd` raises ImportError
    with pytest.raises(DeepmdExportError, match=r"pesgen\[deepmd\].*docs/interop.md|docs/interop.md.*pesgen\[deepmd\]"):
        write_deepmd(model.module, tmp_path / "out")
    assert not (tmp_path / "out").exists()
