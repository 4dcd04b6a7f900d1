"""`ocpp-console sim`: N simulated chargers against any central system, in a process of their own.

No UI and no store: in-memory charger records and a `FleetReporter` that
counts. A status line every few seconds; SIGINT or SIGTERM stops cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable
from typing import Any, TextIO

from console.core.clock import Clock
from console.sim.charger import SessionPlan
from console.sim.clock import SpeedClock
from console.sim.manager import SimManager, ssl_context_for
from console.sim.report import FleetReporter, simulated_records
from console.core.versions import OcppVersion

VERSIONS = {version.short: version for version in (OcppVersion.V16, OcppVersion.V201)}
# Starting thousands of chargers at once would be a denial of service of our own making.
START_BATCH = 50


def add_sim_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sim",
        help="run N simulated chargers against a central system (load mode, no UI)",
        description="Run N simulated chargers (identities PREFIX0001 …) against any OCPP central system.",
    )
    parser.add_argument("--count", type=int, required=True, help="how many simulated chargers")
    parser.add_argument("--url", required=True, help="the central system's ws:// or wss:// URL (without the identity)")
    parser.add_argument("--version", choices=sorted(VERSIONS), default="1.6", help="OCPP version (default 1.6)")
    parser.add_argument("--prefix", default="SIM-", help="identity prefix (default SIM-)")
    parser.add_argument("--password", default=None, help="HTTP Basic auth password (user name: the identity)")
    parser.add_argument("--ca-file", default=None, help="CA certificate(s) to trust for wss://")
    parser.add_argument("--insecure", action="store_true", help="do not verify the wss:// certificate (labs only)")
    parser.add_argument("--seed", type=int, default=None, help="seed: the same seed repeats the same behaviour")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster")
    parser.add_argument("--connectors", type=int, default=2, help="connectors per charger (default 2)")
    parser.add_argument("--no-sessions", action="store_true", help="no automatic EV sessions, only boot and heartbeat")
    parser.add_argument("--report-every", type=float, default=5.0, help="seconds between status lines (default 5)")
    parser.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds (default: until Ctrl-C)"
    )
    return parser


def _check(args: argparse.Namespace) -> str | None:
    if args.count < 1:
        return "--count must be at least 1"
    if not args.url.startswith(("ws://", "wss://")):
        return "--url must start with ws:// or wss://"
    if args.speed <= 0:
        return "--speed must be positive"
    return None


async def run_load(
    args: argparse.Namespace,
    stop: asyncio.Event,
    out: TextIO = sys.stdout,
    clock: Clock | None = None,
    on_ready: Callable[[SimManager, FleetReporter], None] | None = None,
) -> FleetReporter:
    """Start the fleet, report until `stop` is set (or `--duration` passes), stop the fleet."""
    records = simulated_records(args.count, args.prefix, VERSIONS[args.version], args.connectors)
    reporter = FleetReporter(records)
    ssl_context = ssl_context_for(args.ca_file, args.insecure) if args.url.startswith("wss://") else None
    manager = SimManager(
        reporter,
        clock or SpeedClock(args.speed),
        args.url,
        seed=args.seed,
        auto_sessions=not args.no_sessions,
        password=args.password,
        ssl_context=ssl_context,
        plan=SessionPlan(),
    )
    if on_ready is not None:
        on_ready(manager, reporter)
    print(f"starting {args.count} simulated OCPP {args.version} chargers against {args.url}", file=out, flush=True)
    loop = asyncio.get_running_loop()
    started_at = loop.time()

    async def report() -> None:
        while True:
            await asyncio.sleep(args.report_every)
            print(reporter.summary(), file=out, flush=True)

    reporting = asyncio.create_task(report())
    try:
        for index, charger_id in enumerate(reporter.ids()):
            if stop.is_set():
                break
            await manager.start(charger_id)
            if index % START_BATCH == START_BATCH - 1:
                await asyncio.sleep(0.05)
        remaining = None if args.duration is None else max(0.0, args.duration - (loop.time() - started_at))
        try:
            await asyncio.wait_for(stop.wait(), remaining)
        except TimeoutError:
            pass
    finally:
        reporting.cancel()
        print("stopping …", file=out, flush=True)
        await manager.close()
        print(f"stopped. {reporter.summary()}", file=out, flush=True)
    return reporter


def run_sim(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem is not None:
        print(f"ocpp-console sim: {problem}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_load(args, stop)

    asyncio.run(main())
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m console.sim.loadrun …`: the same as `ocpp-console sim …`."""
    parser = argparse.ArgumentParser(prog="ocpp-console")
    add_sim_parser(parser.add_subparsers(dest="command", required=True))
    return run_sim(parser.parse_args(["sim", *(argv if argv is not None else sys.argv[1:])]))


if __name__ == "__main__":
    sys.exit(main())
