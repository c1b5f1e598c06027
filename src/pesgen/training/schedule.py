"""Learning-rate decay and loss-prefactor schedule of DeePMD-kit."""

from __future__ import annotations

import math


class ExponentialDecay:
    """lr(step) = start_lr * r^floor(step / decay_steps), r = (stop_lr / start_lr)^(decay_steps / numb_steps)."""

    def __init__(self, start_lr: float, stop_lr: float, decay_steps: int, numb_steps: int) -> None:
        self.start_lr, self.stop_lr = start_lr, stop_lr
        self.decay_steps = max(1, min(decay_steps, numb_steps))
        self.rate = math.exp(math.log(stop_lr / start_lr) * self.decay_steps / max(numb_steps, 1))

    def __call__(self, step: int) -> float:
        return self.start_lr * self.rate ** (step // self.decay_steps)


def prefactor(start: float, limit: float, lr: float, start_lr: float) -> float:
    """p = limit (1 - lr/lr0) + start lr/lr0."""
    ratio = lr / start_lr
    return limit * (1.0 - ratio) + start * ratio
