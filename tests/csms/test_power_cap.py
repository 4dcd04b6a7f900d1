"""The depot power cap: equal shares under a location's cap, never exceeded, re-balanced as sessions come and go."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from sqlmodel import select

from console.core.models import Action, Location
from console.core.powercap import share
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import charge_point, eventually

CAP_KW = 30.0


def test_shares_are_equal_and_bounded() -> None:
    assert share(30_000, {"a": 22_000, "b": 22_000, "c": 22_000}) == {"a": 10_000, "b": 10_000, "c": 10_000}
    assert share(30_000, {"a": 7_400, "b": 22_000, "c": 22_000}) == {"a": 7_400, "b": 11_300, "c": 11_300}
    assert share(100_000, {"a": 7_400, "b": 11_000}) == {"a": 7_400, "b": 11_000}
    assert sum(share(10_000, {"a": 22_000, "b": 22_000, "c": 22_000}).values()) <= 10_000


class Ledger:
    """Every limit change as the chargers saw it, in order, to check the sum at each moment."""

    def __init__(self) -> None:
        self.limits: dict[str, float] = {}
        self.worst_sum = 0.0

    def set(self, identity: str, watts: float) -> None:
        self.limits[identity] = watts
        self.worst_sum = max(self.worst_sum, sum(self.limits.values()))


class CappedCharger(ChargePoint):
    ledger: Ledger
    limit_w: float = 22_000.0
    transaction_id: int | None = None

    @on("SetChargingProfile")
    async def on_set_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> call_result.SetChargingProfile:
        if cs_charging_profiles["charging_profile_purpose"] == "TxProfile":
            return call_result.SetChargingProfile(status="Accepted")  # the command's own limit
        assert cs_charging_profiles["charging_profile_purpose"] == "ChargePointMaxProfile" and connector_id == 0
        self.limit_w = float(cs_charging_profiles["charging_schedule"]["charging_schedule_period"][0]["limit"])
        self.ledger.set(self.id, self.limit_w)
        return call_result.SetChargingProfile(status="Accepted")

    async def begin(self) -> None:
        started = await self.call(call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-04-02T09:15:00Z"))
        self.transaction_id = started.transaction_id
        await self.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))

    async def end(self) -> None:
        await self.call(call.StopTransaction(meter_stop=100, timestamp="2026-04-02T09:30:00Z", transaction_id=self.transaction_id))
        await self.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        self.transaction_id = None


@pytest.fixture
async def depot(service: ConsoleService) -> str:
    def write(session: Any) -> str:
        org = service.fleet.ensure_org(session)
        location = Location(organization_id=org.id, name="Yard", power_cap_kw=CAP_KW, created_at=service.clock.now(), updated_at=service.clock.now())
        session.add(location)
        session.commit()
        return location.id

    location_id = await service.store.run(write)
    service.live.locations_changed(await service.store.run(service.fleet.locations))
    for number in range(1, 5):
        await service.create_charger({"identity": f"CAP-{number}", "max_charging_power": 22000, "location_id": location_id})
    return location_id


@contextlib.asynccontextmanager
async def fleet_online(central: CentralSystem, ledger: Ledger) -> AsyncIterator[list[CappedCharger]]:
    async with contextlib.AsyncExitStack() as stack:
        chargers = []
        for number in range(1, 5):
            cp = await stack.enter_async_context(charge_point(central.url, f"CAP-{number}", client=CappedCharger))
            cp.ledger = ledger
            await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
            chargers.append(cp)
        yield chargers


async def test_the_cap_is_shared_and_never_exceeded(service: ConsoleService, central_system: CentralSystem, depot: str) -> None:
    ledger = Ledger()
    async with fleet_online(central_system, ledger) as chargers:
        # Idle chargers hold 0 W while the cap binds.
        await eventually(lambda: len(ledger.limits) == 4 and all(limit == 0 for limit in ledger.limits.values()))
        for cp in chargers:
            await cp.begin()
        await eventually(lambda: all(cp.limit_w == CAP_KW * 1000 / 4 for cp in chargers))
        assert ledger.worst_sum <= CAP_KW * 1000

        await chargers[0].end()
        await eventually(lambda: chargers[0].limit_w == 0 and all(cp.limit_w == 10_000 for cp in chargers[1:]))
        assert ledger.worst_sum <= CAP_KW * 1000

        location = next(item for item in await service.list_locations() if item.id == depot)
        assert location.power_cap_kw == CAP_KW and location.headroom_kw == CAP_KW - location.delivered_kw

        # Every limit was an action the chargers acknowledged (the last answers may still be on their way).
        async def all_acknowledged() -> bool:
            actions = await service.store.run(
                lambda session: session.exec(select(Action).where(Action.command == "power_cap")).all()
            )
            return len(actions) >= 8 and all(action.state == "acknowledged" for action in actions)

        await eventually(all_acknowledged)


async def test_a_command_limit_bounds_a_share(service: ConsoleService, central_system: CentralSystem, depot: str) -> None:
    ledger = Ledger()
    async with fleet_online(central_system, ledger) as chargers:
        for cp in chargers[:3]:
            await cp.begin()
        await eventually(lambda: all(cp.limit_w == 10_000 for cp in chargers[:3]))
        first = (await service.list_chargers())[0]
        limited = await service.send_command(first.id, "charge", {"powerLimit": 4})
        await eventually(lambda: service_state(service, limited.id, "completed"))
        await eventually(lambda: chargers[0].limit_w == 4_000 and chargers[1].limit_w == 13_000 and chargers[2].limit_w == 13_000)
        assert ledger.worst_sum <= CAP_KW * 1000


async def service_state(service: ConsoleService, action_id: str, state: str) -> bool:
    return (await service.get_action(action_id)).state == state


async def test_raising_the_cap_rebalances(service: ConsoleService, central_system: CentralSystem, depot: str) -> None:
    ledger = Ledger()
    async with fleet_online(central_system, ledger) as chargers:
        for cp in chargers[:2]:
            await cp.begin()
        await eventually(lambda: chargers[0].limit_w == 15_000)
        await service.set_location_cap(depot, 100.0)  # every max (88 kW) now fits: no limit needed
        await eventually(lambda: all(cp.limit_w == 22_000 for cp in chargers))
        await asyncio.sleep(0)
