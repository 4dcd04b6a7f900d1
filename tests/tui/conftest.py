"""Fixtures of the UI tests: the fixed fleet (tui_fleet.py) over the real console service.

Snapshot tests are plain `def` tests whose app runs on its own event loop, so
their service is built and driven synchronously (`snapshot_service`); pilot
tests use the shared async `service` fixture (`live_service`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from tui_fleet import FakeRuntime, drive, load_fleet

from console.core.clock import ManualClock
from console.core.service import ConsoleService
from console.core.store import Store


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
async def live_service(service: ConsoleService, clock: ManualClock, runtime: FakeRuntime) -> ConsoleService:
    load_fleet(service)
    await drive(service, clock)
    service.attach(runtime=runtime)
    return service


@pytest.fixture
def snapshot_service(store: Store, clock: ManualClock) -> Iterator[ConsoleService]:
    service = ConsoleService(store, clock=clock)
    service.store.run_sync(service.fleet.ensure_org)
    load_fleet(service)
    asyncio.run(drive(service, clock))
    yield service


