"""Config schema, run directory, the iteration state machine, convergence.

``pesgen run CONFIG`` (:func:`pesgen.loop.runner.run_loop`) runs the DP-GEN loop; see docs/loop.md.
"""

import os

# Idle OpenMP threads sleep instead of spinning (takes effect if torch is not loaded yet; the
# `pesgen` command sets it first thing). Spinning made batched MD 30x slower on a shared machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
