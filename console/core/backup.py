"""`ocpp-console store backup` and `store restore`: a SQLite store copied whole, also while it serves.

The copy is taken with SQLite's online backup from a connection of its own, in one
step: with a write-ahead log that step reads one consistent snapshot while the
console keeps writing (in steps, every write by another process would restart it).
A restore replaces the store file atomically, and only while no console owns the
store. PostgreSQL stores are backed up with pg_dump (see the README).
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from console.core.errors import ConsoleError, NotFound
from console.core.owner import OwnerLock
from console.core.store import make_engine

BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Copied:
    path: Path
    size: int
    # The store that was there before a restore, kept beside it (None: there was none).
    replaced: Path | None = None


def sqlite_file(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise ConsoleError(
            f"{parsed.get_backend_name()} store: `store backup` and `store restore` copy SQLite files; "
            "back up PostgreSQL with pg_dump (see the README)"
        )
    if parsed.database in (None, "", ":memory:"):
        raise ConsoleError("an in-memory store has no file to back up or restore")
    return Path(parsed.database).expanduser()


def backup(url: str, target: Path) -> Copied:
    """Copy the store to `target` (written beside it first, then renamed: never a half copy under that name)."""
    source = sqlite_file(url)
    if not source.exists():
        raise NotFound(f"no store at {source}")
    if target.resolve() == source.resolve():
        raise ConsoleError("the backup cannot be the store itself")
    _copy(source, target)
    return Copied(target, target.stat().st_size)


def restore(backup_file: Path, url: str) -> Copied:
    """Replace the store with `backup_file`; the store replaced is kept as STORE.before-restore."""
    store = sqlite_file(url)
    if not backup_file.is_file():
        raise NotFound(f"no backup at {backup_file}")
    _check(backup_file)
    engine = make_engine(url)
    lock = OwnerLock(url, engine)
    lock.acquire()  # refused while a console or serve owns the store
    try:
        replaced = None
        if store.exists():
            replaced = Path(f"{store}.before-restore")
            with closing(sqlite3.connect(store, timeout=BUSY_TIMEOUT_S)) as old:
                old.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all of it in the one file that is kept
            os.replace(store, replaced)
        _copy(backup_file, store)
        return Copied(store, store.stat().st_size, replaced)
    finally:
        lock.release()
        engine.dispose()


def _copy(source: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    with closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_S)) as reading, closing(sqlite3.connect(partial)) as writing:
        reading.backup(writing)
        writing.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file; the store turns WAL on again
    _check(partial)
    for stale in (Path(f"{target}-wal"), Path(f"{target}-shm")):  # another file's log must never be replayed into this one
        stale.unlink(missing_ok=True)
    with open(partial, "rb") as written:
        os.fsync(written.fileno())
    os.replace(partial, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _check(path: Path) -> None:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as error:
        raise ConsoleError(f"{path} is not a SQLite store: {error}") from error
    if verdict != "ok":
        raise ConsoleError(f"{path} is damaged: {verdict}")
    if "charger" not in tables:
        raise ConsoleError(f"{path} is not an ocpp-console store (it has no charger table)")
