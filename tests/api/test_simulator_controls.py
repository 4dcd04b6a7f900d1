"""Lab controls on a simulated charger, end to end: the HTTP backend, the API, the core, the simulator, the central system."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from console.api.client import RemoteBackend
from console.api.server import ApiServer
from console.core.errors import NotFound, Unavailable
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.manager import SimManager


@pytest.fixture
async def lab(service: ConsoleService, clock) -> AsyncIterator[tuple[RemoteBackend, str, str]]:  # type: ignore[no-untyped-def]
    central = CentralSystem(service, port=0)
    await central.start()
    manager = SimManager(service.live, clock, central.url, seed=1, auto_sessions=False)
    service.attach(runtime=manager)
    simulated = await service.create_charger({"identity": "LAB-1", "simulated": True, "number_of_connectors": 1})
    real = await service.create_charger({"identity": "REAL-1"})
    await service.start_charger(simulated.id)
    _, key = await service.create_api_key("default")
    api = ApiServer(service, port=0, environment="test")
    await api.start()
    backend = RemoteBackend(api.url, key)
    await backend.connect()
    try:
        await until(lambda: manager.state(simulated.id)[0] == "online")
        yield backend, simulated.id, real.id
    finally:
        await backend.aclose()
        await api.stop()
        await manager.close()
        await central.stop()


async def until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        while True:
            outcome = condition()
            if asyncio.iscoroutine(outcome):
                outcome = await outcome
            if outcome:
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def connector_status(backend: RemoteBackend, charger_id: str) -> str:
    view = await backend.get_charger(charger_id)
    return next(connector.status for connector in view.connectors if connector.connector_id == 1)


async def test_plug_in_tag_fault_and_drop_through_the_api(lab: tuple[RemoteBackend, str, str], clock) -> None:  # type: ignore[no-untyped-def]
    backend, charger_id, _ = lab
    assert "plugged" in (await backend.plug_in(charger_id, 1, soc=40, battery_kwh=60)).lower()
    await until(lambda: _is(backend, charger_id, "Preparing"))
    await backend.present_id_tag(charger_id, 1, "TAG-7")
    await until(lambda: _is(backend, charger_id, "Charging"))
    await backend.inject_fault(charger_id, 1, "GroundFailure")
    await until(lambda: _is(backend, charger_id, "Faulted"))
    view = await backend.get_charger(charger_id)
    assert next(c.error_code for c in view.connectors if c.connector_id == 1) == "GroundFailure"
    await backend.clear_fault(charger_id, 1)
    await until(lambda: _not(backend, charger_id, "Faulted"))
    await backend.drop_connection(charger_id)
    await until(lambda: _offline(backend, charger_id))
    # The runtime reconnects by itself after its backoff (simulated time).
    await until(lambda: _online_after(backend, charger_id, clock))


async def test_controls_are_refused_clearly(lab: tuple[RemoteBackend, str, str]) -> None:
    backend, _, real_id = lab
    with pytest.raises(Unavailable, match="real charger"):
        await backend.plug_in(real_id, 1)
    with pytest.raises(NotFound):
        await backend.unplug("dep-nope", 1)


async def _is(backend: RemoteBackend, charger_id: str, status: str) -> bool:
    return await connector_status(backend, charger_id) == status


async def _not(backend: RemoteBackend, charger_id: str, status: str) -> bool:
    return await connector_status(backend, charger_id) != status


async def _offline(backend: RemoteBackend, charger_id: str) -> bool:
    return not (await backend.get_charger(charger_id)).is_connected


async def _online(backend: RemoteBackend, charger_id: str) -> bool:
    return (await backend.get_charger(charger_id)).is_connected


async def _online_after(backend: RemoteBackend, charger_id: str, clock) -> bool:  # type: ignore[no-untyped-def]
    clock.advance(1)
    return await _online(backend, charger_id)


async def test_a_whole_location_stops_and_starts(service: ConsoleService, lab: tuple[RemoteBackend, str, str]) -> None:
    backend, charger_id, _ = lab
    location = await service.store.run(lambda session: _add_location(service, session))
    await service.update_charger(charger_id, {"location_id": location})
    stopped = await backend.location_runtime(location, "stop")
    assert stopped == ["LAB-1 stopped"]
    await until(lambda: _offline(backend, charger_id))
    assert await backend.location_runtime(location, "start") == ["LAB-1 started"]
    await until(lambda: _online(backend, charger_id))
    with pytest.raises(NotFound):
        await backend.location_runtime("nowhere", "start")


def _add_location(service: ConsoleService, session) -> str:  # type: ignore[no-untyped-def]
    from console.core.models import Location

    org = service.fleet.ensure_org(session)
    location = Location(organization_id=org.id, name="Lab", created_at=service.clock.now(), updated_at=service.clock.now())
    session.add(location)
    session.commit()
    service.live.locations_changed(service.fleet.locations(session))
    return location.id
