"""The fleet benchmark while the pruner works through a store's old rows, against the same without pruning.

    uv run python -m benchmarks.prune_bench [--chargers 1000] [--seconds 30] [--prefill 1000000] [--period 10]

Twice on a copy of one store holding `--prefill` old frame rows and as many old meter samples: `serve` keeping
every kind for good (no pruning), then with every kind kept one minute (the pruner
rolls up and deletes the old rows in batches the whole time). Each time the load generator's fleet mode
(`--chargers` chargers, a CALL every `--period` s each) measures the answers' latency. Prints one JSON line:
both runs' p50/p99, how far p99 moved, and what the pruner had done by the end. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
from contextlib import closing
from pathlib import Path

from benchmarks.ocpp_bench import PYTHON, Server, free_port, measured, store_with
from benchmarks.write_bench import prefill
from console.core.store import Store

PREFIX = "FLEET-"
KEYS = ("calls_per_s", "p50_ms", "p99_ms", "errors", "server_cpu_share")


def counts(path: Path) -> dict[str, int]:
    """Rows per table, and the old (prefilled) frames and samples still there."""
    with closing(sqlite3.connect(path)) as connection:
        found = {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("logentry", "metersample", "meterrollup")
        }
        for table in ("logentry", "metersample"):
            found[f"old_{table}"] = connection.execute(f"SELECT count(*) FROM {table} WHERE at < '2026-05-01'").fetchone()[0]
        return found


def run_once(path: Path, chargers: int, seconds: float, period: float, retention: str) -> dict:
    command = [PYTHON, "-m", "console", "serve", "--no-sim", "--ocpp-port", str(free_port()), "--api-port", "0",
               "--db", f"sqlite:///{path}", "--cpu", "0", "--retention", retention]
    before = counts(path)
    server = Server(command)
    try:
        figures = measured(server, "fleet", chargers, seconds, PREFIX, ["--period", str(period)])
    finally:
        server.stop()
    after = counts(path)
    return {
        **{key: figures.get(key) for key in KEYS},
        "frames_pruned": before["old_logentry"] - after["old_logentry"],
        "samples_pruned": before["old_metersample"] - after["old_metersample"],
        "rollups_written": after["meterrollup"] - before["meterrollup"],
        "store_mb": round(path.stat().st_size / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--prefill", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prune-bench-") as temp:
        directory = Path(temp)
        template = Path(store_with(directory, args.chargers, PREFIX).removeprefix("sqlite:///"))
        store = Store(f"sqlite:///{template}")
        prefill(store, args.prefill)
        store.run_sync(lambda _session: store.checkpoint())
        store.close()
        runs = {}
        kinds = ("frames", "samples", "rollups", "events", "unknown")
        for name, retention in (
            ("idle", ",".join(f"{kind}=forever" for kind in kinds)),
            ("pruning", "frames=1m,samples=1m,events=1m,unknown=1m"),
        ):
            path = directory / f"{name}.db"
            shutil.copy(template, path)
            runs[name] = run_once(path, args.chargers, args.seconds, args.period, retention)
            print(f"# {name}: {runs[name]}", file=sys.stderr, flush=True)
    idle, pruning = runs["idle"]["p99_ms"], runs["pruning"]["p99_ms"]
    moved = round((pruning - idle) / idle * 100, 1) if idle and pruning is not None else None
    print(json.dumps({"benchmark": "prune", **vars(args), **runs, "p99_moved_percent": moved}))


if __name__ == "__main__":
    main()
