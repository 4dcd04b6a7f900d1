"""How fast the store grows per charger-hour under the project's own simulator, per kind of row.

    uv run python -m benchmarks.growth_bench [--chargers 100] [--speed 10] [--seconds 60] [--warmup 15]

`ocpp-console serve` on a new SQLite file (its fleet: `--chargers` chargers with two connectors, imported
first) and `ocpp-console sim` against it (the same identities, EV sessions on, 10-s meter samples, simulated
time `--speed` times faster). After `--warmup` seconds (the fleet booted, sessions under way) the store's
bytes per table (dbstat: pages in use, indexes included) and rows are read, and again `--seconds` later;
what grew in between, divided by the simulated charger-hours, is the growth per charger-hour. Prints one
JSON line: bytes per charger-hour in all and per kind, the bytes the server wrote to disk per charger-hour, bytes per frame row and per meter-sample row.
With `--retention` (kinds kept minutes), serve prunes meanwhile: the figures add what `store stats` says at the
end (rows per kind, the oldest row of each, the store and its write-ahead log) and the largest the log grew.
Bounded: about warmup + seconds + a few seconds of start-up. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from benchmarks.ocpp_bench import PYTHON, Server, free_port

PREFIX = "GROW-"
KINDS = {"logentry": "frames", "metersample": "samples", "streamevent": "events", "transaction": "sessions"}


def fleet(directory: Path, count: int, version: str) -> Path:
    width = max(4, len(str(count)))
    chargers = [
        {"identity": f"{PREFIX}{n:0{width}d}", "name": f"Grow {n}", "ocpp_version": f"OCPP{version}",
         "number_of_connectors": 2, "max_charging_power": 22000, "simulated": False}
        for n in range(1, count + 1)
    ]
    path = directory / "fleet.json"
    path.write_text(json.dumps({"locations": [], "chargers": chargers}))
    return path


def written(pid: int) -> int:
    """Bytes the server process has handed to write() so far (its store, log and checkpoints; Linux)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "wchar":
            return int(value)
    return 0


def snapshot(path: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(bytes per table, rows per table) of the store as it is now, read beside the running server."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as connection:
        sizes = dict(
            connection.execute(
                "SELECT coalesce(m.tbl_name, s.name), SUM(s.pgsize) FROM dbstat s "
                "LEFT JOIN sqlite_schema m ON m.name = s.name GROUP BY 1"
            ).fetchall()
        )
        rows = {table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in KINDS}
    return sizes, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", type=int, default=100)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--version", choices=("1.6", "2.0.1"), default="1.6", help="the chargers' OCPP version")
    parser.add_argument("--retention", default=None,
                        help="serve's --retention (e.g. frames=1m,samples=2m): then the figures add `store stats` at the end")
    parser.add_argument("--keep", type=Path, default=None, help="copy the store here at the end (to look at its rows)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="growth-bench-") as scratch:
        directory = Path(scratch)
        path = directory / "growth.db"
        url = f"sqlite:///{path}"
        subprocess.run([PYTHON, "-m", "console", "fleet", "import", str(fleet(directory, args.chargers, args.version)), "--db", url],
                       check=True, capture_output=True)
        retention = ["--retention", args.retention] if args.retention else []
        server = Server([PYTHON, "-m", "console", "serve", "--no-sim", "--ocpp-port", str(free_port()), "--api-port", "0",
                         "--db", url, "--unknown-tokens", "accept", *retention])
        sim = subprocess.Popen(
            [PYTHON, "-m", "console.sim.loadrun", "--count", str(args.chargers), "--url", server.url, "--prefix", PREFIX,
             "--version", args.version, "--speed", str(args.speed), "--seed", "1", "--report-every", "3600",
             "--duration", str(args.warmup + args.seconds + 5)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(args.warmup)
            sizes_before, rows_before = snapshot(path)
            wrote_before = written(server.process.pid)
            started = time.monotonic()
            wal = path.with_name(path.name + "-wal")
            wal_max = 0
            while time.monotonic() < started + args.seconds:
                time.sleep(1.0)
                wal_max = max(wal_max, wal.stat().st_size if wal.exists() else 0)
            wrote = written(server.process.pid) - wrote_before
            sizes_after, rows_after = snapshot(path)
            elapsed = time.monotonic() - started
            stats = None
            if args.retention:
                shown = subprocess.run([PYTHON, "-m", "console", "store", "stats", "--json", "--db", url,
                                        "--retention", args.retention], capture_output=True, text=True, check=True)
                stats = json.loads(shown.stdout)
        finally:
            sim.terminate()
            sim.wait(60)
            server.stop()
        if args.keep is not None:
            shutil.copy(path, args.keep)
    charger_hours = args.chargers * elapsed * args.speed / 3600
    grown = {table: sizes_after.get(table, 0) - sizes_before.get(table, 0) for table in sizes_after}
    per_kind = {kind: round(grown.get(table, 0) / charger_hours) for table, kind in KINDS.items()}
    total = round(sum(grown.values()) / charger_hours)
    figures = {
        "chargers": args.chargers, "version": args.version, "speed": args.speed, "seconds": round(elapsed, 1),
        "charger_hours": round(charger_hours, 2),
        "bytes_per_charger_hour": total,
        "written_bytes_per_charger_hour": round(wrote / charger_hours),
        "bytes_per_charger_hour_by_kind": per_kind,
        "frames_share": round(per_kind["frames"] / total, 3) if total else None,
        "frame_rows_per_charger_hour": round((rows_after["logentry"] - rows_before["logentry"]) / charger_hours),
        "bytes_per_frame_row": round(sizes_after.get("logentry", 0) / max(rows_after["logentry"], 1)),
        "bytes_per_sample_row": round(sizes_after.get("metersample", 0) / max(rows_after["metersample"], 1)),
        "wal_max_bytes": wal_max,
    }
    if stats is not None:
        figures["retention"] = args.retention
        figures["store_stats"] = {
            "rows": {kind["kind"]: kind["rows"] for kind in stats["kinds"]},
            "oldest": {kind["kind"]: kind["oldest"] for kind in stats["kinds"]},
            "file_bytes": stats["file_bytes"], "wal_bytes": stats["wal_bytes"], "free_bytes": stats["free_bytes"],
        }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
