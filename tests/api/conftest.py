"""A live headless API: uvicorn on a free port in the test's loop, over the real console service.

Two organizations: `default` (the depot, with an owner on one charger) and `acme`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from apitools import Api, FakeRuntime, load

from console.api.server import ApiServer
from console.core.clock import ManualClock
from console.core.service import ConsoleService


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
async def api(service: ConsoleService, clock: ManualClock, runtime: FakeRuntime) -> AsyncIterator[Api]:
    load(service)
    service.attach(runtime=runtime)
    _, key = await service.create_api_key("default")
    _, acme_key = await service.create_api_key("acme")
    server = ApiServer(service, port=0, environment="test", heartbeat_s=0.2)
    await server.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        yield Api(server, service, clock, server.url, key, acme_key, client)
    await server.stop()
