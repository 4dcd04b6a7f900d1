"""The console stopped mid-session and started again on the same store.

`ocpp-console serve` gets SIGTERM or SIGKILL; the embedded console (in a
pseudo-terminal) gets ctrl+q or SIGTERM. The sample fleet's simulated chargers
charge at 30x speed. A clean stop is the chargers losing power: each ends its
session before the socket closes. A SIGKILL leaves the sessions open in the
store; the chargers boot fresh on the restart, and the central system closes
what they do not resume.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import signal
import sqlite3
import struct
import termios
import sys
import time
from collections.abc import Callable
from contextlib import closing
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
# Seconds a console may take to start (imports, on a busy machine) before the timed checks begin.
STARTUP_S = 60
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
                sys.executable, "-m", "console", "serve", "--db", f"sqlite:///{self.db}", "--demo",
                "--ocpp-port", "0", "--api-port", "0", "--speed", "30",
                stdout=out, stderr=asyncio.subprocess.STDOUT,
            )
        # Start-up is mostly imports, as slow as the machine is busy: the checks below count from here.
        await until("serve listening", lambda: "serving: OCPP at" in self.output(), self, timeout=STARTUP_S)

    def output(self) -> str:
        return self.log.read_text()

    async def stop(self, signum: int) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signum)
        return await self.exited()

    async def exited(self) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), 10)

    async def ensure_stopped(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


class EmbeddedConsole(Console):
    """`ocpp-console` with its Textual UI in a pseudo-terminal whose screen output is read and dropped."""

    async def start(self) -> None:
        master, terminal = pty.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        home = self.log.parent / "home"
        env = {
            **os.environ, "TERM": "xterm-256color", "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"), "XDG_CACHE_HOME": str(home / "cache"), "XDG_DATA_HOME": str(home / "data"),
        }
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console", "--db", f"sqlite:///{self.db}", "--ocpp-port", "0", "--speed", "30",
            stdin=terminal, stdout=terminal, stderr=terminal, env=env, start_new_session=True,
        )
        os.close(terminal)
        self.master = master
        self.log.write_text("")
        asyncio.get_running_loop().add_reader(master, self._drain)
        connected = "SELECT count(*) FROM chargerstate WHERE is_connected"
        await until("the depot started", lambda: query(self.db, connected)[0][0] > 0, self, timeout=STARTUP_S)

    def _drain(self) -> None:
        try:
            os.read(self.master, 65536)
        except OSError:  # the console has gone: its terminal is closed
            asyncio.get_running_loop().remove_reader(self.master)

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    async def ensure_stopped(self) -> None:
        await super().ensure_stopped()
        if self.process is not None:
            asyncio.get_running_loop().remove_reader(self.master)
            os.close(self.master)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as connection:
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
    def enough() -> list[tuple[Any, ...]] | None:
        rows = query(console.db, OPEN_WITH_ENERGY)
        return rows if len(rows) >= CHARGING else None

    return await until(f"{CHARGING} sessions charging", enough, console)


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


async def embedded_stop(tmp_path: Path, stop: Callable[[EmbeddedConsole], None]) -> None:
    db = tmp_path / "depot.db"
    console = EmbeddedConsole(db, tmp_path / "console.log")
    try:
        await console.start()
        before = {row[0]: row for row in await charging(console)}

        stop(console)
        assert await console.exited() == 0
        assert query(db, OPEN) == []
        closed = {row[0]: row for row in query(db, CLOSED)}
        for transaction_id, _, _, meter_start, energy in before.values():
            _, _, meter_stop, reason = closed[transaction_id]
            assert reason == "PowerLoss"
            assert meter_stop >= int(energy) > meter_start
    finally:
        await console.ensure_stopped()


async def test_ctrl_q_in_the_embedded_console_ends_every_session(tmp_path: Path) -> None:
    await embedded_stop(tmp_path, lambda console: console.press(b"\x11"))


async def test_sigterm_to_the_embedded_console_ends_every_session(tmp_path: Path) -> None:
    await embedded_stop(tmp_path, lambda console: console.process.send_signal(signal.SIGTERM))  # type: ignore[union-attr]
