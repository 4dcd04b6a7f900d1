"""Simulated chargers against the real central system over loopback, on a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from console.core.clock import ManualClock
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.manager import SimManager


@pytest.fixture
async def central_system(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, heartbeat_interval=60, call_timeout=5)
    await central.start()
    yield central
    await central.stop()


@pytest.fixture
async def manager(
    service: ConsoleService, clock: ManualClock, central_system: CentralSystem
) -> AsyncIterator[SimManager]:
    manager = SimManager(service.live, clock, central_system.url, seed=7, auto_sessions=False)
    service.attach(runtime=manager)
    yield manager
    await manager.close()
