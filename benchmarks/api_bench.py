"""The REST API under concurrent clients while chargers are served: the API's latency and the chargers'.

    uv run python -m benchmarks.api_bench [--chargers 1000] [--clients 200] [--seconds 30] [--period 10]

`ocpp-console serve` on a store of `--chargers` chargers (pinned to CPU 0), the load generator's fleet mode
(pinned to CPU 1: each charger a Heartbeat and a MeterValues every `--period` s, which the server logs and
stores) twice: once alone, then with `--clients` concurrent API clients in this process, each sending GET
requests back to back for the same time (a page of chargers, one charger, its log, its transactions, the
actions; each request with the key, so each checks it against the store). The chargers' answers are timed by
the load generator, the API's by the clients. Prints one JSON line: both runs' charger p50/p99, the API's
requests/s and p50/p99, and how far the chargers' p99 moved. Bounded: about twice `--seconds` and start-up.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.ocpp_bench import PYTHON, Server, free_port, measured, store_with

PREFIX = "LOAD-"
ADDRESS_CONNECTIONS = 50


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def api_load(api: str, key: str, clients: int, seconds: float, chargers: int) -> dict:
    """`clients` clients sending GETs back to back for `seconds`: requests/s, latency, failures."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    identities = [f"{PREFIX}{number:05d}" for number in range(1, chargers + 1)]
    # The server takes at most 100 connections per address: the clients come from several loopback addresses.
    addresses = [f"127.0.0.{2 + number}" for number in range(max(1, -(-clients // ADDRESS_CONNECTIONS)))]
    share = -(-clients // len(addresses))
    https = [
        httpx.AsyncClient(
            base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=60,
            transport=httpx.AsyncHTTPTransport(local_address=address, limits=httpx.Limits(max_connections=share)),
        )
        for address in addresses
    ]
    async with contextlib.AsyncExitStack() as stack:
        for each in https:
            await stack.enter_async_context(each)
        http = https[0]
        ids: dict[str, str] = {}
        for offset in range(0, chargers, 500):
            page = (await http.get("/ocpp/chargers", params={"limit": 500, "offset": offset})).json()
            ids.update((row["identity"], row["id"]) for row in page)
        deadline = time.perf_counter() + seconds

        async def client(number: int) -> None:
            for step in itertools.count(number):
                if time.perf_counter() >= deadline:
                    return
                identity = identities[step % len(identities)]
                charger_id = ids.get(identity, identity)
                path, params = [
                    ("/ocpp/chargers", {"limit": 100}),
                    (f"/ocpp/chargers/{charger_id}", None),
                    (f"/console/chargers/{charger_id}/logs", {"limit": 50}),
                    (f"/ocpp/chargers/{identity}/transactions", None),
                    ("/actions", None),
                ][step % 5]
                started = time.perf_counter()
                try:
                    answer = await https[number % len(https)].get(path, params=params)
                    if answer.status_code >= 400:
                        failures[str(answer.status_code)] = failures.get(str(answer.status_code), 0) + 1
                except httpx.HTTPError as error:
                    failures[type(error).__name__] = failures.get(type(error).__name__, 0) + 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client(number) for number in range(clients)))
        wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "failures": failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--api-rate", type=int, default=100_000, help="serve's --api-rate (high: measure the server, not the limit)")
    args = parser.parse_args()
    figures: dict = {"chargers": args.chargers, "clients": args.clients, "seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="api-bench-") as scratch:
        url = store_with(Path(scratch), args.chargers, PREFIX)
        created = subprocess.run([PYTHON, "-m", "console", "keys", "create", "--label", "api bench", "--db", url],
                                 check=True, capture_output=True, text=True)
        key = created.stdout.split()[0]
        api_port = free_port()
        server = Server([PYTHON, "-m", "console", "serve", "--no-sim", "--ocpp-port", str(free_port()),
                         "--api-port", str(api_port), "--api-rate", str(args.api_rate), "--db", url, "--cpu", "0"])
        fleet = ["--period", str(args.period)]
        try:
            alone = measured(server, "fleet", args.chargers, args.seconds, PREFIX, fleet)
            loaded: dict = {}
            thread = threading.Thread(
                target=lambda: loaded.update(measured(server, "fleet", args.chargers, args.seconds + 10, PREFIX, fleet))
            )
            thread.start()
            time.sleep(8)  # the fleet connected before the clients start
            api = asyncio.run(api_load(f"http://127.0.0.1:{api_port}", key, args.clients, args.seconds, args.chargers))
            thread.join()
        finally:
            server.stop()
    keys = ("p50_ms", "p99_ms", "errors", "server_cpu_share")
    figures["chargers_alone"] = {name: alone.get(name) for name in keys}
    figures["chargers_with_api"] = {name: loaded.get(name) for name in keys}
    figures["api"] = api
    if alone.get("p99_ms"):
        figures["chargers_p99_ratio"] = round(loaded["p99_ms"] / alone["p99_ms"], 2)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
