"""Batches that mix systems (``batch_mixing = "mixed"``): the sampler's epochs, the batch's
numbers equal to each frame's own, and the option's validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.emt import EMT
from train_testkit import SMALL_MODEL, emt_al_frames

import pesgen
from pesgen.training.config import TrainSettings
from pesgen.training.dataset import MixedBatchSampler, build_systems, mixed_environment


def lattice_frames():
    """Four systems of 4, 8, 16 and 32 atoms (Al EMT, rattled)."""
    frames = []
    for k, (lattice, a, rep) in enumerate([("fcc", 4.05, 1), ("diamond", 6.0, 1), ("bcc", 3.24, 2), ("fcc", 4.05, 2)]):
        for f in range(3):
            atoms = bulk("Al", lattice, a=a, cubic=True).repeat(rep)
            atoms.rattle(0.05, seed=10 * k + f)
            atoms.calc = EMT()
            atoms.get_potential_energy()
            frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def systems():
    return build_systems(lattice_frames(), ["Al"], 5.0, 1.0, torch.float64, "cpu")


def test_every_frame_once_per_epoch_and_batches_mix_systems(systems):
    sampler = MixedBatchSampler(systems, "auto", 40, np.random.default_rng(3))
    n_frames = sum(s.n_frames for s in systems)
    seen, mixed, epoch_draws = [], 0, 0
    while len(seen) < n_frames:
        picks = sampler.draw()
        atoms = sum(systems[s].n_atoms for s, _ in picks)
        # at least 40 atoms, and no frame more than needed to get there
        assert atoms >= 40 or len(seen) + len(picks) >= n_frames
        assert atoms - systems[picks[-1][0]].n_atoms < 40
        mixed += len({s for s, _ in picks}) > 1
        seen.extend(picks)
        epoch_draws += 1
    first_epoch = seen[:n_frames]
    assert sorted(first_epoch) == sorted((s, f) for s, sys in enumerate(systems) for f in range(sys.n_frames))
    assert mixed >= epoch_draws // 2


def test_sampler_is_reproducible_by_seed(systems):
    a = MixedBatchSampler(systems, 3, 32, np.random.default_rng(1))
    b = MixedBatchSampler(systems, 3, 32, np.random.default_rng(1))
    seq_a, seq_b = [a.draw() for _ in range(10)], [b.draw() for _ in range(10)]
    assert seq_a == seq_b
    assert all(len(p) == 3 for p in seq_a)            # an integer batch_size counts frames
    other = MixedBatchSampler(systems, 3, 32, np.random.default_rng(2))
    assert [other.draw() for _ in range(10)] != seq_a


def test_mixed_batch_predicts_each_frame_as_alone(systems):
    """Energies, forces and virials of a batch of frames from different systems equal those of each
    frame evaluated by itself (float64), and the labels line up with them."""
    frames = lattice_frames()
    model = pesgen.DeepPot(type_map=["Al"], seed=2, precision="float64", **SMALL_MODEL)
    model.compute_statistics(frames, auto_sel=True)
    picks = [(3, 1), (0, 2), (1, 0), (2, 2), (0, 0)]
    env, labels = mixed_environment(systems, picks)
    out = model.module.forward_environment(env)
    start = 0
    for k, (s, f) in enumerate(picks):
        alone_env, alone_labels = systems[s].environment([f])
        alone = model.module.forward_environment(alone_env)
        n = systems[s].n_atoms
        assert torch.allclose(out["energy"][:, k], alone["energy"][:, 0], rtol=0, atol=1e-12)
        assert torch.allclose(out["forces"][:, start:start + n], alone["forces"], rtol=0, atol=1e-12)
        assert torch.allclose(out["virial"][:, k], alone["virial"][:, 0], rtol=0, atol=1e-12)
        assert float(labels["energy"][k]) == float(alone_labels["energy"][0])
        assert torch.equal(labels["forces"][start:start + n], alone_labels["forces"])
        start += n


def test_training_with_mixed_batches_learns_and_is_reproducible():
    frames = lattice_frames() + emt_al_frames(4)
    config = {"numb_steps": 40, "disp_freq": 20, "n_members": 2, "model": SMALL_MODEL, "batch_mixing": "mixed",
              "auto_batch_atoms": 64, "validation_fraction": 0.0, "seed": 5}
    a = pesgen.train(frames, config)
    b = pesgen.train(frames, config)
    assert torch.equal(a.module.fitting.nets[0].layers[0].weight, b.module.fitting.nets[0].layers[0].weight)
    curve = a.metadata["learning_curve"]
    assert curve[-1]["loss"][0] < curve[0]["loss"][0]


def test_per_member_shuffle_needs_system_batches():
    with pytest.raises(ValueError, match="shuffle_per_member"):
        TrainSettings(batch_mixing="mixed", shuffle_per_member=True)
