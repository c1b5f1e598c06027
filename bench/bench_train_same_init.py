"""Diagnostic: pesgen's trainer started from DeePMD-kit's own initial weights.

Builds DeePMD-kit's se_e2_a models with seeds 0-3 exactly as ``bench_train.py`` configures them,
copies their initial weights into a pesgen ensemble (``load_deepmd_state_dict``), trains it with
pesgen on the same data, steps and schedule, and prints the validation force RMSE per member, to
compare with DeePMD-kit's own training from the same initial weights (``bench_train.py --seed 0``).
Run from the repository root: ``python bench/bench_train_same_init.py`` (needs DeePMD-kit).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import pesgen
from pesgen.model.deepmd_weights import load_deepmd_state_dict

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import deepmd_input, force_rmse, make_frames  # noqa: E402


def main(steps: int = 1000) -> None:
    from deepmd.pt.model.model import get_model

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    frames = make_frames(220, seed=0)
    train, valid = frames[:-20], frames[-20:]
    members = []
    for seed in range(4):
        params = deepmd_input([64], steps, 25, seed, Path("."), Path("."))["model"]
        member = pesgen.DeepPot(type_map=["Al"], rcut=6.0, seed=0, sel=[64])
        load_deepmd_state_dict(member.module, get_model(params).double().state_dict())
        members.append(member)
    settings = pesgen.TrainSettings(
        numb_steps=steps, n_members=4, batch_size=1, validation_fraction=0.0, disp_freq=steps, decay_steps=25,
        start_pref_v=0.0, limit_pref_v=0.0, seed=0, refresh_statistics=True)
    start = time.perf_counter()
    trained = pesgen.train(train, settings, init=pesgen.Ensemble(members))
    rmse = force_rmse(trained, valid)
    print(f"pesgen trainer from DeePMD-kit's initial weights (seeds 0-3), {steps} steps, "
          f"{time.perf_counter() - start:.0f} s: val force RMSE per member "
          + " ".join(f"{r:.4f}" for r in rmse) + f", mean {np.mean(rmse):.4f} eV/Å")


if __name__ == "__main__":
    main()
