"""The charger connection layer, byte by byte: what a charger's WebSocket stack may send, however it splits it.

Whole text frames take a short path past websockets' parser and serializer
(console.csms.transport); everything else goes through websockets. These
tests speak RFC 6455 by hand over a plain TCP socket, so the frames arrive
split, joined and interleaved as real stacks send them, and check that each
is answered or refused as websockets itself would.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.frames import TEXT, Frame

from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.csms.transport import text_frame
from ocpp_clients import websocket_by_hand

TEXT_OP, BINARY_OP, CONT_OP, CLOSE_OP, PING_OP, PONG_OP = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv1: bool = False) -> bytes:
    """A client frame as RFC 6455 §5.2 lays it out (masked unless told otherwise)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    length = len(payload)
    if length < 126:
        head = bytes((first, (0x80 if mask else 0) | length))
    elif length < 65536:
        head = bytes((first, (0x80 if mask else 0) | 126)) + struct.pack("!H", length)
    else:
        head = bytes((first, (0x80 if mask else 0) | 127)) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))


def call(message_id: str, action: str = "Heartbeat", payload: dict[str, Any] | None = None) -> bytes:
    return json.dumps([2, message_id, action, payload or {}]).encode()


class Peer:
    """A charger's WebSocket spoken by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def next_frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the server's next frame; servers never mask."""
        first, second = await asyncio.wait_for(self.reader.readexactly(2), 2)
        assert second & 0x80 == 0, "a server frame must not be masked"
        assert first & 0x80, "the server sends whole frames"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await asyncio.wait_for(self.reader.readexactly(length), 2)

    async def answer(self) -> list[Any]:
        opcode, payload = await self.next_frame()
        assert opcode == TEXT_OP
        return json.loads(payload)

    async def close_code(self) -> int:
        """The code of the server's close frame (data frames before it are skipped)."""
        while True:
            opcode, payload = await self.next_frame()
            if opcode == CLOSE_OP:
                return struct.unpack("!H", payload[:2])[0]


@pytest.fixture
async def peer(service: ConsoleService, central_system: CentralSystem) -> AsyncIterator[Peer]:
    await service.create_charger({"identity": "BYHAND"})
    reader, writer = await websocket_by_hand(central_system.url, "BYHAND")
    yield Peer(reader, writer)
    writer.close()


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_an_answer_frame_is_what_websockets_would_send(length: int) -> None:
    payload = b"x" * length
    assert text_frame(payload) == Frame(TEXT, payload).serialize(mask=False, extensions=[])


async def test_frames_in_one_segment_are_answered_in_order(peer: Peer) -> None:
    await peer.send(b"".join(frame(TEXT_OP, call(f"m-{number}")) for number in range(5)))
    assert [(await peer.answer())[1] for _ in range(5)] == [f"m-{number}" for number in range(5)]


async def logged_frames(service: ConsoleService, identity: str = "BYHAND") -> list[tuple[str, str | None]]:
    (charger,) = [view for view in await service.list_chargers() if view.identity == identity]
    return sorted((entry.direction, entry.message_id) for entry in await service.charger_logs(charger.id) if entry.direction != "event")


async def test_calls_to_plain_and_async_handlers_in_one_segment_are_answered_in_order_and_logged_once(
    peer: Peer, service: ConsoleService
) -> None:
    # Heartbeat and MeterValues are answered as they arrive (plain-function handlers); StatusNotification
    # goes through the connection's task, and what comes after it waits its turn.
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    meter = {"connectorId": 1, "meterValue": [{"timestamp": "2026-04-02T09:15:00Z", "sampledValue": [{"value": "10"}]}]}
    calls = [
        call("m-0"), call("m-1", "StatusNotification", status), call("m-2"),
        call("m-3", "MeterValues", meter), call("m-4", "StatusNotification", status), call("m-5"),
    ]
    await peer.send(b"".join(frame(TEXT_OP, text) for text in calls))
    assert [(await peer.answer())[:2] for _ in calls] == [[3, f"m-{number}"] for number in range(6)]
    expected = [(direction, f"m-{number}") for direction in ("in", "out") for number in range(6)]
    assert await logged_frames(service) == sorted(expected)


async def test_a_call_to_a_plain_handler_that_breaks_its_schema_is_answered_and_logged_once(
    peer: Peer, service: ConsoleService
) -> None:
    sampled = [{"timestamp": "2026-04-02T09:15:00Z", "sampledValue": [{"value": "10"}]}]
    await peer.send(frame(TEXT_OP, call("bad-1", "MeterValues", {"meterValue": sampled})) + frame(TEXT_OP, call("ok-1")))
    refused, answered = await peer.answer(), await peer.answer()
    assert refused[:3] == [4, "bad-1", "ProtocolError"]  # connectorId missing
    assert answered[:2] == [3, "ok-1"]
    assert await logged_frames(service) == sorted([("in", "bad-1"), ("out", "bad-1"), ("in", "ok-1"), ("out", "ok-1")])


async def test_no_call_is_read_while_the_store_is_behind(
    peer: Peer, service: ConsoleService, monkeypatch: pytest.MonkeyPatch
) -> None:
    await peer.send(frame(TEXT_OP, call("first")))
    assert (await peer.answer())[:2] == [3, "first"]  # the connection is reading
    writer = service.live.writer
    behind = True
    monkeypatch.setattr(type(writer), "backlogged", property(lambda self: behind))
    await peer.send(frame(TEXT_OP, call("under way")))  # the connection was already reading: this one goes on
    assert (await peer.answer())[:2] == [3, "under way"]
    await peer.send(frame(TEXT_OP, call("held")))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(peer.answer(), 0.3)
    behind = False  # caught up: the writer's next flush lets the connection read on
    assert (await asyncio.wait_for(peer.answer(), 3))[:2] == [3, "held"]


async def test_a_frame_split_byte_by_byte_is_answered(peer: Peer) -> None:
    data = frame(TEXT_OP, call("slow-1")) + frame(TEXT_OP, call("slow-2"))
    for index in range(len(data)):
        await peer.send(data[index : index + 1])
        await asyncio.sleep(0)
    assert (await peer.answer())[1] == "slow-1"
    assert (await peer.answer())[1] == "slow-2"


async def test_a_frame_split_inside_its_header_is_answered(peer: Peer) -> None:
    big = call("big-1", "DataTransfer", {"vendorId": "Acme", "data": "y" * 70_000})  # 64-bit length
    data = frame(TEXT_OP, big) + frame(TEXT_OP, call("after"))
    for cut in (1, 3, 9, 13, len(data) - 3):
        await peer.send(data[:cut])
        data = data[cut:]
        await asyncio.sleep(0.01)
    await peer.send(data)
    assert (await peer.answer())[1] == "big-1"
    assert (await peer.answer())[1] == "after"


async def test_a_fragmented_message_between_whole_ones(peer: Peer) -> None:
    text = call("frag-1", "DataTransfer", {"vendorId": "Acme", "data": "z" * 300})
    await peer.send(
        frame(TEXT_OP, call("before"))
        + frame(TEXT_OP, text[:100], fin=False)
        + frame(CONT_OP, text[100:200], fin=False)
        + frame(CONT_OP, text[200:])
        + frame(TEXT_OP, call("after"))
    )
    assert [(await peer.answer())[1] for _ in range(3)] == ["before", "frag-1", "after"]


async def test_a_ping_between_calls_is_answered_in_place(peer: Peer) -> None:
    await peer.send(frame(TEXT_OP, call("one")) + frame(PING_OP, b"are you there") + frame(TEXT_OP, call("two")))
    seen = [await peer.next_frame() for _ in range(3)]
    assert (PONG_OP, b"are you there") in seen
    assert [json.loads(payload)[1] for opcode, payload in seen if opcode == TEXT_OP] == ["one", "two"]


async def test_a_binary_frame_after_text_closes_with_1003(peer: Peer) -> None:
    await peer.send(frame(TEXT_OP, call("one")) + frame(BINARY_OP, b"\x00\x01"))
    assert (await peer.answer())[1] == "one"  # the binary frame is refused by the handler, in its turn
    assert await peer.close_code() == 1003


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (frame(TEXT_OP, call("plain"), mask=False), 1002),  # clients must mask
        (frame(TEXT_OP, call("rsv"), rsv1=True), 1002),  # RSV1 without an extension
        (frame(TEXT_OP, b'[2,"u","Heartbeat",{"x":"\xff"}]'), 1007),  # not UTF-8
        (frame(CONT_OP, b"orphan"), 1002),  # a continuation with nothing to continue
    ],
    ids=["unmasked", "rsv1", "bad-utf8", "orphan-continuation"],
)
async def test_a_bad_frame_after_good_ones_closes_as_websockets_does(peer: Peer, bad: bytes, code: int) -> None:
    await peer.send(frame(TEXT_OP, call("good")))
    assert (await peer.answer())[1] == "good"
    # In one segment with a good frame: the close goes out at once, as websockets sends it, so the
    # good frame's answer may not (the connection is closing by the time it is ready).
    await peer.send(frame(TEXT_OP, call("also good")) + bad)
    assert await peer.close_code() == code


async def test_a_frame_over_the_limit_closes_with_1009(service: ConsoleService) -> None:
    central = CentralSystem(service, port=0, max_frame_bytes=1000)
    await central.start()
    try:
        await service.create_charger({"identity": "BYHAND"})
        reader, writer = await websocket_by_hand(central.url, "BYHAND")
        peer = Peer(reader, writer)
        big = call("big", "DataTransfer", {"vendorId": "Acme", "data": "q" * 2000})
        await peer.send(frame(TEXT_OP, call("small")))
        assert (await peer.answer())[1] == "small"
        await peer.send(frame(TEXT_OP, call("small again")) + frame(TEXT_OP, big))
        assert await peer.close_code() == 1009
        writer.close()
    finally:
        await central.stop()


async def test_a_plain_handler_that_hands_back_an_awaitable_is_answered_when_it_is_done(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.csms import protocol
    from console.csms.v16 import ChargePoint16

    route = protocol._routes_of(ChargePoint16)["Heartbeat"]
    handler = route.handler

    def later(self: Any) -> Any:
        async def answer() -> Any:
            await asyncio.sleep(0.05)
            return handler(self)
        return answer()

    monkeypatch.setitem(protocol._routes_of(ChargePoint16), "Heartbeat", route._replace(handler=later))
    await peer.send(frame(TEXT_OP, call("late")))
    answer = await peer.answer()
    assert answer[:2] == [3, "late"] and "currentTime" in answer[2]
