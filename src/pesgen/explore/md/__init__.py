"""Batched molecular dynamics for exploration: many walkers, one potential call per step.

Functional integrators (``init``/``step`` over an :class:`MDState`) for NVE (velocity Verlet),
NVT (Langevin BAOAB, Bussi stochastic rescaling, Nosé-Hoover chain) and NPT (stochastic cell
rescaling, isotropic or flexible); :class:`MDSampler` drives them and yields
:class:`FrameChunk` records (numpy columns + ``ase.Atoms`` on demand).
"""

from pesgen.explore.md.bussi import Bussi
from pesgen.explore.md.errors import MDError, MDInputError
from pesgen.explore.md.forces import ForceEvaluator
from pesgen.explore.md.frames import FrameChunk, StopEvent
from pesgen.explore.md.integrator import Integrator
from pesgen.explore.md.langevin import Langevin
from pesgen.explore.md.nose_hoover import NoseHooverChain, nhc_energy
from pesgen.explore.md.npt import StochasticCellRescaling
from pesgen.explore.md.nve import NVE
from pesgen.explore.md.sampler import MDSampler
from pesgen.explore.md.state import MDState, init_state
from pesgen.explore.md.stops import STOP_REASONS, StopCriteria, check_walkers

__all__ = ["NVE", "Bussi", "FrameChunk", "ForceEvaluator", "Integrator", "Langevin", "MDError", "MDInputError",
           "MDSampler", "MDState", "NoseHooverChain", "STOP_REASONS", "StochasticCellRescaling", "StopCriteria",
           "StopEvent", "check_walkers", "init_state", "nhc_energy"]
