"""Bytes written to disk per CALL, and how many times the store's own growth that is (write amplification).

    uv run python -m benchmarks.write_bench [--chargers 1000] [--calls 20000] [--calls-per-s 1000] [--interval 0.5]

A store with `--chargers` chargers (made as `ocpp_bench` makes one), the live state and the batch writer as
the server runs them, fed on the event loop at a steady rate with what the throughput benchmark sends
(store_bench's frames: Heartbeat and MeterValues in turn from each charger, each CALL logged in and out,
each MeterValues two samples). Counts the bytes this process hands to write() (`wchar` in /proc/self/io:
the store file, its write-ahead log and the checkpoints that copy the log into the store; what the disk
sees, before the file system's own) from the first row to the last, a final checkpoint included, and the
store's growth (its pages in use). Prints one JSON line: bytes written and grown per CALL, the ratio, and
the frame-log and meter-sample bytes per row (dbstat). Linux only. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import text

from benchmarks.ocpp_bench import store_with
from benchmarks.store_bench import TIMESTAMP, frames
from console.core.clock import SystemClock
from console.core.events import EventBus
from console.core.live import LiveState
from console.core.retention import table_bytes
from console.core.store import Store
from console.core.writer import BatchWriter

PREFIX = "BENCH"


def written() -> int:
    """Bytes this process has handed to write() so far."""
    for line in Path("/proc/self/io").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "wchar":
            return int(value)
    raise RuntimeError("no wchar in /proc/self/io")


def prefill(store: Store, rows: int) -> None:
    """`rows` frame rows and as many meter samples already in the store, spread over its chargers (a store in use:
    its indexes by charger are large, so a batch's rows land on many of their pages)."""

    def fill(session):  # type: ignore[no-untyped-def]
        session.execute(text("CREATE TEMP TABLE ids AS SELECT id, row_number() OVER () - 1 AS n FROM charger"))
        chargers = session.execute(text("SELECT count(*) FROM ids")).scalar_one()
        frame = '[2,"1","Heartbeat",{}]'
        session.execute(
            text(
                "WITH RECURSIVE k(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM k WHERE x + 1 < :rows) "
                "INSERT INTO logentry (charger_id, identity, at, direction, action, message_id, message) "
                "SELECT ids.id, 'BENCH', '2026-04-01 09:15:00.000000', 'in', 'Heartbeat', '1', :frame "
                "FROM k JOIN ids ON ids.n = k.x % :chargers"
            ),
            {"rows": rows, "frame": frame, "chargers": chargers},
        )
        session.execute(
            text(
                "WITH RECURSIVE k(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM k WHERE x + 1 < :rows) "
                "INSERT INTO metersample (charger_id, connector_id, at, measurand, unit, value) "
                "SELECT ids.id, 1, datetime('2026-03-01', '+' || (k.x / :chargers) || ' minutes'), "
                "'Energy.Active.Import.Register', 'Wh', k.x FROM k JOIN ids ON ids.n = k.x % :chargers"
            ),
            {"rows": rows, "chargers": chargers},
        )
        session.commit()

    store.run_sync(fill)


def used_bytes(store: Store) -> tuple[int, dict[str, int]]:
    def read(session):  # type: ignore[no-untyped-def]
        page = session.execute(text("PRAGMA page_size")).scalar_one()
        pages = session.execute(text("PRAGMA page_count")).scalar_one() - session.execute(text("PRAGMA freelist_count")).scalar_one()
        return pages * page, table_bytes(session)

    return store.run_sync(read)


async def feed(live: LiveState, writer: BatchWriter, chargers: int, calls: int, calls_per_s: float) -> None:
    identities = [f"{PREFIX}{number:05d}" for number in range(1, chargers + 1)]
    charger_ids = [live.charger_id_for(identity) for identity in identities]
    at = datetime.fromisoformat(TIMESTAMP.replace("Z", "+00:00"))
    started = time.perf_counter()
    sent = 0
    while sent < calls:
        due = min(calls, int((time.perf_counter() - started) * calls_per_s) + 1)
        while sent < due:
            index = sent % chargers
            identity, charger_id = identities[index], charger_ids[index]
            energy = 30.5 * (sent // chargers + 1)
            # Each charger alternates: its even CALLs Heartbeat, its odd ones MeterValues.
            action, call, result = frames(2 * (sent // chargers) + (index % 2), energy)
            live.log(identity, "in", call, action=action, message_id=str(sent))
            if action == "Heartbeat":
                live.heartbeat(charger_id)
            else:
                live.meter_values(
                    charger_id, 1, None,
                    [(at, "Energy.Active.Import.Register", None, "Wh", energy), (at, "Power.Active.Import", None, "W", 11000.0)],
                )
            live.log(identity, "out", result, action=action, message_id=str(sent))
            sent += 1
        if writer.backlogged:
            await writer.drained()
        await asyncio.sleep(0.002)


async def one_run(url: str, chargers: int, calls: int, calls_per_s: float, interval: float, prefilled: int) -> dict[str, float]:
    store = Store(url)
    writer = BatchWriter(store, interval=interval)
    live = LiveState(store, EventBus(), SystemClock(), writer)
    if prefilled:  # before the live state loads: it numbers the frames it logs after the highest
        prefill(store, prefilled)
    store.run_sync(live.load)
    store.run_sync(lambda _session: store.checkpoint())
    size_before, tables_before = used_bytes(store)
    writer.start()
    before = written()
    await feed(live, writer, chargers, calls, calls_per_s)
    await writer.stop()
    store.run_sync(lambda _session: store.checkpoint())
    wrote = written() - before
    size_after, tables_after = used_bytes(store)

    def rows(session):  # type: ignore[no-untyped-def]
        return {
            name: session.execute(text(f"SELECT count(*) FROM {name}")).scalar_one() for name in ("logentry", "metersample")
        }

    counts = store.run_sync(rows)
    store.close()
    grown = size_after - size_before
    return {
        "written_bytes_per_call": round(wrote / calls),
        "grown_bytes_per_call": round(grown / calls),
        "amplification": round(wrote / grown, 1) if grown else 0.0,
        "frame_row_bytes": round(tables_after["logentry"] / counts["logentry"]),
        "sample_row_bytes": round(tables_after["metersample"] / max(1, counts["metersample"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--calls-per-s", type=float, default=1_000)
    parser.add_argument("--interval", type=float, default=0.5, help="the writer's flush interval (s)")
    parser.add_argument("--prefill", type=int, default=1_000_000, help="frame rows and meter samples in the store before (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="write-bench-") as temp:
        directory = Path(temp)
        template = Path(store_with(directory, args.chargers, PREFIX).removeprefix("sqlite:///"))
        path = directory / "run.db"
        shutil.copy(template, path)
        figures = asyncio.run(one_run(f"sqlite:///{path}", args.chargers, args.calls, args.calls_per_s, args.interval, args.prefill))
    print(json.dumps({"benchmark": "write", **vars(args), **figures}), file=sys.stdout)


if __name__ == "__main__":
    main()
