"""A charger Pending registration (--auto-register): its sessions are not valid, and once accepted it is asked to boot.

Exact frames on a raw WebSocket: what the charger sends and what it must get back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from console.core.service import ConsoleService
from console.core.sessions import PENDING_SESSION
from console.csms.server import CentralSystem
from ocpp_clients import eventually

NOW = "2026-12-02T10:00:00Z"


@pytest.fixture
async def auto_registering(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, auto_register=True, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


async def call(ws: ClientConnection, message_id: str, action: str, payload: dict[str, Any]) -> list[Any]:
    await ws.send(json.dumps([2, message_id, action, payload]))
    return json.loads(await ws.recv())


async def test_a_pending_16_charger_gets_no_valid_session_and_is_asked_to_boot_once_accepted(
    service: ConsoleService, auto_registering: CentralSystem
) -> None:
    async with connect(f"{auto_registering.url}/NEW-16", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        boot = await call(ws, "b1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "AC22", "firmwareVersion": "1.2.3"})
        assert boot[:2] == [3, "b1"] and boot[2]["status"] == "Pending"
        (charger,) = await service.list_chargers()
        assert (charger.vendor_name, charger.model, charger.firmware_version) == ("Acme", "AC22", "1.2.3")

        authorize = await call(ws, "a1", "Authorize", {"idTag": "TAG-1"})
        assert authorize == [3, "a1", {"idTagInfo": {"status": "Invalid"}}]
        start = await call(ws, "s1", "StartTransaction", {"connectorId": 1, "idTag": "TAG-1", "meterStart": 0, "timestamp": NOW})
        assert start == [3, "s1", {"transactionId": start[2]["transactionId"], "idTagInfo": {"status": "Invalid"}}]
        (session,) = await service.list_transactions(charger.id)
        assert (session.id, session.refused) == (start[2]["transactionId"], PENDING_SESSION)

        accepted = await service.accept_charger(charger.id)
        assert accepted.registration == "accepted"
        trigger = json.loads(await ws.recv())
        assert trigger[0] == 2 and trigger[2:] == ["TriggerMessage", {"requestedMessage": "BootNotification"}]
        await ws.send(json.dumps([3, trigger[1], {"status": "Accepted"}]))
        boot = await call(ws, "b2", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "AC22", "firmwareVersion": "1.2.4"})
        assert boot[2]["status"] == "Accepted"

        async def asked() -> bool:
            return any(a.command == "registration" and a.state == "acknowledged" for a in await service.list_actions(charger.id))

        await eventually(asked)
        (action,) = [a for a in await service.list_actions(charger.id) if a.command == "registration"]
        assert action.operation == "TriggerMessage" and action.duration_ms is not None
        assert (await service.get_charger(charger.id)).firmware_version == "1.2.4"

        start = await call(ws, "s2", "StartTransaction", {"connectorId": 1, "idTag": "TAG-1", "meterStart": 10, "timestamp": NOW})
        assert start[2]["idTagInfo"] == {"status": "Accepted"}
        valid = next(t for t in await service.list_transactions(charger.id) if t.id == start[2]["transactionId"])
        assert valid.refused is None


async def test_a_pending_201_charger_gets_its_tokens_refused(service: ConsoleService, auto_registering: CentralSystem) -> None:
    async with connect(f"{auto_registering.url}/NEW-201", subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        boot = await call(ws, "b1", "BootNotification", {"chargingStation": {"vendorName": "Acme", "model": "DC50"}, "reason": "PowerUp"})
        assert boot[2]["status"] == "Pending"
        event = {
            "eventType": "Started", "timestamp": NOW, "triggerReason": "Authorized", "seqNo": 0,
            "transactionInfo": {"transactionId": "tx-1"}, "idToken": {"idToken": "TAG-1", "type": "ISO14443"},
            "evse": {"id": 1, "connectorId": 1},
        }
        answer = await call(ws, "t1", "TransactionEvent", event)
        assert answer == [3, "t1", {"idTokenInfo": {"status": "Invalid"}}]
        (charger,) = await service.list_chargers()
        (session,) = await service.list_transactions(charger.id)
        assert session.refused == PENDING_SESSION
        await service.accept_charger(charger.id)
        trigger = json.loads(await ws.recv())
        assert trigger[2:] == ["TriggerMessage", {"requestedMessage": "BootNotification"}]


async def test_accepting_an_offline_pending_charger_asks_nothing(service: ConsoleService, auto_registering: CentralSystem) -> None:
    async with connect(f"{auto_registering.url}/GONE", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await call(ws, "b1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "AC22"})
    (charger,) = await service.list_chargers()
    await eventually(lambda: not auto_registering.is_connected("GONE"))
    await service.accept_charger(charger.id)
    assert [a.command for a in await service.list_actions(charger.id)] == []
