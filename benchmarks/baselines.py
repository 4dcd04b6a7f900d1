"""The baselines the OCPP path is measured against, each a few lines on the same libraries and event loop.

- `raw`: websockets + json, parses each OCPP CALL and answers it, no OCPP library.
- `raw-lean`: the same answerer on the console's own connection layer
  (console.csms.transport), which is what the console's server runs on: the
  floor of what a CALL costs there (framing, event loop, system calls).
- `bare-ocpp`: a central system on the `ocpp` package with handlers and nothing else
  (its default validation, no persistence). By default the package validates
  each payload in the loop's thread pool (`ocpp.messages.ASYNC_VALIDATION`);
- `bare-ocpp-sync`: the same with that switched off, each payload validated on
  the event loop (`--compare-bare-sync` of the throughput benchmark).

    uv run python -m benchmarks.baselines raw --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from datetime import datetime, timezone

from websockets.asyncio.server import serve


def now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


async def raw_handler(ws) -> None:  # type: ignore[no-untyped-def]
    async for message in ws:
        frame = json.loads(message)
        if frame[0] != 2:
            continue
        action = frame[2]
        if action == "BootNotification":
            payload = {"status": "Accepted", "currentTime": now(), "interval": 60}
        elif action == "Heartbeat":
            payload = {"currentTime": now()}
        else:
            payload = {}
        await ws.send(json.dumps([3, frame[1], payload]))


def bare_ocpp_handler():  # type: ignore[no-untyped-def]
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result

    class CentralSystem16(ChargePoint):
        @on("BootNotification")
        def boot(self, **_):  # type: ignore[no-untyped-def]
            return call_result.BootNotification(current_time=now(), interval=60, status="Accepted")

        @on("Heartbeat")
        def heartbeat(self):  # type: ignore[no-untyped-def]
            return call_result.Heartbeat(current_time=now())

        @on("StatusNotification")
        def status(self, **_):  # type: ignore[no-untyped-def]
            return call_result.StatusNotification()

        @on("MeterValues")
        def meter_values(self, **_):  # type: ignore[no-untyped-def]
            return call_result.MeterValues()

    async def handler(ws) -> None:  # type: ignore[no-untyped-def]
        try:
            await CentralSystem16(ws.request.path.strip("/"), ws).start()
        except Exception:
            pass

    return handler


async def run_lean(stop: asyncio.Event, port: int) -> None:
    from console.csms.transport import Listener

    async def accept(connection, request):  # type: ignore[no-untyped-def]
        return None

    listener = Listener(
        raw_handler, subprotocols=["ocpp1.6"], select_subprotocol=lambda connection, offered: "ocpp1.6",  # type: ignore[list-item,return-value]
        process_request=accept, ping_interval=20, ping_timeout=20, close_timeout=10, max_size=None, compression=False,
    )
    await listener.start("127.0.0.1", port, backlog=4096)
    print(f"listening on ws://127.0.0.1:{listener.sockets[0].getsockname()[1]}", flush=True)
    await stop.wait()
    listener.close()
    await listener.wait_closed()


async def run(kind: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if kind == "raw-lean":
        await run_lean(stop, port)
        return
    if kind == "bare-ocpp-sync":
        import ocpp.messages

        ocpp.messages.ASYNC_VALIDATION = False
    handler = raw_handler if kind == "raw" else bare_ocpp_handler()
    async with serve(handler, "127.0.0.1", port, subprotocols=["ocpp1.6"], compression=None, backlog=4096, max_queue=None) as server:  # type: ignore[list-item]
        print(f"listening on ws://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await stop.wait()


def main() -> None:
    import logging

    logging.getLogger("ocpp").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="benchmarks.baselines")
    parser.add_argument("kind", choices=["raw", "raw-lean", "bare-ocpp", "bare-ocpp-sync"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None)
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    # On the event loop `ocpp-console serve` runs on (uvloop where installed): measured the same way.
    from console.cli import _loop_factory

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(run(args.kind, args.port))


if __name__ == "__main__":
    main()
