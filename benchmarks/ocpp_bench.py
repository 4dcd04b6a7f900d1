"""OCPP server benchmarks, side by side with their baselines in one run.

    uv run python -m benchmarks.ocpp_bench throughput [--connections 50] [--seconds 10] [--rounds 3] [--compare-transports] [--compare-bare-sync]
    uv run python -m benchmarks.ocpp_bench fleet [--chargers 1000 5000 10000] [--seconds 60] [--db-server postgresql://…]
    uv run python -m benchmarks.ocpp_bench startup [--chargers 10000]
    uv run python -m benchmarks.ocpp_bench compression [--chargers 2000] [--seconds 10]

Each server runs in its own process pinned to CPU 0 and the load generator
(benchmarks.loadgen) in another pinned to CPU 1, on loopback. `ocpp-console
serve` runs with persistence on (a SQLite file in a temporary directory, every
frame and meter value written); the fleet benchmark's store is a new database on
a PostgreSQL server instead with `--db-server URL` (any database there: the
benchmark creates its own beside it, and drops it after). Prints one JSON line
of figures at the end. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.loadgen import scheduled_seconds

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def fleet_file(directory: Path, count: int, prefix: str, ocpp_version: str = "OCPP1.6") -> Path:
    chargers = [
        {
            "identity": f"{prefix}{number:05d}",
            "name": f"Load {number}",
            "vendor_name": "Load",
            "model": "Gen",
            "ocpp_version": ocpp_version,
            "number_of_connectors": 1,
            "max_charging_power": 22000,
            "simulated": False,
        }
        for number in range(1, count + 1)
    ]
    path = directory / f"fleet-{count}-{ocpp_version}.json"
    path.write_text(json.dumps({"locations": [], "chargers": chargers}))
    return path


def store_with(directory: Path, count: int, prefix: str, ocpp_version: str = "OCPP1.6", server: str | None = None) -> str:
    url = f"sqlite:///{directory / f'bench-{count}-{ocpp_version}.db'}" if server is None else postgres_database(server, f"bench_{count}_{os.getpid()}")
    subprocess.run(
        [PYTHON, "-m", "console", "fleet", "import", str(fleet_file(directory, count, prefix, ocpp_version)), "--db", url],
        check=True, capture_output=True,
    )
    return url


def postgres_database(server: str, name: str) -> str:
    """A new empty database `name` on the PostgreSQL server of the URL `server` (one there already is dropped); its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    maintenance = make_url(server).set(drivername="postgresql")
    with psycopg.connect(maintenance.render_as_string(hide_password=False), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return maintenance.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    maintenance = make_url(url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(maintenance.render_as_string(hide_password=False), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


class Server:
    """A server process; waits for its 'listening on ws://…' line."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.started = time.perf_counter()
        environment = {**os.environ, **(env or {})}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={name: value for name, value in environment.items() if value != ""},  # "" unsets
        )
        self.url = ""
        deadline = time.monotonic() + 120
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"server exited: {command}")
            found = re.search(r"listening on (ws://\S+)", line)
            if found:
                self.url = found.group(1)
                self.ready_after = time.perf_counter() - self.started
                break
        else:
            raise RuntimeError("server did not start")
        # Keep draining its output so it never blocks on a full pipe.
        import threading

        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass

    def rss_mb(self) -> float | None:
        return rss_mb(self.process.pid)

    def scheduled(self) -> tuple[float, float]:
        return scheduled_seconds(str(self.process.pid))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def loadgen(mode: str, url: str, connections: int, seconds: float, prefix: str, extra: list[str] | None = None) -> dict:
    result = subprocess.run(
        [PYTHON, "-m", "benchmarks.loadgen", mode, "--url", url, "--connections", str(connections),
         "--seconds", str(seconds), "--prefix", prefix, "--cpu", "1", *(extra or [])],
        capture_output=True, text=True, timeout=seconds + 900,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"load generator failed: {result.stderr[-2000:]}")
    return json.loads(lines[-1])


def console_server(db_url: str, env: dict[str, str] | None = None) -> Server:
    return Server(
        [PYTHON, "-m", "console", "serve", "--no-sim", "--ocpp-port", str(free_port()), "--api-port", "0",
         "--db", db_url, "--cpu", "0"],
        env,
    )


def measured(server: Server, mode: str, connections: int, seconds: float, prefix: str, extra: list[str] | None = None) -> dict:
    """The load generator's figures, with the server's RSS and the CPU time it used meanwhile.

    On a busy machine the server gets less than its core: `server_cpu_share`
    says how much it had, and `calls_per_server_cpu_s` is what one full core
    of it would answer (the figure to compare between runs when others load
    the machine).
    """
    run_before, wait_before = server.scheduled()
    figures = loadgen(mode, server.url, connections, seconds, prefix, extra)
    run_after, wait_after = server.scheduled()
    figures["server_rss_mb"] = server.rss_mb()
    used, waited = run_after - run_before, wait_after - wait_before
    if used > 0:
        figures["server_cpu_s"] = round(used, 2)
        figures["server_cpu_share"] = round(used / max(figures["wall_s"], 1e-9), 2)
        # Runnable but not running: another process had the server's core.
        figures["server_wanted_share"] = round((used + waited) / max(figures["wall_s"], 1e-9), 2)
        figures["calls_per_server_cpu_s"] = round(figures["answered_total"] / used, 1)
    return figures


def baseline_server(kind: str) -> Server:
    return Server([PYTHON, "-m", "benchmarks.baselines", kind, "--port", str(free_port()), "--cpu", "0"])


def rows_written(db_url: str) -> dict[str, int]:
    import sqlite3

    if db_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(db_url) as connection:
            return {
                table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                for table in ("metersample", "logentry")
            }
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return {
            table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("metersample", "logentry")
        }


def _median_run(runs: list[dict]) -> dict:
    """The run with the median CALLs/s (the lower middle one of an even count), with every run's figure."""
    ordered = sorted(runs, key=lambda run: run["calls_per_s"])
    middle = dict(ordered[(len(ordered) - 1) // 2])
    middle["rounds_calls_per_s"] = [run["calls_per_s"] for run in runs]
    return middle


def throughput(args: argparse.Namespace) -> dict:
    """Every server once per round, in turn, so a machine that slows down or speeds up meanwhile
    touches them all alike; each figure is its median run, and each ratio the median of the
    rounds' own ratios (servers measured a minute apart, not ten)."""
    prefix = "LOAD-"
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as directory:
        first = store_with(Path(directory), args.connections, prefix)
        names = ["raw", "raw-lean", "bare-ocpp", "console"]
        if args.compare_transports:  # the console once more on websockets' asyncio connection layer
            names.append("console-asyncio")
        if args.compare_bare_sync:  # the package with its validation on the event loop, not its thread pool
            names.append("bare-ocpp-sync")
        for round_number in range(args.rounds):
            for name in names:
                if name.startswith("console"):
                    # Each console run starts from the same store: a copy of the one made at the start.
                    path = Path(directory) / f"run-{round_number}-{name}.db"
                    shutil.copyfile(first.removeprefix("sqlite:///"), path)
                    db_url = f"sqlite:///{path}"
                    transport = "sansio" if name == "console" else "asyncio"
                    server = console_server(db_url, {"OCPP_CONSOLE_TRANSPORT": transport})
                else:
                    server = baseline_server(name)
                try:
                    figures = measured(server, "throughput", args.connections, args.seconds, prefix)
                finally:
                    server.stop()
                if name.startswith("console"):
                    figures["rows"] = rows_written(db_url)
                runs.setdefault(name, []).append(figures)
                print(f"# round {round_number + 1}/{args.rounds} {name}: {figures}", file=sys.stderr, flush=True)
    results = {name: _median_run(name_runs) for name, name_runs in runs.items()}

    def ratio(name: str, baseline: str, figure: str = "calls_per_s") -> float:
        """The median over the rounds of name's figure against the baseline's in the same round."""
        ratios = [
            (mine.get(figure) or 0.0) / (theirs.get(figure) or 1.0)
            for mine, theirs in zip(runs[name], runs[baseline], strict=True)
        ]
        return round(statistics.median(ratios), 2)

    console_vs_bare = ratio("console", "bare-ocpp")
    return {
        "benchmark": "throughput",
        "connections": args.connections,
        "rounds": args.rounds,
        "results": results,
        "console_vs_bare_ocpp": console_vs_bare,
        "console_vs_bare_ocpp_rounds": [
            round(mine["calls_per_s"] / (theirs["calls_per_s"] or 1), 2)
            for mine, theirs in zip(runs["console"], runs["bare-ocpp"], strict=True)
        ],
        "console_vs_raw": ratio("console", "raw"),
        "console_vs_raw_lean": ratio("console", "raw-lean"),
        "target_4x_bare_met": console_vs_bare >= 4,
        # Per CPU-second of the server: what each would do with its core to itself.
        "per_cpu_console_vs_bare_ocpp": ratio("console", "bare-ocpp", "calls_per_server_cpu_s"),
        "per_cpu_console_vs_raw": ratio("console", "raw", "calls_per_server_cpu_s"),
        **({"console_vs_bare_ocpp_sync": ratio("console", "bare-ocpp-sync")} if args.compare_bare_sync else {}),
        **(
            {"per_cpu_sansio_vs_asyncio": ratio("console", "console-asyncio", "calls_per_server_cpu_s")}
            if args.compare_transports else {}
        ),
        "loadgen_limited": any(run.get("loadgen_is_bottleneck") for name_runs in runs.values() for run in name_runs),
    }


def fleet(args: argparse.Namespace) -> dict:
    prefix = "FLEET-"
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for count in args.chargers:
            db_url = store_with(Path(directory), count, prefix, server=args.db_server)
            server = console_server(db_url)
            try:
                before = rows_written(db_url)
                figures = measured(server, "fleet", count, args.seconds, prefix, ["--period", str(args.period)])
                rss = figures["server_rss_mb"]
                figures["rss_kb_per_connection"] = round(rss * 1024 / count, 1) if rss else None
            finally:
                server.stop()
            after = rows_written(db_url)
            if args.db_server:
                drop_postgres_database(db_url)
            written = sum(after.values()) - sum(before.values())
            figures["rows_written"] = written
            figures["rows_per_s"] = round(written / figures["seconds"], 1)
            # Every answered CALL is two frames in the log; every MeterValues two samples.
            figures["frames_logged_per_call"] = round((after["logentry"] - before["logentry"]) / max(1, figures["answered"]), 2)
            results[str(count)] = figures
            print(f"# {count}: {figures}", file=sys.stderr, flush=True)
    store = "postgresql" if args.db_server else "sqlite"
    return {"benchmark": "fleet", "store": store, "period_s": args.period, "results": results}


def compression(args: argparse.Namespace) -> dict:
    """permessage-deflate on and off, per OCPP version: what it costs the server in CPU and memory.

    Clients (the websockets library's, the one that can offer the extension)
    offer it or not; the server is started with compression allowed for every
    version, so an offer is taken. Throughput (`--connections` back to back)
    gives the CPU per CALL; a fleet of `--chargers` (the first) idling on a
    10 s period gives the memory per connection.
    """
    results: dict[str, dict] = {}
    count = args.chargers[0]
    allow_all = {"OCPP_CONSOLE_COMPRESSION": "ocpp1.6=on,ocpp2.0.1=on,ocpp2.1=on"}
    keys = ("calls_per_s", "calls_per_server_cpu_s", "server_cpu_share", "p50_ms", "p99_ms", "errors", "server_rss_mb", "loadgen_is_bottleneck")
    with tempfile.TemporaryDirectory() as directory:
        for version, flag in (("OCPP1.6", "1.6"), ("OCPP2.0.1", "2.0.1")):
            db_url = store_with(Path(directory), max(count, args.connections), "ZIP-", version)
            for offered in ("none", "deflate"):
                extra = ["--transport", "websockets", "--ocpp", flag, "--compression", offered]
                server = console_server(db_url, allow_all)
                try:
                    speed = measured(server, "throughput", args.connections, args.seconds, "ZIP-", extra)
                finally:
                    server.stop()
                server = console_server(db_url, allow_all)
                try:
                    idle = measured(server, "fleet", count, args.seconds, "ZIP-", [*extra, "--period", str(args.period)])
                finally:
                    server.stop()
                figures = {
                    "throughput": {key: speed.get(key) for key in keys},
                    "fleet": {key: idle.get(key) for key in (*keys, "connect_all_s")},
                }
                rss = idle.get("server_rss_mb")
                figures["fleet"]["rss_kb_per_connection"] = round(rss * 1024 / count, 1) if rss else None
                results[f"{version}/{'deflate' if offered == 'deflate' else 'off'}"] = figures
                print(f"# {version} {offered}: {figures}", file=sys.stderr, flush=True)
    return {"benchmark": "compression", "connections": args.connections, "chargers": count, "results": results}


def startup(args: argparse.Namespace) -> dict:
    """Time to listening, twice: the first start may compile every module (no bytecode cache yet,
    or PYTHONDONTWRITEBYTECODE set), the second is what a depot box sees on every restart."""
    starts = []
    with tempfile.TemporaryDirectory() as directory:
        db_url = store_with(Path(directory), args.chargers[0], "BOOT-")
        for _ in range(2):
            server = console_server(db_url, {"PYTHONDONTWRITEBYTECODE": ""})
            starts.append((server.ready_after, server.rss_mb()))
            server.stop()
    return {
        "benchmark": "startup",
        "chargers": args.chargers[0],
        "first_ready_s": round(starts[0][0], 2),
        "ready_s": round(starts[1][0], 2),
        "server_rss_mb": starts[1][1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.ocpp_bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", choices=["throughput", "fleet", "startup", "compression"])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="throughput: run every server this many times, in turn; figures are medians (default 3)",
    )
    parser.add_argument("--chargers", type=int, nargs="+", default=None)
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument(
        "--db-server", metavar="URL", default=None,
        help="fleet: a PostgreSQL server (postgresql://user@host:port/db) to make each store on, instead of a SQLite file",
    )
    parser.add_argument(
        "--compare-transports", action="store_true",
        help="throughput: also run the console on websockets' asyncio connection layer (OCPP_CONSOLE_TRANSPORT=asyncio)",
    )
    parser.add_argument(
        "--compare-bare-sync", action="store_true",
        help="throughput: also run the bare ocpp package validating on the event loop (ASYNC_VALIDATION off)",
    )
    args = parser.parse_args()
    if args.chargers is None:
        args.chargers = {"startup": [10_000], "compression": [2_000]}.get(args.benchmark, [1_000, 5_000, 10_000])
    run = {"throughput": throughput, "fleet": fleet, "startup": startup, "compression": compression}[args.benchmark]
    print(json.dumps(run(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
