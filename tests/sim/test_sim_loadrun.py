"""Load mode: N simulated chargers without a store, in-process and as a process of their own."""

from __future__ import annotations

import argparse
import asyncio
import io
import signal
import sys

from console.core.clock import ManualClock
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.loadrun import add_sim_parser, run_load
from console.sim.manager import SimManager
from console.sim.report import FleetReporter
from simtools import eventually


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_sim_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sim", *argv])


async def register(service: ConsoleService, count: int, version: str = "OCPP1.6") -> None:
    for n in range(1, count + 1):
        await service.create_charger({"identity": f"SIM-{n:04d}", "simulated": True, "ocpp_version": version})


async def test_load_mode_boots_a_small_fleet_and_stops_cleanly(
    service: ConsoleService, central_system: CentralSystem, clock: ManualClock
) -> None:
    await register(service, 5, "OCPP2.0.1")
    args = parse("--count", "5", "--url", central_system.url, "--version", "2.0.1", "--seed", "1", "--report-every", "0.05")
    stop = asyncio.Event()
    out = io.StringIO()
    running: list[tuple[SimManager, FleetReporter]] = []
    task = asyncio.create_task(run_load(args, stop, out, clock=clock, on_ready=lambda m, r: running.append((m, r))))
    await eventually(lambda: running and running[0][1].counts()["booted"] == 5)
    assert central_system.connected_count() == 5
    await eventually(lambda: "5 connected, 5 booted" in out.getvalue())
    stop.set()
    reporter = await asyncio.wait_for(task, 5)
    assert reporter.counts()["errors"] == 0
    assert out.getvalue().splitlines()[-1].startswith("stopped. 5 chargers: 0 connected")
    await eventually(lambda: central_system.connected_count() == 0)


async def test_load_mode_counts_errors(service: ConsoleService, central_system: CentralSystem, clock: ManualClock) -> None:
    await register(service, 2)  # three asked for: SIM-0003 is unknown to the central system
    args = parse("--count", "3", "--url", central_system.url, "--no-sessions", "--report-every", "0.05")
    stop = asyncio.Event()
    out = io.StringIO()
    task = asyncio.create_task(run_load(args, stop, out, clock=clock))
    await eventually(lambda: "2 booted" in out.getvalue() and "handshake_refused 1" in out.getvalue())
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_the_sim_command_runs_in_its_own_process(service: ConsoleService, central_system: CentralSystem) -> None:
    await register(service, 3)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.sim.loadrun",
        "--count", "3", "--url", central_system.url, "--seed", "5", "--report-every", "0.2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await eventually(lambda: central_system.connected_count() == 3, timeout=15)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert lines[0].startswith("starting 3 simulated OCPP 1.6 chargers")
    assert lines[-1].startswith("stopped. 3 chargers")
    await eventually(lambda: central_system.connected_count() == 0)


def test_bad_arguments_are_refused() -> None:
    from console.sim.loadrun import run_sim

    assert run_sim(parse("--count", "0", "--url", "ws://x")) == 2
    assert run_sim(parse("--count", "1", "--url", "http://x")) == 2
