"""Versions on one endpoint, registration of unknown chargers, and provisioning status."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import charge_point, eventually


@pytest.fixture
async def auto_registering(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, auto_register=True)
    await central.start()
    yield central
    await central.stop()


async def refused(url: str, subprotocols: list[str] | None) -> int:
    with pytest.raises(InvalidStatus) as refusal:
        async with connect(url, subprotocols=subprotocols):  # type: ignore[arg-type]
            pass
    return refusal.value.response.status_code


async def test_each_charger_gets_the_version_its_record_says(service: ConsoleService, central_system: CentralSystem) -> None:
    await service.create_charger({"identity": "V16", "ocpp_version": "OCPP1.6"})
    await service.create_charger({"identity": "V201", "ocpp_version": "OCPP2.0.1"})
    async with connect(f"{central_system.url}/V16", subprotocols=["ocpp2.0.1", "ocpp1.6"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "ocpp1.6"
    async with connect(f"{central_system.url}/V201", subprotocols=["ocpp1.6", "ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "ocpp2.0.1"


async def test_a_charger_offering_only_the_other_version_is_refused_with_a_reason(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "V201", "ocpp_version": "OCPP2.0.1"})
    assert await refused(f"{central_system.url}/V201", ["ocpp1.6"]) == 400
    view = await service.get_charger(charger.id)
    assert "registered as OCPP2.0.1 but offered only ocpp1.6" in (view.last_failure or "")
    logs = await service.charger_logs(charger.id)
    assert any("refused" in entry.message and "ocpp1.6" in entry.message for entry in logs)
    # None we do not speak: the handshake completes without a subprotocol, then 1002 (issue 14).
    async with connect(f"{central_system.url}/V201", subprotocols=["ocpp1.5"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol is None
        await ws.wait_closed()
    assert ws.close_code == 1002


async def test_unknown_identities_are_refused_and_counted(service: ConsoleService, central_system: CentralSystem) -> None:
    for _ in range(3):
        assert await refused(f"{central_system.url}/STRANGER", ["ocpp1.6"]) == 404
    (unknown,) = await service.list_unknown()
    assert (unknown.identity, unknown.attempts, unknown.remote_address, unknown.decision) == ("STRANGER", 3, "127.0.0.1", "pending")
    assert await service.list_chargers() == []

    accepted = await service.accept_unknown("STRANGER")
    assert accepted.registration == "accepted"
    async with charge_point(central_system.url, "STRANGER") as cp:
        boot = await cp.call(call16.BootNotification(charge_point_vendor="X", charge_point_model="Y"))
    assert boot.status == "Accepted"


async def test_auto_registration_holds_a_charger_pending_until_an_operator_decides(
    service: ConsoleService, auto_registering: CentralSystem
) -> None:
    async with charge_point(auto_registering.url, "NEW-201", "ocpp2.0.1") as cs:
        boot = await cs.call(call201.BootNotification(charging_station={"vendorName": "V", "model": "M"}, reason="PowerUp"))
        assert boot.status == "Pending"
        (charger,) = await service.list_chargers()
        assert (charger.identity, charger.ocpp_version, charger.registration, charger.provisioning) == (
            "NEW-201", "OCPP2.0.1", "pending", "pending"
        )
        await service.accept_charger(charger.id)
        boot = await cs.call(call201.BootNotification(charging_station={"vendorName": "V", "model": "M"}, reason="PowerUp"))
        assert boot.status == "Accepted"
        assert (await service.get_charger(charger.id)).provisioning == "accepted"
        # Rejected: disconnected at once and refused from then on (tests/csms/test_rejected.py has the details).
        await service.reject_charger(charger.id)
        await eventually(lambda: not auto_registering.is_connected("NEW-201"))
    assert await refused(f"{auto_registering.url}/NEW-201", ["ocpp2.0.1"]) == 403
    view = await service.get_charger(charger.id)
    assert (view.registration, view.provisioning) == ("rejected", "rejected")
    assert view.last_failure == "rejected by an operator"


async def test_provisioning_follows_a_charger_from_creation_to_offline(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "P-1"})
    assert (charger.provisioning, charger.offline_since) == ("created", None)
    async with charge_point(central_system.url, "P-1") as cp:
        assert (await service.get_charger(charger.id)).provisioning == "connected"
        await cp.call(call16.BootNotification(charge_point_vendor="X", charge_point_model="Y"))
        assert (await service.get_charger(charger.id)).provisioning == "accepted"
    await eventually(lambda: _offline(service, charger.id))
    view = await service.get_charger(charger.id)
    assert view.provisioning == "offline" and view.offline_since is not None
    async with charge_point(central_system.url, "P-1"):
        await eventually(lambda: _connected(service, charger.id))
        assert (await service.get_charger(charger.id)).reconnects == 1


async def _offline(service: ConsoleService, charger_id: str) -> bool:
    return not (await service.get_charger(charger_id)).is_connected


async def _connected(service: ConsoleService, charger_id: str) -> bool:
    return (await service.get_charger(charger_id)).is_connected


async def test_ocpp_21_is_served_with_the_201_handlers(service: ConsoleService, central_system: CentralSystem) -> None:
    from ocpp.v21 import ChargePoint as ChargePoint21
    from ocpp.v21 import call as call21

    charger = await service.create_charger({"identity": "V21", "ocpp_version": "OCPP2.1"})
    async with charge_point(central_system.url, "V21", "ocpp2.1", client=ChargePoint21) as cs:
        boot = await cs.call(call21.BootNotification(charging_station={"vendorName": "V", "model": "M"}, reason="PowerUp"))
        assert boot.status == "Accepted"
        await cs.call(call21.Heartbeat())
    assert (await service.get_charger(charger.id)).provisioning in ("accepted", "offline")
