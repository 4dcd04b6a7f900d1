"""Rejecting an auto-registered charger: disconnected now, refused at every later handshake, rejected everywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import eventually


@pytest.fixture
async def auto_registering(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, auto_register=True)
    await central.start()
    yield central
    await central.stop()


async def refused(url: str) -> int:
    with pytest.raises(InvalidStatus) as refusal:
        async with connect(url, subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
            pass
    return refusal.value.response.status_code


async def pending_connection(service: ConsoleService, central: CentralSystem, identity: str):  # type: ignore[no-untyped-def]
    ws = await connect(f"{central.url}/{identity}", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    (charger,) = [view for view in await service.list_chargers() if view.identity == identity]
    assert charger.registration == "pending"
    return ws, charger


async def assert_rejected_everywhere(service: ConsoleService, central: CentralSystem, charger_id: str, identity: str) -> None:
    assert await refused(f"{central.url}/{identity}") == 403
    assert await refused(f"{central.url}/{identity}") == 403
    view = await service.get_charger(charger_id)
    assert (view.registration, view.provisioning, view.is_connected) == ("rejected", "rejected", False)
    (unknown,) = [row for row in await service.list_unknown() if row.identity == identity]
    assert unknown.decision == "rejected"
    assert not central.is_connected(identity)


@pytest.mark.parametrize("where", ["unknown list", "charger"])
async def test_a_rejected_charger_is_disconnected_now_and_refused_from_then_on(
    service: ConsoleService, auto_registering: CentralSystem, where: str
) -> None:
    ws, charger = await pending_connection(service, auto_registering, "NEWCOMER")
    await ws.send('[2,"1","BootNotification",{"chargePointVendor":"X","chargePointModel":"Y"}]')
    assert '"Pending"' in await asyncio.wait_for(ws.recv(), 5)
    if where == "unknown list":
        await service.reject_unknown("NEWCOMER")  # `:unknown`, `r`
    else:
        await service.reject_charger(charger.id)  # the charger's own view
    await asyncio.wait_for(ws.wait_closed(), 2)
    assert ws.close_code == 1008
    await eventually(lambda: not auto_registering.is_connected("NEWCOMER"))
    await assert_rejected_everywhere(service, auto_registering, charger.id, "NEWCOMER")


async def test_an_unknown_identity_rejected_before_it_was_registered_stays_refused(
    service: ConsoleService, auto_registering: CentralSystem
) -> None:
    ws, charger = await pending_connection(service, auto_registering, "OTHER")
    await ws.close()
    await service.reject_unknown("OTHER")
    await assert_rejected_everywhere(service, auto_registering, charger.id, "OTHER")
    assert [view.identity for view in await service.list_chargers()] == ["OTHER"]  # not registered a second time


async def test_accepting_a_rejected_charger_lets_it_in_again(service: ConsoleService, auto_registering: CentralSystem) -> None:
    ws, charger = await pending_connection(service, auto_registering, "SECOND-CHANCE")
    await service.reject_charger(charger.id)
    await asyncio.wait_for(ws.wait_closed(), 2)
    await service.accept_charger(charger.id)
    assert (await service.list_unknown())[0].decision == "accepted"
    async with connect(f"{auto_registering.url}/SECOND-CHANCE", subprotocols=["ocpp1.6"]) as again:  # type: ignore[list-item]
        await again.send('[2,"1","BootNotification",{"chargePointVendor":"X","chargePointModel":"Y"}]')
        assert '"Accepted"' in await asyncio.wait_for(again.recv(), 5)
