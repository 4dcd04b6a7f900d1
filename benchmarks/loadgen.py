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

    uv run python -m benchmarks.loadgen throughput --url ws://127.0.0.1:9000 --prefix LOAD- --connections 50 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import connect

LOOPBACK = ("ws://127.0.0.1", "ws://localhost", "ws://[::1]")


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


class Client:
    """One charger: sends CALLs and waits for the answer to each (OCPP-J allows one at a time)."""

    def __init__(self, identity: str, figures: Figures) -> None:
        self.identity = identity
        self.figures = figures
        self.ids = itertools.count(1)
        self.ws = None
        self.energy = 0.0

    async def open(self, url: str) -> None:
        started = time.perf_counter()
        self.ws = await connect(f"{url}/{self.identity}", subprotocols=["ocpp1.6"], compression=None, open_timeout=60, max_queue=None)  # type: ignore[arg-type]
        self.figures.connect_times.append(time.perf_counter() - started)

    async def call(self, action: str, payload: dict) -> None:
        assert self.ws is not None
        message_id = str(next(self.ids))
        started = time.perf_counter()
        await self.ws.send(json.dumps([2, message_id, action, payload]))
        while True:
            answer = json.loads(await self.ws.recv())
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
        await self.call("BootNotification", {"chargePointVendor": "Load", "chargePointModel": "Gen"})
        await self.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})

    def meter_values(self) -> dict:
        self.energy += 30.5
        return {
            "connectorId": 1,
            "meterValue": [
                {
                    "timestamp": "2026-04-02T09:15:00Z",
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
    clients = [Client(f"{args.prefix}{number:05d}", figures) for number in range(1, args.connections + 1)]
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
    clients = [Client(f"{args.prefix}{number:05d}", figures) for number in range(1, args.connections + 1)]
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
                    await client.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": status})
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
    args = parser.parse_args()
    if not args.url.startswith(LOOPBACK):
        parser.error("the load generator only targets loopback addresses")
    args.seconds = min(args.seconds, 600.0)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    figures = Figures()
    (run_started, wait_started), wall_started = scheduled_seconds(), time.perf_counter()
    result = asyncio.run(throughput(args, figures) if args.mode == "throughput" else fleet(args, figures))
    run_ended, wait_ended = scheduled_seconds()
    wall = time.perf_counter() - wall_started
    cpu_share = (run_ended - run_started) / wall
    # On a shared machine the generator may have wanted its core and not had it: that limits it too.
    wanted_share = (run_ended - run_started + wait_ended - wait_started) / wall
    result.update(
        {
            "mode": args.mode,
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
