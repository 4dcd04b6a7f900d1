"""What real chargers do on the wire that the spec allows or that firmware gets away with, frame by frame.

Each case is sent as the raw bytes a charger sends over a real WebSocket to
the real central system, and checked on the wire and in what the console
keeps afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
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


# -- OCPP 2.1's SEND and CALLRESULTERROR (issue 14, part 6) -----------------------------------------------------

HEARTBEAT = json.dumps([2, "hb-1", "Heartbeat", {}]).encode()
STREAM = {"id": 1, "pending": 0, "basetime": "2026-04-02T09:15:00Z", "data": [{"t": 0.5, "v": "230.1"}]}


async def by_hand(service: ConsoleService, central_system: CentralSystem, identity: str, subprotocol: str) -> tuple[str, Peer]:
    charger = await service.create_charger({"identity": identity, "ocpp_version": VERSIONS[subprotocol]})
    reader, writer = await websocket_by_hand(central_system.url, identity, subprotocol)
    await eventually(lambda: central_system.is_connected(identity))
    return charger.id, Peer(reader, writer)


async def test_a_send_is_never_answered_and_is_kept(service: ConsoleService, central_system: CentralSystem) -> None:
    charger_id, peer = await by_hand(service, central_system, "SENDER", "ocpp2.1")
    transfer = {"vendorId": "com.acme", "data": {"some_key": 1}}
    sends = [
        json.dumps([6, "s-1", "NotifyPeriodicEventStream", STREAM]).encode(),  # no handler here: kept as a charger event
        json.dumps([6, "s-2", "DataTransfer", transfer]).encode(),  # taken by its handler
    ]
    # The heartbeat after them is the first thing answered: nothing answered the SENDs.
    await peer.send(b"".join(frame(TEXT_OP, text) for text in [*sends, HEARTBEAT]))
    assert (await peer.answer())[:2] == [3, "hb-1"]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(peer.next_frame(), 0.3)
    peer.writer.close()
    events = {event.kind: event.data for event in await charger_events(service, charger_id)}
    assert events == {"NotifyPeriodicEventStream": STREAM, "DataTransfer": transfer}


async def test_a_callresulterror_is_the_error_answer_to_our_call(service: ConsoleService, central_system: CentralSystem) -> None:
    charger_id, peer = await by_hand(service, central_system, "SENDER", "ocpp2.1")
    pending = asyncio.ensure_future(service.operate(charger_id, "Reset", {"type": "Immediate"}))
    sent = await peer.answer()
    await peer.send(frame(TEXT_OP, json.dumps([5, sent[1], "GenericError", "cannot reset now", {"busy": True}]).encode()))
    result = await asyncio.wait_for(pending, 5)
    # One about a CALLRESULT of ours (the charger could not take our answer) is logged and never answered.
    await peer.send(frame(TEXT_OP, json.dumps([5, "theirs-1", "FormatViolation", "bad answer", {}]).encode()) + frame(TEXT_OP, HEARTBEAT))
    assert (await peer.answer())[:2] == [3, "hb-1"]
    peer.writer.close()
    assert (result.state, result.reason) == ("failed", "call_error")
    assert result.detail == "CALLERROR GenericError: cannot reset now"
    lines = [entry.message for entry in await service.charger_logs(charger_id) if entry.direction == "event"]
    assert any("CALLRESULTERROR FormatViolation" in line and "theirs-1" in line for line in lines)


@pytest.mark.parametrize(("subprotocol", "code"), [("ocpp1.6", "FormationViolation"), ("ocpp2.0.1", "MessageTypeNotSupported")])
@pytest.mark.parametrize("kind", [5, 6])
async def test_send_and_callresulterror_before_21_stay_unknown_message_types(
    service: ConsoleService, central_system: CentralSystem, subprotocol: str, code: str, kind: int
) -> None:
    _, peer = await by_hand(service, central_system, "OLDER", subprotocol)
    await peer.send(frame(TEXT_OP, json.dumps([kind, "m-1", "DataTransfer", {"vendorId": "com.acme"}]).encode()))
    assert (await peer.answer())[:3] == [4, "m-1", code]
    peer.writer.close()


# -- message ids over 36 characters (issue 14, part 6) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("subprotocol", "code"),
    [("ocpp1.6", "FormationViolation"), ("ocpp2.0.1", "RpcFrameworkError"), ("ocpp2.1", "RpcFrameworkError")],
)
@pytest.mark.parametrize("action", ["Heartbeat", "StatusNotification"])  # answered at once, and by the connection's task
async def test_a_message_id_over_36_characters_gets_the_version_s_callerror(
    service: ConsoleService, central_system: CentralSystem, subprotocol: str, code: str, action: str
) -> None:
    charger_id, peer = await by_hand(service, central_system, "LONGID", subprotocol)
    if action == "Heartbeat":
        payload: dict[str, Any] = {}
    elif subprotocol == "ocpp1.6":
        payload = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    else:
        payload = {"timestamp": "2026-04-02T09:15:00Z", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
    longest, too_long = "u" * 36, "u" * 37
    await peer.send(frame(TEXT_OP, json.dumps([2, too_long, action, payload]).encode())
                    + frame(TEXT_OP, json.dumps([2, longest, action, payload]).encode()))
    refused, answered = await peer.answer(), await peer.answer()
    peer.writer.close()
    assert refused[:3] == [4, too_long, code]
    assert answered[:2] == [3, longest]
    lines = [entry.message for entry in await service.charger_logs(charger_id) if entry.direction == "event"]
    assert any("longer than 36" in line for line in lines)


# -- subprotocols at the handshake (issue 14, part 6) -------------------------------------------------------------


async def handshake(url: str, identity: str, offered: str | None) -> tuple[bytes, Peer]:
    """The server's handshake answer to a charger offering `offered` (None: no Sec-WebSocket-Protocol header)."""
    host, port = url.removeprefix("ws://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    protocol = f"Sec-WebSocket-Protocol: {offered}\r\n" if offered is not None else ""
    writer.write(
        (
            f"GET /{identity} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{protocol}\r\n"
        ).encode()
    )
    await writer.drain()
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2), Peer(reader, writer)


async def closed_with(peer: Peer) -> tuple[int, str]:
    opcode, payload = await peer.next_frame()
    assert opcode == CLOSE_OP
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode()


@pytest.mark.parametrize("auto_register", [False, True])
async def test_only_subprotocols_we_do_not_speak_complete_the_handshake_then_close_1002(
    service: ConsoleService, auto_register: bool
) -> None:
    # OCPP-J: a server that agrees to none of the offered subprotocols completes the handshake
    # without a Sec-WebSocket-Protocol header and closes the connection at once.
    central = CentralSystem(service, port=0, auto_register=auto_register)
    await central.start()
    try:
        identity = "NEWCOMER" if auto_register else "FUTURE"
        if not auto_register:
            charger = await service.create_charger({"identity": identity})
        answer, peer = await handshake(central.url, identity, "ocpp2.0, ocpp1.5")
        assert answer.startswith(b"HTTP/1.1 101"), answer
        assert b"sec-websocket-protocol" not in answer.lower()
        code, reason = await closed_with(peer)
        peer.writer.close()
    finally:
        await central.stop()
    assert code == 1002 and "ocpp2.0, ocpp1.5" in reason
    if auto_register:
        assert [view.identity for view in await service.list_chargers()] == []  # nothing we could serve was registered
    else:
        view = await service.get_charger(charger.id)
        assert "ocpp2.0, ocpp1.5" in (view.last_failure or "")


@pytest.mark.parametrize(
    ("subprotocol", "boot"),
    [
        ("ocpp1.6", {"chargePointVendor": "Acme", "chargePointModel": "Old Firmware"}),
        ("ocpp2.0.1", {"reason": "PowerUp", "chargingStation": {"vendorName": "Acme", "model": "Old Firmware"}}),
    ],
)
async def test_no_subprotocol_header_is_served_with_the_record_s_version_and_warned(
    service: ConsoleService, central_system: CentralSystem, subprotocol: str, boot: dict[str, Any]
) -> None:
    charger = await service.create_charger({"identity": "BARE", "ocpp_version": VERSIONS[subprotocol]})
    answer, peer = await handshake(central_system.url, "BARE", None)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    assert b"sec-websocket-protocol" not in answer.lower()  # a subprotocol the charger did not offer would fail it
    await peer.send(frame(TEXT_OP, json.dumps([2, "boot-1", "BootNotification", boot]).encode()))
    booted = await peer.answer()
    peer.writer.close()
    assert booted[:2] == [3, "boot-1"] and booted[2]["status"] == "Accepted"
    view = await service.get_charger(charger.id)
    assert [warning.text for warning in view.protocol_warnings] == [
        f"no Sec-WebSocket-Protocol header: served as {VERSIONS[subprotocol]}, the version of its record"
    ]
