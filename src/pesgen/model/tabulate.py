"""Model compression: every embedding net tabulated as a piecewise quintic of its input s^.

The embedding nets of se_e2_a take one number, the normalised s^ = (s(r) - davg) / dstd, so each
of their M1 outputs is a function of one variable and can be replaced by a table (the scheme of
DeePMD-kit's ``dp compress``; Lu et al., J. Chem. Theory Comput. 18, 5559 (2022)). pesgen's own
implementation:

* **Grid.** s = w(r)/r lies in [0, 1/r_min] for neighbours no closer than ``min_distance`` r_min
  (Å). Over all members and species pairs a net serves, that is s^ in [lo, hi]; the fine grid
  covers it with ``step`` (in s^); a coarse grid with 10 x ``step`` carries on up to the s^ of
  s = ``extrapolate`` / r_min (neighbours down to r_min / extrapolate).
* **Pieces.** On each interval [x_k, x_k + Δ] the quintic matches G, G' and G'' of the net at both
  ends (quintic Hermite, the same coefficients as DeePMD-kit's), so the table and its first and
  second derivatives are continuous everywhere; the nets' derivatives come from forward-mode
  autodiff in float64.
* **Beyond the grid** (below lo, which real neighbours never reach, and beyond the coarse grid) the
  table continues as the second-order Taylor polynomial of the net at the end knot: still C2,
  finite and smooth, but no longer close to the net far out — graceful, not accurate.
* **Evaluation.** One weighted gather-sum (``embedding_bag``, weights t^p over the six rows of
  a piece) gives G and G' of every neighbour slot together; :class:`TabulatedContraction` forms
  T = R^ᵀ G of one (centre, neighbour-species) block and has an analytic backward (dT/dR^ = G,
  dT/ds^ = R^ᵀ G'), so no autograd graph of the polynomial is kept and forces remain -dE/dx
  of the tabulated energy. G is formed per block of a cache-sized chunk of centres; the fully
  fused form T = Σ_j Σ_p (R^_j t_j^p) a_p (no G at all) needs four times the gathers (one per
  row component of R^) and does not pay in eager PyTorch on a CPU. First-order only: training
  always uses the exact nets.

Layout of a table (one per embedding net, all on one grid): ``coef`` (6, M, K + 2, M1) with the
power k = 0..5 first; entry 0 is the Taylor piece below lo, entries 1..K the intervals, K + 1 the
Taylor piece beyond the coarse grid; ``origin`` (K + 2,) is where each piece's local variable is 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from pesgen.model.networks import ACTIVATIONS

#: closest approach assumed when neither the caller nor the model's statistics give one (Å)
DEFAULT_MIN_DISTANCE = 1.0


@dataclass(frozen=True)
class Compression:
    """Settings of a compressed model; s^ grid step, extrapolation factor, r_min (Å)."""

    step: float = 0.01
    extrapolate: float = 5.0
    min_distance: float = DEFAULT_MIN_DISTANCE

    def __post_init__(self) -> None:
        if not self.step > 0:
            raise ValueError(f"compression step must be > 0, got {self.step}")
        if not self.extrapolate >= 1:
            raise ValueError(f"compression extrapolate must be >= 1, got {self.extrapolate}")
        if not self.min_distance > 0:
            raise ValueError(f"compression min_distance must be > 0 Å, got {self.min_distance}")

    def to_dict(self) -> dict:
        return asdict(self)


def hermite_quintic(y0, d0, c0, y1, d1, c1, delta):
    """Coefficients (a0..a5) of p(t) = Σ a_k t^k on [0, Δ] with p, p', p'' = (y, d, c) at both ends."""
    h = y1 - y0
    return (y0, d0, c0 / 2,
            (20 * h - (8 * d1 + 12 * d0) * delta - (3 * c0 - c1) * delta**2) / (2 * delta**3),
            (-30 * h + (14 * d1 + 16 * d0) * delta + (3 * c0 - 2 * c1) * delta**2) / (2 * delta**4),
            (12 * h - 6 * (d1 + d0) * delta - (c0 - c1) * delta**2) / (2 * delta**5))


class EmbeddingTables(nn.Module):
    """Quintic tables of the embedding nets of a :class:`~pesgen.model.descriptor.DescriptorSeA`."""

    def __init__(self, settings: Compression, grid: dict, coef: torch.Tensor) -> None:
        super().__init__()
        self.settings = settings
        self.lo, self.step = float(grid["lo"]), float(grid["step"])
        self.n_fine, self.n_coarse = int(grid["n_fine"]), int(grid["n_coarse"])
        self.hi = self.lo + self.n_fine * self.step
        knots = _knots(grid)
        if coef.dim() != 5 or coef.shape[1] != 6 or coef.shape[3] != knots.numel() + 1:
            raise ValueError(f"table coefficients of shape {tuple(coef.shape)} do not match the grid {grid}")
        self.register_buffer("origin", torch.cat([knots[:1], knots]))  # pieces 0 and 1..K start at x_{k-1}
        self.register_buffer("coef", coef)                               # (n_nets, 6, M, K + 2, M1)
        self.register_buffer("packed", self._pack(coef), persistent=False)

    @classmethod
    def build(cls, descriptor, settings: Compression) -> EmbeddingTables:
        """Tabulate every embedding net of ``descriptor`` (its weights and statistics as they are)."""
        lo, hi, top = cls._range(descriptor, settings)
        n_fine = max(1, math.ceil((hi - lo) / settings.step))
        n_coarse = max(0, math.ceil((top - (lo + n_fine * settings.step)) / (10.0 * settings.step)))
        grid = {"lo": lo, "step": settings.step, "n_fine": n_fine, "n_coarse": n_coarse}
        knots = _knots(grid)
        coef = torch.stack([cls._tabulate(net, knots) for net in descriptor.embeddings])
        return cls(settings, grid, coef.to(descriptor.davg.dtype)).to(descriptor.davg.device)

    @property
    def grid(self) -> dict:
        return {"lo": self.lo, "step": self.step, "n_fine": self.n_fine, "n_coarse": self.n_coarse}

    @staticmethod
    def _range(descriptor, settings: Compression) -> tuple[float, float, float]:
        """lo, hi (fine grid) and top (end of the coarse grid) in s^ over every member and pair."""
        davg = descriptor.davg[..., 0].detach().double()
        dstd = descriptor.dstd[..., 0].detach().double()
        s_max = 1.0 / settings.min_distance
        lo = float(((0.0 - davg) / dstd).min())
        hi = float(((s_max - davg) / dstd).max())
        top = float(((settings.extrapolate * s_max - davg) / dstd).max())
        return lo, hi, top

    @staticmethod
    def _tabulate(net, knots: torch.Tensor) -> torch.Tensor:
        """(6, M, K + 2, M1) coefficients of ``net`` (a StackedMLP) on ``knots`` (K + 1,)."""
        n_members = net.layers[0].weight.shape[0]
        x = knots.to(net.layers[0].weight.device).reshape(1, -1, 1).expand(n_members, -1, 1)
        y, dy, ddy = _with_derivatives(net, x)
        delta = (x[:1, 1:] - x[:1, :-1])
        inner = hermite_quintic(y[:, :-1], dy[:, :-1], ddy[:, :-1], y[:, 1:], dy[:, 1:], ddy[:, 1:], delta)
        zeros = torch.zeros_like(y[:, :1])
        below = (y[:, :1], dy[:, :1], ddy[:, :1] / 2, zeros, zeros, zeros)
        beyond = (y[:, -1:], dy[:, -1:], ddy[:, -1:] / 2, zeros, zeros, zeros)
        return torch.stack([torch.cat([b, c, e], dim=1) for b, c, e in zip(below, inner, beyond, strict=True)])

    @staticmethod
    def _pack(coef: torch.Tensor) -> torch.Tensor:
        """Rows (m, piece, power p) of [a_p | (p + 1) a_{p+1}] per net: (n_nets, M (K + 2) 6, 2 M1), so that
        one weighted gather-sum over p with weights t^p gives G and G' together."""
        n_nets, n_powers, n_members, n_pieces, width = coef.shape
        powers = torch.arange(1, n_powers, dtype=coef.dtype, device=coef.device).view(1, -1, 1, 1, 1)
        deriv = torch.cat([coef[:, 1:] * powers, torch.zeros_like(coef[:, :1])], dim=1)
        packed = torch.cat([coef, deriv], dim=-1)                      # (n_nets, 6, M, K + 2, 2 M1)
        return packed.permute(0, 2, 3, 1, 4).reshape(n_nets, n_members * n_pieces * n_powers, 2 * width)

    def _apply(self, fn, recurse=True):  # .to(dtype/device) keeps the packed rows in step with coef
        super()._apply(fn, recurse)
        self.packed = self._pack(self.coef)
        return self

    def pieces(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Piece index (into K + 2) and local variable t = x - origin of inputs ``x`` (M, n)."""
        xd = x.detach()
        fine = torch.floor((xd - self.lo) / self.step)
        coarse = self.n_fine + torch.floor((xd - self.hi) / (10.0 * self.step))
        k = torch.where(xd < self.hi, fine, coarse) + 1
        k = k.clamp(0, self.n_fine + self.n_coarse + 1).to(torch.int64)
        t = xd - self.origin.to(x.dtype)[k]
        return k, t

    def contract(self, net: int, block: torch.Tensor) -> torch.Tensor:
        """T = R^ᵀ G(s^) of a dense block (M, n, width, 4) of normalised rows: (M, n, 4, M1)."""
        return TabulatedContraction.apply(block, self, net)

    def embed(self, net: int, x: torch.Tensor, derivative: bool = False) -> torch.Tensor:
        """G(x) (M, n, M1) of inputs ``x`` (M, n) from the table, without gradients; with
        ``derivative``, [G | dG/dx] (M, n, 2 M1)."""
        with torch.no_grad():
            n_members, n = x.shape
            n_pieces = self.origin.numel()
            k, t = self.pieces(x)
            rows = (k + n_pieces * torch.arange(n_members, device=k.device).unsqueeze(1)).reshape(-1, 1) * 6
            rows = rows + torch.arange(6, device=k.device)
            weights = t.reshape(-1, 1) ** torch.arange(6, device=t.device, dtype=t.dtype)
            table = self.packed[net]
            width = table.shape[1] // 2
            if not derivative:
                table = table[:, :width]
            out = nn.functional.embedding_bag(rows, table, per_sample_weights=weights.to(table.dtype), mode="sum")
            return out.view(n_members, n, -1)


def _knots(grid: dict) -> torch.Tensor:
    """The K + 1 knots: the fine grid from lo with ``step``, then the coarse one with 10 x ``step``."""
    lo, step, n_fine, n_coarse = float(grid["lo"]), float(grid["step"]), int(grid["n_fine"]), int(grid["n_coarse"])
    fine = lo + step * torch.arange(n_fine + 1, dtype=torch.float64)
    coarse = lo + n_fine * step + 10.0 * step * torch.arange(1, n_coarse + 1, dtype=torch.float64)
    return torch.cat([fine, coarse])


def _with_derivatives(net, x: torch.Tensor):
    """G, dG/dx and d2G/dx2 of a StackedMLP with one input at ``x`` (M, n, 1), in float64.

    Forward-mode through each layer y = act(x W + b) [* idt] [+ skip]: with z = x W + b,
    y' = act'(z) z' and y'' = act''(z) z'^2 + act'(z) z''; act' and act'' by elementwise autograd.
    """
    y, dy, ddy = x.double(), torch.ones_like(x, dtype=torch.float64), torch.zeros_like(x, dtype=torch.float64)
    for layer in net.layers:
        w, b = layer.weight.detach().double(), layer.bias.detach().double()
        z, dz, ddz = torch.baddbmm(b.unsqueeze(1), y, w), torch.bmm(dy, w), torch.bmm(ddy, w)
        if layer.activation is not None:
            with torch.enable_grad():
                zz = z.detach().requires_grad_(True)
                (d1,) = torch.autograd.grad(ACTIVATIONS[layer.activation](zz).sum(), zz, create_graph=True)
                (d2,) = torch.autograd.grad(d1.sum(), zz, allow_unused=True)
            a = ACTIVATIONS[layer.activation](z)
            d2 = torch.zeros_like(z) if d2 is None else d2
            z, dz, ddz = a, d1.detach() * dz, d2 * dz * dz + d1.detach() * ddz
        if layer.idt is not None:
            idt = layer.idt.detach().double().unsqueeze(1)
            z, dz, ddz = z * idt, dz * idt, ddz * idt
        if layer.resnet:
            if layer.n_out == layer.n_in:
                z, dz, ddz = z + y, dz + dy, ddz + ddy
            else:
                z, dz, ddz = (z + torch.cat([y, y], -1), dz + torch.cat([dy, dy], -1),
                              ddz + torch.cat([ddy, ddy], -1))
        y, dy, ddy = z, dz, ddz
    return y, dy, ddy


class TabulatedContraction(torch.autograd.Function):
    """T = R^ᵀ G(R^_0) for a dense block of rows, G from the table, with an analytic backward."""

    @staticmethod
    def forward(ctx, block: torch.Tensor, tables: EmbeddingTables, net: int) -> torch.Tensor:
        n_members, n, width, _ = block.shape
        need_grad = ctx.needs_input_grad[0]
        g = tables.embed(net, block[..., 0].reshape(n_members, n * width), derivative=need_grad)
        g = g.view(n_members, n, width, -1)
        m1 = tables.coef.shape[-1]
        if need_grad:
            ctx.save_for_backward(block, g)
        return torch.matmul(block.transpose(-1, -2), g[..., :m1])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_t: torch.Tensor):
        block, g = ctx.saved_tensors
        m1 = grad_t.shape[-1]
        grad_block = torch.matmul(g[..., :m1], grad_t.transpose(-1, -2))      # dT/dR^ = G
        through_g = torch.matmul(g[..., m1:], grad_t.transpose(-1, -2))       # G' . dL/dT, (M, n, width, 4)
        grad_block[..., 0] += (through_g * block).sum(-1)                      # d/ds^ through G(s^)
        return grad_block, None, None
