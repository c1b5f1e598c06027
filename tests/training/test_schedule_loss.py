"""Learning-rate decay, prefactor schedule and loss normalisation as in DeePMD-kit."""

from __future__ import annotations

import pytest
import torch

from pesgen.training.loss import Prefactors, member_losses, member_rmse
from pesgen.training.schedule import ExponentialDecay, prefactor


def test_exponential_decay_reaches_stop_lr():
    lr = ExponentialDecay(1e-3, 1e-8, decay_steps=100, numb_steps=10000)
    assert lr(0) == 1e-3
    assert lr(99) == 1e-3 and lr(100) < 1e-3
    assert lr(10000) == pytest.approx(1e-8, rel=1e-9)
    assert lr(5000) == pytest.approx(10 ** -5.5, rel=1e-9)


def test_prefactor_moves_from_start_to_limit():
    assert prefactor(1000, 1, 1e-3, 1e-3) == 1000
    assert prefactor(1000, 1, 0.0, 1e-3) == 1
    assert prefactor(0.02, 1, 5e-4, 1e-3) == pytest.approx(0.51)


def test_loss_terms():
    pred = {"energy": torch.tensor([[2.0, 0.0]]), "forces": torch.ones(1, 3, 3),
            "virial": torch.zeros(1, 2, 3, 3)}
    label = {"energy": torch.tensor([0.0, 0.0]), "forces": torch.zeros(3, 3), "virial": torch.ones(2, 3, 3),
             "has_virial": torch.tensor([True, False])}
    natoms = torch.tensor([2, 1])
    # energy: mean over frames of dE^2 / N = (4/2 + 0) / 2 = 1
    assert member_losses(pred, label, natoms, Prefactors(1, 0, 0)).item() == pytest.approx(1.0)
    assert member_losses(pred, label, natoms, Prefactors(0, 1, 0)).item() == pytest.approx(1.0)
    # virial only on frame 0: mean(1) / 2 atoms
    assert member_losses(pred, label, natoms, Prefactors(0, 0, 1)).item() == pytest.approx(0.5)
    rmse = member_rmse(pred, label, natoms)
    assert rmse["rmse_e"].item() == pytest.approx((0.5 * (1.0**2)) ** 0.5)
    assert rmse["rmse_v"].item() == pytest.approx(0.5)
