"""Helpers of the validation tests: a small Al Deep Potential with random weights whose statistics
and energy bias come from EMT frames (deterministic, non-trivial outputs), and fast settings."""

from __future__ import annotations

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT

import pesgen
from pesgen.validate.config import parse_config


def emt_al_frames(n: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = bulk("Al", "fcc", a=4.05 * rng.uniform(0.97, 1.03), cubic=True).repeat(2)
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        atoms.calc = EMT()
        atoms.get_potential_energy()
        frames.append(atoms)
    return frames


def random_al_model(seed: int = 0) -> pesgen.DeepPot:
    model = pesgen.DeepPot(type_map=["Al"], rcut=4.5, rcut_smth=1.0, seed=seed, neuron=[4, 8],
                           axis_neuron=2, fitting_neuron=[8, 8])
    model.compute_statistics(emt_al_frames(), auto_sel=True)
    return model


def fast_config(**overrides):
    """Small cells and loose tolerances: each property in about a second with EMT."""
    data = {"elements": ["Al"], "structures": ["fcc", "hcp", "bcc"],
            "relax": {"fmax": 2e-3, "steps": 200},
            "eos": {"points": 7, "v_min": 0.85, "v_max": 1.2},
            "defects": {"supercell": 2}, "stacking": {"layers": 6, "gsf_points": 3},
            "surfaces": {"miller_max": 1, "min_thickness": 6.0, "vacuum": 6.0},
            "phonons": {"supercell": 2, "path": "GXL", "npoints": 20},
            "liquid": {"supercell": 2, "melt_steps": 20, "equilibration_steps": 20, "production_steps": 40,
                       "sample_every": 5, "timestep": 2.0, "temperature": 1500.0},
            "alloys": {"elements": ["Al", "Cu"], "prototypes": ["L1_2-A3B", "B2-AB"], "min_atoms": 8},
            "melting": {"supercell": [2, 2, 4], "solid_steps": 10, "melt_steps": 10, "trial_steps": 40,
                        "bisections": 2, "enthalpy_steps": 40}}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_config(data, "test")
