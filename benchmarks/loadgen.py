"""An OCPP 1.6J load generator: raw WebSocket clients in their own process.

Two modes:
- `throughput`: K connections, each sending CALLs back to back (Heartbeat and
  MeterValues in turn) for a fixed time: CALLs/s and answer latency.
- `fleet`: N connections, each booting and then sending a Heartbeat and a
  MeterValues every `--period` seconds (spread evenly), plus a
  StatusNotification now and then: connect time for all, answer latency,
  errors.

It prints one JSON line of figures, and says when it is itself the bottleneck
(its own CPU near a full core). Bounded in count and time; loopback only.

The clients speak WebSocket through `LeanConnection`, a minimal RFC 6455
client on an asyncio.Protocol, on uvloop when it is installed: with the
`websockets` client on asyncio's loop the generator used a whole core before
the raw-websockets baseline server did. `--transport websockets` and
`--loop asyncio` bring the library client and the standard loop back.

    uv run python -m benchmarks.loadgen throughput --url ws://127.0.0.1:9000 --prefix LOAD- --connections 50 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import hashlib
import itertools
import json
import os
import random
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import connect

LOOPBACK = ("ws://127.0.0.1", "ws://localhost", "ws://[::1]")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ZERO_MASK = bytes(4)
TIMESTAMP = "2026-04-02T09:15:00Z"


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)
    by_action: dict[str, list[float]] = field(default_factory=dict)
    answered: int = 0
    answered_total: int = 0  # boot and connect phase included
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    connect_times: list[float] = field(default_factory=list)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class LeanConnection(asyncio.Protocol):
    """A minimal RFC 6455 client on an asyncio.Protocol: what a load generator needs and no more.

    The handshake is a real HTTP Upgrade (Sec-WebSocket-Key checked against
    Sec-WebSocket-Accept, the OCPP subprotocol offered and required back). Client
    frames are masked as RFC 6455 §5.3 requires, with an all-zero masking key
    (any 32-bit value is legal; this one leaves the payload as it is, so masking
    costs nothing). Server frames are unmasked; pings are answered with pongs,
    a close with a close. No extensions, no compression.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._handshake: asyncio.Future[None] | None = None
        self._key = ""
        self._subprotocol = ""
        self._fragments: list[bytes] = []
        self._messages: collections.deque[str] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed: Exception | None = None

    @classmethod
    async def open(cls, url: str, subprotocol: str, timeout: float) -> LeanConnection:
        parts = urlsplit(url)
        loop = asyncio.get_running_loop()
        connection = cls()
        connection._subprotocol = subprotocol
        connection._handshake = loop.create_future()
        await asyncio.wait_for(
            loop.create_connection(lambda: connection, parts.hostname, parts.port or 80), timeout
        )
        connection._key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {parts.path or '/'} HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {connection._key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {subprotocol}\r\n"
            "\r\n"
        )
        assert connection.transport is not None
        connection.transport.write(request.encode())
        try:
            await asyncio.wait_for(asyncio.shield(connection._handshake), timeout)
        except BaseException:
            connection.transport.abort()
            raise
        return connection

    # -- asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._handshake is not None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end]).decode("latin-1")
            del self._buffer[: end + 4]
            handshake, self._handshake = self._handshake, None
            problem = self._check_handshake(head)
            if problem is not None:
                handshake.set_exception(ConnectionError(problem))
                self.transport.abort()  # type: ignore[union-attr]
                return
            handshake.set_result(None)
        self._parse_frames()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = exc or ConnectionError("connection closed")
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(self._closed)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(self._closed)

    # -- framing --------------------------------------------------------------------

    def _check_handshake(self, head: str) -> str | None:
        lines = head.split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            return f"handshake refused: {lines[0]}"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1((self._key + WS_GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != accept:
            return "handshake: wrong Sec-WebSocket-Accept"
        if headers.get("sec-websocket-protocol") != self._subprotocol:
            return f"handshake: subprotocol {headers.get('sec-websocket-protocol')!r}, not {self._subprotocol!r}"
        if "sec-websocket-extensions" in headers:
            return "handshake: the server chose an extension we did not offer"
        return None

    def _parse_frames(self) -> None:
        buffer = self._buffer
        position = 0
        size = len(buffer)
        while size - position >= 2:
            first, second = buffer[position], buffer[position + 1]
            length = second & 0x7F
            header = 2
            if length == 126:
                if size - position < 4:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 4], "big")
                header = 4
            elif length == 127:
                if size - position < 10:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 10], "big")
                header = 10
            if second & 0x80:  # a server must not mask (RFC 6455 §5.1)
                self._fail(1002, "masked server frame")
                return
            end = position + header + length
            if end > size:
                break
            payload = bytes(buffer[position + header : end])
            position = end
            self._frame(first & 0x80, first & 0x0F, payload)
        del buffer[:position]

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode == 0x1 or opcode == 0x0 or opcode == 0x2:
            if not fin:
                self._fragments.append(payload)
                return
            if self._fragments:
                payload = b"".join(self._fragments) + payload
                self._fragments = []
            self._messages.append(payload.decode("utf-8", "replace"))
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)
        elif opcode == 0x9:  # ping: answer with the same payload
            self._write(0xA, payload)
        elif opcode == 0x8:
            if self.transport is not None and not self.transport.is_closing():
                self._write(0x8, payload[:2])
                self.transport.close()

    def _fail(self, code: int, reason: str) -> None:
        self._write(0x8, code.to_bytes(2, "big") + reason.encode())
        assert self.transport is not None
        self.transport.close()

    def _write(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        # FIN + opcode; MASK bit + length; then the (all-zero) masking key.
        if length < 126:
            header = bytes((0x80 | opcode, 0x80 | length)) + ZERO_MASK
        elif length < 1 << 16:
            header = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big") + ZERO_MASK
        else:
            header = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big") + ZERO_MASK
        assert self.transport is not None
        self.transport.write(header + payload)

    # -- what a client uses ---------------------------------------------------------

    async def send(self, message: str) -> None:
        if self._closed is not None:
            raise self._closed
        self._write(0x1, message.encode())

    async def recv(self) -> str:
        while not self._messages:
            if self._closed is not None:
                raise self._closed
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._messages.popleft()

    async def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._write(0x8, (1000).to_bytes(2, "big"))
            self.transport.close()


class Client:
    """One charger: sends CALLs and waits for the answer to each (OCPP-J allows one at a time)."""

    def __init__(self, identity: str, figures: Figures, transport: str = "lean", ocpp: str = "1.6", compression: bool = False) -> None:
        self.identity = identity
        self.figures = figures
        self.transport = transport
        self.ocpp = ocpp
        self.compression = compression
        self.ids = itertools.count(1)
        self.ws: LeanConnection | None = None
        self.energy = 0.0

    async def open(self, url: str) -> None:
        started = time.perf_counter()
        if self.transport == "lean":
            self.ws = await LeanConnection.open(f"{url}/{self.identity}", f"ocpp{self.ocpp}", timeout=60)
        else:
            self.ws = await connect(  # type: ignore[assignment]
                f"{url}/{self.identity}", subprotocols=[f"ocpp{self.ocpp}"],  # type: ignore[list-item]
                compression="deflate" if self.compression else None, open_timeout=60, max_queue=None,
            )
        self.figures.connect_times.append(time.perf_counter() - started)

    async def call(self, action: str, payload: dict) -> None:
        assert self.ws is not None
        message_id = str(next(self.ids))
        started = time.perf_counter()
        await self.ws.send(orjson.dumps([2, message_id, action, payload]).decode())
        while True:
            answer = orjson.loads(await self.ws.recv())
            if answer[1] == message_id:
                break
        latency = time.perf_counter() - started
        self.figures.latencies.append(latency)
        self.figures.by_action.setdefault(action, []).append(latency)
        if answer[0] == 3:
            self.figures.answered += 1
            self.figures.answered_total += 1
        else:
            self.figures.error(f"{action}:{answer[2]}")

    async def boot(self) -> None:
        if self.ocpp == "1.6":
            await self.call("BootNotification", {"chargePointVendor": "Load", "chargePointModel": "Gen"})
        else:
            await self.call("BootNotification", {"chargingStation": {"vendorName": "Load", "model": "Gen"}, "reason": "PowerUp"})
        await self.status("Available")

    async def status(self, status: str) -> None:
        """A connector status change (2.0.1 has fewer statuses: charging or suspended is Occupied)."""
        if self.ocpp == "1.6":
            await self.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": status})
        else:
            await self.call(
                "StatusNotification",
                {"timestamp": TIMESTAMP, "connectorStatus": "Available" if status == "Available" else "Occupied", "evseId": 1, "connectorId": 1},
            )

    def meter_values(self) -> dict:
        self.energy += 30.5
        if self.ocpp != "1.6":
            return {
                "evseId": 1,
                "meterValue": [
                    {
                        "timestamp": TIMESTAMP,
                        "sampledValue": [
                            {"value": round(self.energy, 1), "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}},
                            {"value": 11000, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
                        ],
                    }
                ],
            }
        return {
            "connectorId": 1,
            "meterValue": [
                {
                    "timestamp": TIMESTAMP,
                    "sampledValue": [
                        {"value": f"{self.energy:.1f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                        {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                    ],
                }
            ],
        }

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def throughput(args: argparse.Namespace, figures: Figures) -> dict:
    clients = [Client(f"{args.prefix}{number:05d}", figures, args.transport, args.ocpp, args.compression == "deflate") for number in range(1, args.connections + 1)]
    await asyncio.gather(*(client.open(args.url) for client in clients))
    await asyncio.gather(*(client.boot() for client in clients))
    figures.latencies.clear()
    figures.by_action.clear()
    figures.answered = 0
    stop_at = time.perf_counter() + args.seconds

    async def run(client: Client) -> None:
        heartbeat = True
        while time.perf_counter() < stop_at:
            if heartbeat:
                await client.call("Heartbeat", {})
            else:
                await client.call("MeterValues", client.meter_values())
            heartbeat = not heartbeat

    started = time.perf_counter()
    await asyncio.gather(*(run(client) for client in clients))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    return {"calls_per_s": round(figures.answered / elapsed, 1), "seconds": round(elapsed, 2)}


async def fleet(args: argparse.Namespace, figures: Figures) -> dict:
    rng = random.Random(1)
    clients = [Client(f"{args.prefix}{number:05d}", figures, args.transport, args.ocpp, args.compression == "deflate") for number in range(1, args.connections + 1)]
    connect_started = time.perf_counter()
    semaphore = asyncio.Semaphore(args.connect_concurrency)

    async def open_and_boot(client: Client) -> None:
        async with semaphore:
            try:
                await client.open(args.url)
                await client.boot()
            except Exception as error:  # a refused or dropped connection is a figure, not a crash
                figures.error(f"connect:{type(error).__name__}")

    await asyncio.gather(*(open_and_boot(client) for client in clients))
    connect_all = time.perf_counter() - connect_started
    figures.latencies.clear()
    figures.by_action.clear()
    figures.answered = 0
    stop_at = time.perf_counter() + args.seconds

    async def run(client: Client, offset: float) -> None:
        if client.ws is None:
            return
        await asyncio.sleep(offset)
        cycle = 0
        while time.perf_counter() < stop_at:
            tick = time.perf_counter()
            try:
                await client.call("Heartbeat", {})
                await client.call("MeterValues", client.meter_values())
                if cycle % 6 == 5:
                    status = rng.choice(["Charging", "SuspendedEV", "Available"])
                    await client.status(status)
            except Exception as error:
                figures.error(f"call:{type(error).__name__}")
                return
            cycle += 1
            await asyncio.sleep(max(0.0, args.period - (time.perf_counter() - tick)))

    started = time.perf_counter()
    await asyncio.gather(*(run(client, args.period * index / len(clients)) for index, client in enumerate(clients)))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    return {
        "connect_all_s": round(connect_all, 2),
        "connect_p99_ms": round((percentile(figures.connect_times, 0.99) or 0) * 1000, 1),
        "calls_per_s": round(figures.answered / elapsed, 1),
        "seconds": round(elapsed, 2),
    }


def scheduled_seconds(pid: str = "self") -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of all the process's threads."""
    run = wait = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            fields = (task / "schedstat").read_text().split()
            run += int(fields[0])
            wait += int(fields[1])
    except OSError:
        return 0.0, 0.0
    return run / 1e9, wait / 1e9


def loop_factory(name: str):  # type: ignore[no-untyped-def]
    """uvloop's event loop when asked for and installed, else asyncio's."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            return None
        return uvloop.new_event_loop
    return None


def main() -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.loadgen", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["throughput", "fleet"])
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:PORT (loopback only)")
    parser.add_argument("--prefix", default="LOAD-", help="identities are PREFIX00001, PREFIX00002, …")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send (bounded: at most 600)")
    parser.add_argument("--period", type=float, default=10.0, help="fleet mode: seconds between a charger's messages")
    parser.add_argument("--connect-concurrency", type=int, default=500)
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    parser.add_argument(
        "--transport", choices=["lean", "websockets"], default="lean",
        help="lean: a minimal asyncio.Protocol WebSocket client (default); websockets: the websockets library's client",
    )
    parser.add_argument("--ocpp", choices=["1.6", "2.0.1"], default="1.6", help="the OCPP version the chargers speak")
    parser.add_argument(
        "--compression", choices=["none", "deflate"], default="none",
        help="offer permessage-deflate (with --transport websockets; the lean client offers no extension)",
    )
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop", help="the event loop (uvloop when installed)")
    args = parser.parse_args()
    if args.compression == "deflate" and args.transport == "lean":
        parser.error("--compression deflate needs --transport websockets")
    if not args.url.startswith(LOOPBACK):
        parser.error("the load generator only targets loopback addresses")
    args.seconds = min(args.seconds, 600.0)
    try:  # one socket per connection: as many open files as the system lets this process have
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, OSError, ValueError):
        pass
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    figures = Figures()
    (run_started, wait_started), wall_started = scheduled_seconds(), time.perf_counter()
    work = throughput(args, figures) if args.mode == "throughput" else fleet(args, figures)
    factory = loop_factory(args.loop)
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(work)
    run_ended, wait_ended = scheduled_seconds()
    wall = time.perf_counter() - wall_started
    cpu_share = (run_ended - run_started) / wall
    # On a shared machine the generator may have wanted its core and not had it: that limits it too.
    wanted_share = (run_ended - run_started + wait_ended - wait_started) / wall
    result.update(
        {
            "mode": args.mode,
            "transport": args.transport,
            "ocpp": args.ocpp,
            "compression_offered": args.compression,
            "loop": "uvloop" if factory is not None else "asyncio",
            "connections": args.connections,
            "answered": figures.answered,
            "errors": figures.errors,
            "error_kinds": figures.error_kinds,
            "p50_ms": round((percentile(figures.latencies, 0.50) or 0) * 1000, 2),
            "p99_ms": round((percentile(figures.latencies, 0.99) or 0) * 1000, 2),
            "p99_ms_by_action": {
                action: round((percentile(values, 0.99) or 0) * 1000, 2) for action, values in sorted(figures.by_action.items())
            },
            "answered_total": figures.answered_total,
            "wall_s": round(wall, 2),
            "loadgen_cpu_share": round(cpu_share, 2),
            "loadgen_wanted_share": round(wanted_share, 2),
            "loadgen_is_bottleneck": wanted_share > 0.9,
        }
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
