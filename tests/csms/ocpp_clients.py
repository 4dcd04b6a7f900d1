"""Real OCPP clients for the central-system tests (the `ocpp` package's ChargePoint, client side)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v201 import ChargePoint as ChargePoint201
from websockets.asyncio.client import connect

CLIENTS = {"ocpp1.6": ChargePoint16, "ocpp2.0.1": ChargePoint201}


@contextlib.asynccontextmanager
async def charge_point(
    url: str, identity: str, subprotocol: str = "ocpp1.6", client: type | None = None, **connect_options: Any
) -> AsyncIterator[Any]:
    """A connected client whose receive loop runs in the background."""
    async with connect(f"{url}/{identity}", subprotocols=[subprotocol], **connect_options) as ws:
        cp = (client or CLIENTS[subprotocol])(identity, ws, response_timeout=5)
        task = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def eventually(condition: Any, timeout: float = 10.0) -> None:
    """Wait until `await condition()` (or `condition()`) is true."""

    async def poll() -> None:
        while True:
            result = condition()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def websocket_by_hand(
    url: str, identity: str, subprotocol: str = "ocpp1.6"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened over a plain TCP socket: the 101 answer is read, and the rest is the caller's, byte by byte."""
    host, port = url.removeprefix("ws://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /{identity} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    assert response.startswith(b"HTTP/1.1 101"), response
    assert b"sec-websocket-extensions" not in response.lower()
    return reader, writer
