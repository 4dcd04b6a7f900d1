"""The store's cost per written row: frame logs and meter samples through the batch writer.

    uv run python -m benchmarks.store_bench [--calls 30000] [--calls-per-s 3000] [--repeat 5]
    uv run python -m benchmarks.store_bench --calls-per-s 0 --call-work-us 100 --cpu 0   # a saturated server

A store with 50 chargers (made as `ocpp_bench` makes one), the live state and
the batch writer as the server runs them (flushing every 0.5 s), fed on the
event loop at a steady rate with what the throughput benchmark sends:
Heartbeat and MeterValues in turn, each CALL logged in and out (two frame
rows), each MeterValues two samples. Measures CPU time, not wall time (the
machine is shared): microseconds per written row on the store thread and on
the event-loop thread (not counting --call-work-us), each run on a fresh copy
of the store; the median of the runs. Paced, the loop's figure is mostly its
fixed cost per second (timers, snapshots) spread over the rows; saturated, with
--call-work-us holding the loop as the server's own work does, the store thread
contends for the GIL as it does under the throughput benchmark. Prints one JSON line of figures at the end. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.ocpp_bench import store_with
from console.core.clock import SystemClock
from console.core.events import EventBus
from console.core.live import LiveState
from console.core.models import LogEntry, MeterSample
from console.core.store import Store
from console.core.writer import BatchWriter

CHARGERS = 50
PREFIX = "BENCH"
TIMESTAMP = "2026-04-02T09:15:00.123Z"


def frames(number: int, energy: float) -> tuple[str, str, str]:
    """(action, CALL text, CALLRESULT text) as the load generator sends them and the server answers."""
    message_id = str(number)
    if number % 2 == 0:
        return (
            "Heartbeat",
            f'[2,"{message_id}","Heartbeat",{{}}]',
            f'[3,"{message_id}",{{"currentTime":"2026-04-02T09:15:00.123456+00:00"}}]',
        )
    call = (
        f'[2,"{message_id}","MeterValues",{{"connectorId":1,"meterValue":[{{"timestamp":"{TIMESTAMP}",'
        f'"sampledValue":[{{"value":"{energy:.1f}","measurand":"Energy.Active.Import.Register","unit":"Wh"}},'
        '{"value":"11000","measurand":"Power.Active.Import","unit":"W"}]}]}]'
    )
    return "MeterValues", call, f'[3,"{message_id}",{{}}]'


def thread_cpu(store: Store) -> float:
    """CPU seconds the store thread has used so far."""
    return store._executor.submit(time.thread_time).result()


def busy(seconds: float) -> float:
    """Hold the event loop (and the GIL) for `seconds` of CPU, as the rest of the server's handling of a CALL does."""
    started = time.thread_time()
    now = started
    while now < started + seconds:
        now = time.thread_time()
    return now - started


async def feed(live: LiveState, writer: BatchWriter, calls: int, calls_per_s: float, call_work: float) -> tuple[int, float]:
    """Send `calls` CALLs at `calls_per_s`, as the server's handlers record them; returns the sample rows and the CPU spent busy."""
    identities = [f"{PREFIX}{number:05d}" for number in range(1, CHARGERS + 1)]
    charger_ids = [live.charger_id_for(identity) for identity in identities]
    energy = [30.5 * (number // CHARGERS + 1) for number in range(calls)]
    # Built beforehand: what is measured is the server's part.
    sent_frames = [frames(number, energy[number]) for number in range(calls)]
    samples = 0
    sent = 0
    spent = 0.0
    started = time.perf_counter()
    while sent < calls:
        if calls_per_s > 0:
            due = min(calls, int((time.perf_counter() - started) * calls_per_s) + 1)
        else:  # as fast as the event loop goes: a CALL from every charger, then others' turn
            due = min(calls, sent + CHARGERS)
        while sent < due:
            index = sent % CHARGERS
            identity, charger_id = identities[index], charger_ids[index]
            action, call, result = sent_frames[sent]
            live.log(identity, "in", call, action=action, message_id=str(sent))
            if action == "Heartbeat":
                live.heartbeat(charger_id)
            else:
                at = datetime.fromisoformat(TIMESTAMP.replace("Z", "+00:00"))
                live.meter_values(
                    charger_id,
                    1,
                    None,
                    [
                        (at, "Energy.Active.Import.Register", None, "Wh", energy[sent]),
                        (at, "Power.Active.Import", None, "W", 11000.0),
                    ],
                )
                samples += 2
            live.log(identity, "out", result, action=action, message_id=str(sent))
            if call_work:
                spent += busy(call_work)
            sent += 1
        if writer.backlogged:
            await writer.drained()
        await asyncio.sleep(0.002 if calls_per_s > 0 else 0)
    return samples, spent


async def one_run(url: str, calls: int, calls_per_s: float, interval: float, call_work: float) -> dict[str, float]:
    store = Store(url)
    writer = BatchWriter(store, interval=interval)
    live = LiveState(store, EventBus(), SystemClock(), writer)
    store.run_sync(live.load)
    logged_before = store.run_sync(lambda session: session.execute(select(func.count()).select_from(LogEntry)).scalar_one())
    writer.start()
    store_started = thread_cpu(store)
    loop_started = time.thread_time()
    process_started = time.process_time()
    wall_started = time.perf_counter()
    samples, busy_cpu = await feed(live, writer, calls, calls_per_s, call_work)
    await writer.stop()
    wall = time.perf_counter() - wall_started
    loop_cpu = time.thread_time() - loop_started - busy_cpu
    store_cpu = thread_cpu(store) - store_started
    process_cpu = time.process_time() - process_started - busy_cpu

    def counts(session):  # type: ignore[no-untyped-def]
        return (
            session.execute(select(func.count()).select_from(LogEntry)).scalar_one(),
            session.execute(select(func.count()).select_from(MeterSample)).scalar_one(),
        )

    logged, sampled = store.run_sync(counts)
    store.close()
    rows = 2 * calls + samples
    if (logged - logged_before, sampled) != (2 * calls, samples):
        raise RuntimeError(f"rows missing: {logged - logged_before} frames, {sampled} samples written")
    return {
        "store_us_per_row": store_cpu / rows * 1e6,
        "loop_us_per_row": loop_cpu / rows * 1e6,
        "process_us_per_row": process_cpu / rows * 1e6,
        "rows_per_s": rows / wall,
        "rows": rows,
    }


def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="store-bench-") as temp:
        directory = Path(temp)
        template = store_with(directory, CHARGERS, PREFIX)
        template_path = Path(template.removeprefix("sqlite:///"))
        runs = []
        for number in range(args.repeat):
            path = directory / f"run-{number}.db"
            shutil.copy(template_path, path)
            figures = asyncio.run(
                one_run(f"sqlite:///{path}", args.calls, args.calls_per_s, args.interval, args.call_work_us / 1e6)
            )
            print(f"# run {number + 1}: {json.dumps({name: round(value, 2) for name, value in figures.items()})}", file=sys.stderr, flush=True)
            runs.append(figures)
    median = {name: round(statistics.median(figures[name] for figures in runs), 2) for name in runs[0]}
    return {
        "benchmark": "store",
        "calls": args.calls,
        "calls_per_s": args.calls_per_s,
        "interval": args.interval,
        "cpu": args.cpu,
        "call_work_us": args.call_work_us,
        "repeat": args.repeat,
        **median,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30_000, help="CALLs sent (two frame rows each, two samples per MeterValues)")
    parser.add_argument("--calls-per-s", type=float, default=3_000, help="the rate they are sent at (0: as fast as they go)")
    parser.add_argument(
        "--call-work-us", type=float, default=0, help="CPU the rest of the server spends on a CALL, spent on the event loop (busy)"
    )
    parser.add_argument("--cpu", type=int, help="pin the process to this CPU, as ocpp_bench pins the server (the store thread then shares it with the event loop)")
    parser.add_argument("--interval", type=float, default=0.5, help="the writer's flush interval (s)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
