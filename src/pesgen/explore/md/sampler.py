"""The batched MD sampler: many walkers advanced together, recorded in chunks.

One potential call per step serves all running walkers; its mean force drives the dynamics and
every recorded frame carries the potential's deviations. Walkers that explode stop alone (their
reason is recorded, the frame where they stopped too when it is finite) and are removed from the
batch; the others go on.

Example::

    sampler = MDSampler(ensemble, Langevin(timestep=2.0, friction=0.01), record_every=10)
    for chunk in sampler.run(structures, n_steps=1000, temperature=[300, 600, 900]):
        writer.append(chunk.columns, chunk.frames)
    sampler.stop_events  # [StopEvent(walker=2, system=..., step=734, reason="deviation")]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_numbers

from pesgen.explore.md.errors import MDInputError
from pesgen.explore.md.forces import ForceEvaluator
from pesgen.explore.md.frames import FrameChunk, StopEvent
from pesgen.explore.md.integrator import Integrator
from pesgen.explore.md.observables import kinetic_energy, pressure, temperature, to_bar, volume
from pesgen.explore.md.state import MDState, init_state
from pesgen.explore.md.stops import RUNNING, STOP_REASONS, StopCriteria, check_walkers
from pesgen.model.contract import Potential


def _system_name(atoms: Atoms, k: int) -> str:
    name = atoms.info.get("system")
    return str(name) if name else f"{atoms.get_chemical_formula()}#{k}"


class MDSampler:
    """Runs an integrator over many walkers and records frames.

    Args:
        potential: a :class:`~pesgen.model.contract.Potential` (``virial`` needed for NPT; its
            other per-frame outputs, such as an ensemble's deviations, are recorded).
        integrator: :class:`NVE`, :class:`Langevin`, :class:`Bussi`, :class:`NoseHooverChain` or
            :class:`StochasticCellRescaling` (anything with the ``Integrator`` contract).
        record_every: record every this many steps (step 0 is recorded).
        chunk_records: recorded steps per yielded chunk.
        stop: when a walker stops.
        check_every: run the stop checks every this many steps (default every step).
        skin: Verlet skin, Å (0: the potential builds its own list each call).
        seed: seeds the initial velocities and the thermostat/barostat noise.
        dtype: float dtype of the dynamics (float32 by default). device: torch device.
        max_atoms_per_call: split the potential call into groups of walkers of at most this many
            atoms (None: one call for all; see :class:`ForceEvaluator`).
    """

    def __init__(self, potential: Potential, integrator: Integrator, *, record_every: int = 10,
                 chunk_records: int = 100, stop: StopCriteria | None = None, check_every: int = 1, skin: float = 1.0,
                 seed: int = 0, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
                 max_atoms_per_call: int | None = None) -> None:
        if record_every < 1 or chunk_records < 1 or check_every < 1:
            raise MDInputError(f"record_every, chunk_records and check_every must be >= 1, got {record_every}, "
                               f"{chunk_records}, {check_every}")
        self.compute = ForceEvaluator(potential, skin=skin, need_virial=integrator.needs_pressure,
                                      max_atoms_per_call=max_atoms_per_call)
        self.potential = potential
        self.integrator = integrator
        self.record_every = int(record_every)
        self.chunk_records = int(chunk_records)
        self.stop = stop or StopCriteria()
        self.check_every = int(check_every)
        self.seed = int(seed)
        self.dtype = dtype
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(self.seed)
        self.type_numbers = np.array([atomic_numbers[s] for s in potential.type_map], dtype=np.int64)
        self.systems: list[str] = []
        self.stop_events: list[StopEvent] = []
        self.state: MDState | None = None

    def init(self, structures: Sequence[Atoms], temperature, pressure=None, velocities="maxwell") -> MDState:
        """The initial state of ``structures`` (forces evaluated); see :func:`init_state`."""
        if self.integrator.needs_pressure and pressure is None:
            raise MDInputError(f"{type(self.integrator).__name__} needs pressure targets (bar)")
        state = init_state(structures, self.potential.type_map, temperature, pressure, velocities, self.seed,
                           self.dtype, self.device)
        self.systems = [_system_name(a, k) for k, a in enumerate(structures)]
        self.stop_events = []
        state = replace(state, extras={**state.extras, "volume0": volume(state.batch.cell)})
        state = self.integrator.init(state, self.generator)
        return self.compute(state)

    def run(self, structures: Sequence[Atoms] | MDState, n_steps: int, temperature=None, pressure=None,
            velocities: str = "maxwell") -> Iterator[FrameChunk]:
        """Advance all walkers ``n_steps`` steps, yielding recorded frames in chunks.

        ``structures`` may be a state from :meth:`init` or from a previous run (``self.state``) to
        continue it. ``temperature`` (K) and ``pressure`` (bar): scalars or one per walker.
        """
        if isinstance(structures, MDState):
            state = structures
        else:
            if temperature is None:
                raise MDInputError("run: a temperature target (K) is needed")
            state = self.init(structures, temperature, pressure, velocities)
        if n_steps < 0:
            raise MDInputError(f"n_steps must be >= 0, got {n_steps}")
        pending: list[FrameChunk] = []
        events: list[StopEvent] = []
        n_recorded = 0
        if state.step == 0:  # a continued run does not record its starting frame again
            pending.append(self.snapshot(state))
            n_recorded += 1
        for _ in range(n_steps):
            if state.n_walkers == 0:
                break
            state = self.integrator.step(state, self.compute, self.generator)
            self.state = state
            if state.step % self.check_every == 0:
                code = check_walkers(state, self.stop)
                stopped = code != RUNNING
                if bool(stopped.any()):
                    finite = stopped & (code != 1)
                    if bool(finite.any()):
                        pending.append(self.snapshot(state, code, finite))
                    for w, c in zip(state.walker[stopped].tolist(), code[stopped].tolist(), strict=True):
                        events.append(StopEvent(w, self.systems[w], state.step, STOP_REASONS[c]))
                    state = state.select(~stopped)
                    self.state = state
            if state.step % self.record_every == 0 and state.n_walkers:
                pending.append(self.snapshot(state))
                n_recorded += 1
                if n_recorded >= self.chunk_records:
                    chunk = FrameChunk.concat(pending)
                    chunk.stop_events = events
                    self.stop_events.extend(events)
                    yield chunk
                    pending, events, n_recorded = [], [], 0
        self.state = state
        if pending or events:
            chunk = FrameChunk.concat(pending)
            chunk.stop_events = events
            self.stop_events.extend(events)
            yield chunk

    def sample(self, *args, **kwargs) -> FrameChunk:
        """:meth:`run` with all chunks concatenated."""
        return FrameChunk.concat(list(self.run(*args, **kwargs)))

    def snapshot(self, state: MDState, code: torch.Tensor | None = None,
                 rows: torch.Tensor | None = None) -> FrameChunk:
        """The current frames of the walkers where ``rows`` (F,) is true (all if None)."""
        if rows is not None:
            state = state.select(rows)
            code = code[rows]
        f = state.n_walkers
        kin = kinetic_energy(state.velocities, state.masses, state.batch.frame, f)
        vol = volume(state.batch.cell)
        periodic = state.batch.pbc.all(-1)
        press = torch.where(periodic, to_bar(pressure(state.virial, kin, vol)), float("nan"))
        from ase import units

        def np_(t: torch.Tensor) -> np.ndarray:
            return t.detach().to("cpu").numpy()

        natoms = np_(state.batch.natoms)
        walker = np_(state.walker)
        columns = {
            "walker": walker.astype(np.int64),
            "system": np.array([self.systems[w] for w in walker.tolist()], dtype=str),
            "step": np.full(f, state.step, dtype=np.int64),
            "time": np.full(f, state.step * float(self.integrator.timestep)),
            "temperature_target": np_(state.temperature).astype(np.float64),
            "temperature": np_(temperature(kin, state.dof)).astype(np.float64),
            "pressure_target": np_(state.pressure).astype(np.float64),
            "pressure": np_(press).astype(np.float64),
            "energy": np_(state.energy).astype(np.float64),
            "volume": np_(torch.where(periodic, vol, float("nan"))).astype(np.float64),
            "natoms": natoms.astype(np.int64),
            "stop_code": (np.zeros(f, dtype=np.int64) if code is None else np_(code).astype(np.int64)),
        }
        for k, v in state.outputs.items():
            columns[k] = np_(v).astype(np.float64)
        return FrameChunk(columns=columns, numbers=self.type_numbers[np_(state.batch.species)],
                          positions=np_(state.batch.positions).astype(np.float64),
                          velocities=np_(state.velocities * units.fs).astype(np.float64),
                          cells=np_(state.batch.cell).astype(np.float64), pbc=np_(state.batch.pbc).astype(bool),
                          offsets=np.concatenate([[0], np.cumsum(natoms)]).astype(np.int64))
