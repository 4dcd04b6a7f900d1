"""The cross-node round trip of a cluster: an operation asked on node A for a charger node B holds.

    .ci/with-postgres uv run python -m benchmarks.cluster_bench [--chargers 50] [--calls 1000] [--concurrency 10]

Two nodes (Depots, as `serve --node-name` runs them) in this process on the PostgreSQL at
$OCPP_CONSOLE_TEST_PG (a new database on it), `--chargers` OCPP 1.6 clients connected to node B answering
TriggerMessage. `--calls` operations go through node A's service (each an action opened, routed, settled),
`--concurrency` at a time, then as many through node B's own (local) for comparison; then the same CALLs
through each node's gateway alone (the routing without the action's writes). Prints one JSON line: p50/p99
of each (ms), and the database's load over the routed operations (transactions and rows per second, from
pg_stat_database). Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
import uuid
from typing import Any

import psycopg
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from websockets.asyncio.client import connect

from console.core.cluster import conninfo
from console.core.service import ConsoleService
from console.core.store import Store
from console.depot import Depot, DepotSettings


class Answering(ChargePoint):
    @on("TriggerMessage")
    async def on_trigger(self, requested_message: str, **_: Any) -> call_result.TriggerMessage:
        return call_result.TriggerMessage(status="Accepted")


def new_database(server: str) -> str:
    name = f"cluster_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(conninfo(server), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name


def database_load(url: str) -> tuple[int, int]:
    with psycopg.connect(conninfo(url)) as connection:
        row = connection.execute(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def timed(
    service: ConsoleService, charger_ids: list[str], calls: int, concurrency: int, gateway_only: bool = False
) -> list[float]:
    """Each call's time (ms): an operation through the service (an action written three times), or with
    `gateway_only` the CALL through the ledger's gateway alone (the routing itself)."""
    durations: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    payload = {"requestedMessage": "Heartbeat"}

    async def one(n: int) -> None:
        async with gate:
            charger_id = charger_ids[n % len(charger_ids)]
            started = time.perf_counter()
            if gateway_only:
                gateway = service.ledger.gateway
                assert gateway is not None
                record = service.live.record(charger_id)
                assert record is not None
                answer = await gateway.call(record.identity, "TriggerMessage", payload)
                durations.append((time.perf_counter() - started) * 1000)
                assert answer["status"] == "Accepted", answer
                return
            result = await service.operate(charger_id, "TriggerMessage", payload)
            durations.append((time.perf_counter() - started) * 1000)
            assert result.state == "acknowledged", result

    await asyncio.gather(*(one(n) for n in range(calls)))
    return durations


def percentiles(durations: list[float]) -> dict[str, float]:
    ordered = sorted(durations)
    return {"p50_ms": round(statistics.median(ordered), 2), "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 2)}


async def main(chargers: int, calls: int, concurrency: int) -> dict[str, Any]:
    url = new_database(os.environ["OCPP_CONSOLE_TEST_PG"])
    store = Store(url, owner=True)
    service = ConsoleService(store)
    await service.open()
    ids = [(await service.create_charger({"identity": f"BENCH-{n}"})).id for n in range(chargers)]
    await service.close()
    store.close()
    nodes = []
    for name in ("a", "b"):
        depot = Depot(DepotSettings(db_url=url, ocpp_port=0, simulate=False, first_run_fleet=None, node_name=name))
        await depot.start()
        nodes.append(depot)
    a, b = nodes
    tasks = []
    async with contextlib.AsyncExitStack() as stack:
        for n in range(chargers):
            ws = await stack.enter_async_context(connect(f"{b.central.url}/BENCH-{n}", subprotocols=["ocpp1.6"]))
            client = Answering(f"BENCH-{n}", ws)
            tasks.append(asyncio.create_task(client.start()))
            await client.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        while not all(a.service.ledger.is_connected(f"BENCH-{n}") for n in range(chargers)):
            await asyncio.sleep(0.05)
        before, started = database_load(url), time.perf_counter()
        routed = await timed(a.service, ids, calls, concurrency)
        elapsed = time.perf_counter() - started
        after = database_load(url)
        local = await timed(b.service, ids, calls, concurrency)
        started = time.perf_counter()
        routed_calls = await timed(a.service, ids, calls, concurrency, gateway_only=True)
        routed_calls_elapsed = time.perf_counter() - started
        local_calls = await timed(b.service, ids, calls, concurrency, gateway_only=True)
        for task in tasks:
            task.cancel()
    for depot in nodes:
        await depot.stop()
    return {
        "chargers": chargers,
        "calls": calls,
        "concurrency": concurrency,
        "operation_routed": percentiles(routed),
        "operation_local": percentiles(local),
        "operations_routed_per_s": round(calls / elapsed, 1),
        "call_routed": percentiles(routed_calls),
        "call_local": percentiles(local_calls),
        "calls_routed_per_s": round(calls / routed_calls_elapsed, 1),
        "db_transactions_per_s": round((after[0] - before[0]) / elapsed, 1),
        "db_rows_written_per_s": round((after[1] - before[1]) / elapsed, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    options = parser.parse_args()
    print(json.dumps(asyncio.run(main(options.chargers, options.calls, options.concurrency))))
