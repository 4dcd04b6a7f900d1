"""What real chargers do on the wire that the spec allows or that firmware gets away with, frame by frame.

Each case is sent as the raw bytes a charger sends over a real WebSocket to
the real central system, and checked on the wire and in what the console
keeps afterwards.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlmodel import select

from console.core.models import ChargerEvent
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import eventually, websocket_by_hand
from test_transport import CLOSE_OP, TEXT_OP, Peer, frame

VERSIONS = {"ocpp1.6": "OCPP1.6", "ocpp2.0.1": "OCPP2.0.1", "ocpp2.1": "OCPP2.1"}

# -- an answer that races with the close (issue 14, part 5) ------------------------------------------------


@pytest.mark.parametrize(
    ("subprotocol", "operation", "request_"),
    [
        ("ocpp1.6", "Reset", {"type": "Soft"}),
        ("ocpp1.6", "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}),
        ("ocpp2.0.1", "Reset", {"type": "Immediate"}),
    ],
)
async def test_an_accepted_answer_followed_at_once_by_the_close_is_the_action_s_outcome(
    service: ConsoleService, central_system: CentralSystem, subprotocol: str, operation: str, request_: dict[str, Any]
) -> None:
    # A charger that accepts a Reset reboots at once: its answer and its close frame (or just the
    # TCP close) leave in one segment. The answer arrived, so it is what became of the action.
    charger = await service.create_charger({"identity": "REBOOTS", "ocpp_version": VERSIONS[subprotocol]})
    outcomes = []
    for attempt in range(100):
        reader, writer = await websocket_by_hand(central_system.url, "REBOOTS", subprotocol)
        peer = Peer(reader, writer)
        await eventually(lambda: central_system.is_connected("REBOOTS"))
        pending = asyncio.ensure_future(service.operate(charger.id, operation, request_))
        sent = await peer.answer()
        assert sent[0] == 2 and sent[2] == operation
        answer = frame(TEXT_OP, json.dumps([3, sent[1], {"status": "Accepted"}]).encode())
        goodbye = frame(CLOSE_OP, (1000).to_bytes(2, "big")) if attempt % 2 else b""
        await peer.send(answer + goodbye)
        writer.close()
        result = await asyncio.wait_for(pending, 5)
        outcomes.append((result.state, result.status, result.reason))
        await eventually(lambda: not central_system.is_connected("REBOOTS"))
    assert outcomes == [("acknowledged", "Accepted", None)] * 100


# -- vendor data, byte for byte (issue 14, part 6) ----------------------------------------------------------

# Keys no camelCase/snake_case conversion leaves alone, at every depth, and a null.
VENDOR_DATA = {"some_key": 1, "someKey": {"inner_key": [{"ABCValue": None, "x_y_z": "a_b"}]}, "SoC": 80.5}
CUSTOM_DATA = {"vendorId": "com.acme", "firmware_build": "7.1_rc", "lastErrorCode": "E_42"}


async def charger_events(service: ConsoleService, charger_id: str) -> list[ChargerEvent]:
    await service.writer.flush()
    query = select(ChargerEvent).where(ChargerEvent.charger_id == charger_id)
    return list(await service.store.run(lambda session: session.exec(query).all()))


async def test_vendor_data_from_a_201_charger_is_kept_as_sent(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "VENDOR", "ocpp_version": "OCPP2.0.1"})
    reader, writer = await websocket_by_hand(central_system.url, "VENDOR", "ocpp2.0.1")
    peer = Peer(reader, writer)
    transfer = {"vendorId": "com.acme", "messageId": "diag", "data": VENDOR_DATA, "customData": CUSTOM_DATA}
    report = {
        "requestId": 1, "generatedAt": "2026-04-02T09:15:00Z", "seqNo": 0,
        "reportData": [{
            "component": {"name": "AcmeCtrlr", "customData": CUSTOM_DATA}, "variable": {"name": "Mode"},
            "variableAttribute": [{"value": "eco", "customData": CUSTOM_DATA}],
        }],
    }
    notify = {
        "generatedAt": "2026-04-02T09:15:00Z", "seqNo": 0,
        "eventData": [{
            "eventId": 1, "timestamp": "2026-04-02T09:15:00Z", "trigger": "Alerting", "actualValue": "Faulted",
            "component": {"name": "Connector"}, "variable": {"name": "AvailabilityState"},
            "eventNotificationType": "HardWiredNotification", "customData": CUSTOM_DATA,
        }],
    }
    sent = [json.dumps([2, "dt-1", "DataTransfer", transfer]), json.dumps([2, "nr-1", "NotifyReport", report]),
            json.dumps([2, "ne-1", "NotifyEvent", notify])]
    await peer.send(b"".join(frame(TEXT_OP, text.encode()) for text in sent))
    answers = [await peer.answer() for _ in sent]
    writer.close()
    assert answers[0] == [3, "dt-1", {"status": "UnknownVendorId"}]
    assert [answer[:2] for answer in answers[1:]] == [[3, "nr-1"], [3, "ne-1"]]
    events = {event.kind: event.data for event in await charger_events(service, charger.id)}
    assert events["DataTransfer"] == transfer
    assert events["NotifyReport"]["reportData"] == report["reportData"]
    assert events["NotifyEvent"]["eventData"] == notify["eventData"]
    logged = [entry.message for entry in await service.charger_logs(charger.id) if entry.direction == "in"]
    assert sent[0] in logged


async def test_vendor_data_from_a_16_charger_is_kept_as_sent(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "VENDOR16"})
    reader, writer = await websocket_by_hand(central_system.url, "VENDOR16")
    peer = Peer(reader, writer)
    transfer = {"vendorId": "com.acme", "data": json.dumps(VENDOR_DATA)}
    await peer.send(frame(TEXT_OP, json.dumps([2, "dt-1", "DataTransfer", transfer]).encode()))
    assert await peer.answer() == [3, "dt-1", {"status": "UnknownVendorId"}]
    writer.close()
    (event,) = await charger_events(service, charger.id)
    assert (event.kind, event.data) == ("DataTransfer", transfer)


@pytest.mark.parametrize(
    ("subprotocol", "data", "answered"),
    [
        ("ocpp2.0.1", VENDOR_DATA, {"reply_key": {"deepKey_x": [1, None], "ABC": "ok"}}),
        ("ocpp1.6", json.dumps(VENDOR_DATA), '{"reply_key": 1}'),
    ],
)
async def test_vendor_data_to_a_charger_and_its_answer_pass_unchanged(
    service: ConsoleService, central_system: CentralSystem, subprotocol: str, data: Any, answered: Any
) -> None:
    charger = await service.create_charger({"identity": "VENDOR", "ocpp_version": VERSIONS[subprotocol]})
    reader, writer = await websocket_by_hand(central_system.url, "VENDOR", subprotocol)
    peer = Peer(reader, writer)
    await eventually(lambda: central_system.is_connected("VENDOR"))
    request = {"vendorId": "com.acme", "messageId": "configure", "data": data}
    if subprotocol != "ocpp1.6":
        request["customData"] = CUSTOM_DATA
    pending = asyncio.ensure_future(service.operate(charger.id, "DataTransfer", request))
    sent = await peer.answer()
    assert sent[2:] == ["DataTransfer", request]
    answer = {"status": "Accepted", "data": answered}
    await peer.send(frame(TEXT_OP, json.dumps([3, sent[1], answer]).encode()))
    result = await asyncio.wait_for(pending, 5)
    writer.close()
    assert (result.state, result.answer) == ("acknowledged", answer)
