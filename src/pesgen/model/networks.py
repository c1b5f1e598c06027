"""Stacked multilayer perceptrons with DeePMD-kit's layer conventions.

``StackedMLP`` holds the weights of ``n_members`` independent networks of one architecture in
tensors with a leading member axis, so an ensemble is evaluated with batched matrix products.
A member's layer maps ``x -> y = act(x @ W + b)``, then (DeePMD's conventions):

* ``resnet_dt``: ``y = y * idt`` with a trainable "timestep" vector ``idt`` (initialised ~ N(0.1, 0.001)),
  on the layers that have a skip connection;
* residual: ``y = x + y`` when the widths are equal, ``y = [x, x] + y`` when the width doubles.

Initialisation follows DeePMD-kit: ``W ~ N(0, 1/sqrt(n_in + n_out))``, ``b ~ N(0, 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {"tanh": torch.tanh, "gelu": nn.functional.gelu, "relu": torch.relu,
               "softplus": nn.functional.softplus, "sigmoid": torch.sigmoid, "linear": lambda x: x}


class StackedLayer(nn.Module):
    """One dense layer of ``n_members`` networks."""

    def __init__(self, n_members: int, n_in: int, n_out: int, *, activation: str | None, resnet: bool,
                 resnet_dt: bool, generator: torch.Generator | None, dtype: torch.dtype) -> None:
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.activation = activation
        self.resnet = resnet and (n_out == n_in or n_out == 2 * n_in)
        w = torch.randn(n_members, n_in, n_out, generator=generator, dtype=torch.float64)
        b = torch.randn(n_members, n_out, generator=generator, dtype=torch.float64)
        self.weight = nn.Parameter((w / (n_in + n_out) ** 0.5).to(dtype))
        self.bias = nn.Parameter(b.to(dtype))
        if resnet_dt and self.resnet:  # DeePMD-kit: a timestep only where a skip connection exists
            idt = 0.1 + 0.001 * torch.randn(n_members, n_out, generator=generator, dtype=torch.float64)
            self.idt = nn.Parameter(idt.to(dtype))
        else:
            self.idt = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (n_members, n, n_in) -> (n_members, n, n_out)."""
        y = torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)
        if self.activation is not None:
            y = ACTIVATIONS[self.activation](y)
        if self.idt is not None:
            y = y * self.idt.unsqueeze(1)
        if self.resnet:
            if self.n_out == self.n_in:
                y = y + x
            else:  # width doubles: y + [x, x], without materialising the concatenation
                y = (y.view(*y.shape[:-1], 2, self.n_in) + x.unsqueeze(-2)).view(y.shape)
        return y


class StackedMLP(nn.Module):
    """``n_members`` networks ``n_in -> neurons... [-> n_out linear]``, evaluated together."""

    def __init__(self, n_members: int, n_in: int, neurons: Sequence[int], *, n_out: int | None = None,
                 activation: str = "tanh", resnet_dt: bool = False, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        layers = []
        width = n_in
        for n in neurons:
            layers.append(StackedLayer(n_members, width, n, activation=activation, resnet=True,
                                       resnet_dt=resnet_dt, generator=generator, dtype=dtype))
            width = n
        if n_out is not None:
            layers.append(StackedLayer(n_members, width, n_out, activation=None, resnet=False,
                                       resnet_dt=False, generator=generator, dtype=dtype))
            width = n_out
        self.layers = nn.ModuleList(layers)
        self.n_out = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x
