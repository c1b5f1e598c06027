"""Model files: exact round trip, clear errors for missing, truncated, corrupt, foreign, newer files."""

from __future__ import annotations

import pytest
import torch
from model_testkit import alcu_cell

import pesgen
from pesgen.model.io import ModelFileError, describe


def test_round_trip_exact(tmp_path, model, ensemble):
    atoms = alcu_cell(seed=41)
    for obj, cls in ((model, pesgen.DeepPot), (ensemble, pesgen.Ensemble)):
        path = obj.save(tmp_path / f"{cls.__name__}.pt")
        back = pesgen.load(path)
        assert isinstance(back, cls)
        assert back.hyperparameters == obj.hyperparameters
        a, b = obj.evaluate(atoms), back.evaluate(atoms)
        assert torch.equal(a["energy"], b["energy"]) and torch.equal(a["forces"], b["forces"])
        for (k1, v1), (k2, v2) in zip(obj.module.state_dict().items(), back.module.state_dict().items(), strict=True):
            assert k1 == k2 and torch.equal(v1, v2)


def test_untrained_model_api(tmp_path):
    m = pesgen.DeepPot(type_map=["Al", "Mg"], rcut=6.0, seed=0)
    ens = pesgen.Ensemble([pesgen.DeepPot(type_map=["Al", "Mg"], rcut=6.0, seed=s) for s in range(4)])
    m.save(tmp_path / "m.pt")
    ens.save(tmp_path / "ens.pt")
    assert isinstance(pesgen.load(tmp_path / "ens.pt"), pesgen.Ensemble)
    assert isinstance(pesgen.load(tmp_path / "m.pt"), pesgen.DeepPot)
    assert "Ensemble with 4 member(s)" in describe(tmp_path / "ens.pt")


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file") as err:
        pesgen.load(tmp_path / "nope.pt")
    assert "nope.pt" in str(err.value)


def test_truncated_file(tmp_path, model):
    path = model.save(tmp_path / "m.pt")
    data = path.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupt") as err:
        pesgen.load(cut)
    assert "cut.pt" in str(err.value)


def test_garbage_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00not a model at all" * 10)
    with pytest.raises(ModelFileError, match="junk.pt"):
        pesgen.load(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelFileError, match="not a pesgen model file"):
        pesgen.load(foreign)


def test_newer_version_and_mismatched_weights(tmp_path, model):
    path = model.save(tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["version"] = 99
    torch.save(payload, tmp_path / "new.pt")
    with pytest.raises(ModelFileError, match="newer"):
        pesgen.load(tmp_path / "new.pt")
    payload = torch.load(path, weights_only=True)
    payload["hyperparameters"]["fitting_neuron"] = [64, 64, 64]
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="does not match"):
        pesgen.load(tmp_path / "bad.pt")


def test_save_is_atomic(tmp_path, model):
    path = model.save(tmp_path / "m.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    assert path.stat().st_size > 0
