"""The config models of the MD integrators of :mod:`pesgen.explore.md` (``[exploration]
thermostat`` and ``barostat``), joined by ``kind``; each ``build`` makes its integrator. Apart from
the integrators so that reading a config never imports torch."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pesgen.schema import StrictModel


class LangevinSettings(StrictModel):
    """``thermostat = {kind = "langevin", friction = ...}``: :class:`~pesgen.explore.md.Langevin` (BAOAB)."""

    kind: Literal["langevin"] = "langevin"
    friction: float = Field(0.01, ge=0, description="γ, 1/fs")

    def build(self, timestep: float):
        from pesgen.explore.md.langevin import Langevin

        return Langevin(timestep=timestep, friction=self.friction)


class BussiSettings(StrictModel):
    """``thermostat = {kind = "bussi", tau = ...}``: velocity rescaling, :class:`~pesgen.explore.md.Bussi`."""

    kind: Literal["bussi"] = "bussi"
    tau: float = Field(100.0, gt=0, description="thermostat time, fs")

    def build(self, timestep: float):
        from pesgen.explore.md.bussi import Bussi

        return Bussi(timestep=timestep, tau=self.tau)


class NoseHooverSettings(StrictModel):
    """``thermostat = {kind = "nose-hoover", tau = ..., chain = ...}``: :class:`~pesgen.explore.md.NoseHooverChain`."""

    kind: Literal["nose-hoover"] = "nose-hoover"
    tau: float = Field(100.0, gt=0, description="thermostat time, fs")
    chain: int = Field(3, ge=1, description="chain length")
    n_sy: Literal[1, 3] = Field(3, description="Suzuki-Yoshida weights per half step")

    def build(self, timestep: float):
        from pesgen.explore.md.nose_hoover import NoseHooverChain

        return NoseHooverChain(timestep=timestep, tau=self.tau, chain=self.chain, n_sy=self.n_sy)


#: ``[exploration] thermostat``, chosen by ``kind`` (NVT; NPT particles take the Langevin friction).
ThermostatConfig = Annotated[LangevinSettings | BussiSettings | NoseHooverSettings, Field(discriminator="kind")]


class CellRescalingSettings(StrictModel):
    """``barostat = {kind = "cell-rescaling", ...}``: :class:`~pesgen.explore.md.StochasticCellRescaling`
    (NPT), whose particles follow BAOAB Langevin dynamics with the thermostat's friction."""

    kind: Literal["cell-rescaling"] = "cell-rescaling"
    tau_p: float = Field(1000.0, gt=0, description="fs")
    compressibility: float = Field(1e-6, gt=0, description="1/bar")
    flexible: bool = False

    def build(self, timestep: float, thermostat: LangevinSettings):
        from pesgen.explore.md.npt import StochasticCellRescaling

        return StochasticCellRescaling(timestep=timestep, friction=thermostat.friction, tau_p=self.tau_p,
                                       compressibility=self.compressibility, flexible=self.flexible)
