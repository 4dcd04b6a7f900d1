"""`store backup` while a console writes, and `store restore`: the copy is whole and consistent."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from console.cli import main
from console.core.models import LogEntry
from console.core.store import Store

BATCH = 50  # rows per transaction the writer commits


def write_until(store: Store, stop: threading.Event, written: list[int]) -> None:
    """The console under load: frame-log rows, one transaction of BATCH rows at a time, batch numbers in `action`."""
    batch = 0
    while not stop.is_set():
        with store.session() as session:
            session.add_all(
                LogEntry(identity=f"CP-{n}", at=datetime.now(UTC), direction="in", action=str(batch), message="x" * 200)
                for n in range(BATCH)
            )
            session.commit()
        batch += 1
        written.append(batch)


def query(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql).fetchall()


@pytest.mark.timeout(120)
def test_a_backup_under_load_restores_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    store = Store(url, owner=True)
    stop, written = threading.Event(), []
    writer = threading.Thread(target=write_until, args=(store, stop, written))
    writer.start()
    try:
        while len(written) < 20:
            stop.wait(0.05)
        before = len(written)
        # From another process, as an operator would, while the writes go on.
        backup = subprocess.run(
            [sys.executable, "-m", "console", "store", "backup", str(tmp_path / "backup.db"), "--db", url],
            capture_output=True, text=True, timeout=60,
        )
        assert backup.returncode == 0, backup.stderr
        assert f"to {tmp_path / 'backup.db'}" in backup.stdout
        during = len(written)
        assert during > before  # the writer was not stopped by it
        assert main(["store", "restore", str(tmp_path / "backup.db"), "--db", url]) == 1
        assert "another ocpp-console (pid" in capsys.readouterr().err  # never under a running console
    finally:
        stop.set()
        writer.join()
        store.close()

    assert query(tmp_path / "backup.db", "PRAGMA integrity_check") == [("ok",)]
    batches = query(tmp_path / "backup.db", "SELECT action, COUNT(*) FROM logentry GROUP BY action")
    assert before <= len(batches) <= during
    assert {count for _, count in batches} == {BATCH}  # whole transactions only: one point in time

    restored = tmp_path / "restored" / "console.db"
    restored.parent.mkdir()
    assert main(["store", "restore", str(tmp_path / "backup.db"), "--db", f"sqlite:///{restored}"]) == 0
    assert f"restored {tmp_path / 'backup.db'} into {restored}" in capsys.readouterr().out
    reopened = Store(f"sqlite:///{restored}", owner=True)
    try:
        rows = reopened.run_sync(lambda session: session.exec(select(func.count()).select_from(LogEntry)).one())
    finally:
        reopened.close()
    assert rows == len(batches) * BATCH
    assert query(restored, "PRAGMA integrity_check") == [("ok",)]


def test_restore_keeps_the_store_it_replaces_and_refuses_what_is_not_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    Store(url).close()
    assert main(["store", "backup", str(tmp_path / "backup.db"), "--db", url]) == 0
    assert main(["store", "restore", str(tmp_path / "backup.db"), "--db", url]) == 0
    assert "the store it replaced is kept as" in capsys.readouterr().out
    assert (tmp_path / "console.db.before-restore").exists()

    (tmp_path / "notes.txt").write_text("not a database, long enough to be read as one: " * 40)
    assert main(["store", "restore", str(tmp_path / "notes.txt"), "--db", url]) == 1
    assert "is not a SQLite store" in capsys.readouterr().err
    assert main(["store", "backup", str(tmp_path / "b.db"), "--db", "postgresql://depot@db.example/console"]) == 1
    assert "back up PostgreSQL with pg_dump" in capsys.readouterr().err
