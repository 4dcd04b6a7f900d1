"""Helpers for simulator tests: real network, manual clock."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from console.core.clock import ManualClock
from console.core.service import ConsoleService
from console.sim.manager import SimManager


async def eventually(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait in real time (the network is real) until `condition` holds; it may be async."""

    async def poll() -> None:
        while True:
            outcome = condition()
            if isinstance(outcome, Awaitable):
                outcome = await outcome
            if outcome:
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def settle(manager: SimManager) -> None:
    """Let woken tasks run until no simulated charger awaits an answer."""
    for _ in range(3):
        await asyncio.sleep(0.002)
        await eventually(manager.idle)


async def run_clock(clock: ManualClock, manager: SimManager, seconds: float, step: float = 1.0) -> None:
    """Advance simulated time step by step, letting the real network settle after each step."""
    remaining = seconds
    while remaining > 0:
        delta = min(step, remaining)
        clock.advance(delta)
        remaining -= delta
        await settle(manager)


async def online_charger(
    service: ConsoleService,
    manager: SimManager,
    connectors: int = 2,
    identity: str = "CP-1",
    version: str = "OCPP1.6",
    max_power: int = 22000,
) -> str:
    view = await service.create_charger(
        {
            "identity": identity,
            "simulated": True,
            "max_charging_power": max_power,
            "number_of_connectors": connectors,
            "ocpp_version": version,
        }
    )
    await service.start_charger(view.id)
    await eventually(lambda: manager.state(view.id)[0] == "online")
    await settle(manager)
    return view.id


async def rows(service: ConsoleService, query: Any) -> list[Any]:
    await service.writer.flush()
    return list(await service.store.run(lambda session: session.exec(query).all()))


async def status_of(service: ConsoleService, charger_id: str, connector_id: int) -> str:
    view = await service.get_charger(charger_id)
    return next(c.status for c in view.connectors if c.connector_id == connector_id)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
