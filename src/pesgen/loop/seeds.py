"""Random seeds of the loop's steps, derived from (run seed, iteration, step).

A restarted step gets the same seed as its first attempt, so it reproduces the same ensemble,
trajectories and selection.
"""

from __future__ import annotations

import hashlib


def step_seed(run_seed: int, iteration: int, step: str) -> int:
    """A 31-bit seed from the run seed, the iteration (-1 for the initial data) and the step name."""
    digest = hashlib.sha256(f"pesgen|{int(run_seed)}|{int(iteration)}|{step}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
