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
