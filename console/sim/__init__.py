"""Simulated charge points: the runtime behind simulated chargers, OCPP 1.6J and 2.0.1."""

from console.sim.charger import SessionPlan, SimulatedCharger
from console.sim.manager import SimManager
from console.sim.report import FleetReporter, RuntimeReporter
from console.sim.v16 import Charger16
from console.sim.v201 import Charger201

__all__ = [
    "Charger16",
    "Charger201",
    "FleetReporter",
    "RuntimeReporter",
    "SessionPlan",
    "SimManager",
    "SimulatedCharger",
]
