"""A tiny run config (EMT aluminium) that the loop tests share: two short iterations."""

from __future__ import annotations

from pathlib import Path

TINY = """
name = "tiny"
seed = 3
elements = ["Al"]
max_iterations = 2

[initial.structures]
seed = 2
crystals = [{ element = "Al", lattices = ["fcc"], size = [2, 2, 2] },
            { element = "Al", lattices = ["sc"], size = [2, 2, 2] }]
scale = { alpha_min = 0.97, alpha_max = 1.03, n = 2 }
perturb = { n = 2, sigma_a = 0.02, sigma_c = 0.02 }

[train]
n_members = 2
numb_steps = {numb_steps}
start_lr = 0.005
stop_lr = 1e-4
disp_freq = 50

[train.model]
rcut = 4.5
rcut_smth = 1.0
neuron = [4, 8]
axis_neuron = 2
fitting_neuron = [16, 16]

[warm_start]
numb_steps = {warm_steps}

[exploration]
n_steps = {md_steps}
record_every = 5
walkers_per_system = 1
timestep = 2.0

[[exploration.stages]]
temperatures = [600.0]

[selection]
f_lo = 0.02
f_hi = 0.8
max_per_system = 3
strategy = "diverse"

[convergence]
accurate_ratio = 0.999
max_iterations_per_stage = 5

[label]
{label}

[executor]
kind = "local"
max_workers = 2
"""


def write_tiny(folder: Path, numb_steps: int = 120, warm_steps: int = 60, md_steps: int = 40,
               label: str = 'kind = "emt"', name: str = "config.toml") -> Path:
    """Write the tiny config into ``folder`` and return its path."""
    path = Path(folder) / name
    path.write_text(TINY.replace("{numb_steps}", str(numb_steps)).replace("{warm_steps}", str(warm_steps))
                    .replace("{md_steps}", str(md_steps)).replace("{label}", label))
    return path
