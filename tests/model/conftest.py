"""Fixtures of the model tests (helpers in model_testkit.py)."""

from __future__ import annotations

import pytest
from ase import Atoms
from model_testkit import emt_frames, make_model

import pesgen


@pytest.fixture(scope="session")
def frames() -> list[Atoms]:
    return emt_frames()


@pytest.fixture(scope="session")
def model(frames) -> pesgen.DeepPot:
    return make_model(frames)


@pytest.fixture(scope="session")
def ensemble(frames) -> pesgen.Ensemble:
    return pesgen.Ensemble([make_model(frames, seed=s) for s in range(4)])
