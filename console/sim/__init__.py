"""Simulated charge points: the runtime behind simulated chargers."""

from console.sim.charger import SimulatedCharger
from console.sim.manager import SimManager

__all__ = ["SimManager", "SimulatedCharger"]
