"""A tiny run config (EMT aluminium) that the loop tests share: two short iterations; and a real
``pesgen run`` in a subprocess to kill with SIGKILL (the resume tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# EMT labels slowed to 0.25 s each, so that a kill can land in the middle of a label batch.
SLOW_EMT = 'kind = "fault-injection"\ndelay = 0.25\ninner = { kind = "emt" }'
CMD = [sys.executable, "-c", "import sys; from pesgen.cli import app; sys.exit(app())", "run", "--quiet"]

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


def start_run(config: Path, run: Path) -> subprocess.Popen:
    """``pesgen run --quiet CONFIG --dir RUN`` in its own session (so its workers can be killed too)."""
    return subprocess.Popen([*CMD, str(config), "--dir", str(run)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, text=True)


def kill_run(proc: subprocess.Popen) -> None:
    """SIGKILL the driver at whatever instant it is, then its orphaned label workers."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.2)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_for(proc: subprocess.Popen, condition, what: str, timeout: float = 240.0) -> None:
    """Poll ``condition`` every 50 ms; fail if the run ends first or after ``timeout`` s."""
    t0 = time.monotonic()
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"pesgen run ended before {what}:\n{proc.stdout.read()}")
        if time.monotonic() - t0 > timeout:
            kill_run(proc)
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
