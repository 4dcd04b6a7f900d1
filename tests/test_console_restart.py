"""`ocpp-console serve` stopped mid-session (SIGTERM, SIGKILL) and started again on the same store.

The sample fleet's simulated chargers charge at 30x speed. A SIGTERM is the
chargers losing power: each ends its session before the socket closes. A
SIGKILL leaves the sessions open in the store; the chargers boot fresh on the
restart, and the central system closes what they do not resume.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLEET_SIZE = 12  # simulated chargers in sample_fleet.json
CHARGING = 3  # sessions with energy on the meter before the console is stopped

# Open sessions that have drawn at least 10 Wh: (id, charger, connector, meter start, highest energy reading).
OPEN_WITH_ENERGY = """
SELECT t.id, t.charger_id, t.connector_id, t.meter_start_wh, MAX(m.value)
FROM "transaction" t JOIN metersample m ON m.transaction_id = t.id
WHERE t.stopped_at IS NULL AND m.measurand = 'Energy.Active.Import.Register'
GROUP BY t.id HAVING MAX(m.value) >= t.meter_start_wh + 10
"""
OPEN = 'SELECT id, charger_id, connector_id FROM "transaction" WHERE stopped_at IS NULL'
CLOSED = 'SELECT id, meter_start_wh, meter_stop_wh, stop_reason FROM "transaction" WHERE stopped_at IS NOT NULL'


class Console:
    """One `ocpp-console serve` process on a store; its output goes to a file (a pipe would fill and block it)."""

    def __init__(self, db: Path, log: Path) -> None:
        self.db, self.log = db, log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("w") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "console", "serve", "--db", f"sqlite:///{self.db}",
                "--ocpp-port", "0", "--api-port", "0", "--speed", "30",
                stdout=out, stderr=asyncio.subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text()

    async def stop(self, signum: int) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), 10)

    async def ensure_stopped(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
        return connection.execute(sql).fetchall()


async def until(what: str, condition: Callable[[], Any], console: Console, timeout: float = 12) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            outcome = condition()
        except sqlite3.OperationalError:  # the store is being created
            outcome = None
        if outcome:
            return outcome
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}\n" + console.output()[-3000:])
        assert console.process is not None and console.process.returncode is None, console.output()[-3000:]
        await asyncio.sleep(0.1)


async def charging(console: Console) -> list[tuple[Any, ...]]:
    return await until(
        f"{CHARGING} sessions charging", lambda: (rows := query(console.db, OPEN_WITH_ENERGY)) and len(rows) >= CHARGING and rows, console
    )


async def all_online(console: Console) -> None:
    await until(
        f"the {FLEET_SIZE} simulated chargers online",
        lambda: console.output().count("runtime: online (boot accepted)") >= FLEET_SIZE,
        console,
    )


def assert_one_open_session_per_connector(db: Path) -> None:
    open_sessions = query(db, OPEN)
    per_connector: dict[tuple[str, int], list[int]] = {}
    for transaction_id, charger_id, connector_id in open_sessions:
        per_connector.setdefault((charger_id, connector_id), []).append(transaction_id)
    assert {key: ids for key, ids in per_connector.items() if len(ids) > 1} == {}


async def test_sigterm_mid_session_ends_every_session_and_a_restart_starts_clean(tmp_path: Path) -> None:
    db = tmp_path / "depot.db"
    first, second = Console(db, tmp_path / "first.log"), Console(db, tmp_path / "second.log")
    try:
        await first.start()
        await all_online(first)
        before = {row[0]: row for row in await charging(first)}

        assert await first.stop(signal.SIGTERM) == 0
        assert "stopped" in first.output()
        # Every session ended as a charger losing power ends it, with the meter as it stood.
        assert query(db, OPEN) == []
        closed = {row[0]: row for row in query(db, CLOSED)}
        for transaction_id, _, _, meter_start, energy in before.values():
            _, _, meter_stop, reason = closed[transaction_id]
            assert reason == "PowerLoss"
            assert meter_stop >= int(energy) > meter_start

        await second.start()
        await all_online(second)
        await charging(second)
        assert_one_open_session_per_connector(db)
        # The sessions ended by the stop stay as they were.
        assert {row[0]: row for row in query(db, CLOSED) if row[0] in closed} == closed
        assert await second.stop(signal.SIGTERM) == 0
        assert query(db, OPEN) == []
    finally:
        await first.ensure_stopped()
        await second.ensure_stopped()


async def test_sigkill_mid_session_leaves_no_session_open_after_the_restart(tmp_path: Path) -> None:
    db = tmp_path / "depot.db"
    first, second = Console(db, tmp_path / "first.log"), Console(db, tmp_path / "second.log")
    try:
        await first.start()
        await all_online(first)
        await charging(first)

        assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
        # What the store kept: the sessions cut off, with their last readings.
        cut_off = {row[0]: row for row in query(db, OPEN_WITH_ENERGY)}
        assert len(cut_off) >= CHARGING

        await second.start()
        await all_online(second)

        def cut_off_closed() -> bool:
            still_open = {row[0] for row in query(db, OPEN)}
            return not still_open & set(cut_off)

        # The chargers booted fresh, resuming nothing: their old sessions are closed at their last known reading.
        await until("the sessions cut off by the kill closed", cut_off_closed, second, timeout=8)
        closed = {row[0]: row for row in query(db, CLOSED)}
        for transaction_id, _, _, meter_start, energy in cut_off.values():
            _, _, meter_stop, reason = closed[transaction_id]
            assert reason is not None
            assert meter_stop >= int(energy) > meter_start
        assert_one_open_session_per_connector(db)
        await charging(second)
        assert_one_open_session_per_connector(db)
        assert await second.stop(signal.SIGTERM) == 0
        assert query(db, OPEN) == []
    finally:
        await first.ensure_stopped()
        await second.ensure_stopped()
