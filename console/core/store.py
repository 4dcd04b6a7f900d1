"""The store: one engine, sessions, and a single writer thread.

Every database call runs on the store's own thread so the event loop never
blocks on SQL, and SQLite sees one writer at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import platformdirs
from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import Session, create_engine

from console.core import models  # noqa: F401  (registers the tables)
from console.core.errors import StoreUnavailable
from console.core.owner import SCHEMA_KEY, OwnerLock, StoreOwned
from console.migrations import SchemaOpened, current_revision, head, open_schema

T = TypeVar("T")

log = logging.getLogger(__name__)

DB_ENV = "OCPP_CONSOLE_DB"
# SQLite's primary result codes that say the store cannot take writes now, not that a write is wrong:
# busy, locked, out of memory, read-only, I/O error, full, cannot open, lock protocol.
UNAVAILABLE_CODES = {5, 6, 7, 8, 10, 13, 14, 15}
# PostgreSQL's SQLSTATEs of that kind that psycopg does not raise as OperationalError (a server shutting
# down, a lock or disk it lacks are): a read-only transaction (a hot standby, default_transaction_read_only).
SERVER_CONDITIONS = {"25006"}
# Threads for reads beside the store thread (Store.read).
READERS = 2


_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def db_url(text: str) -> str:
    """A store given as a URL (`sqlite:///…`, `postgresql://…`) or as a plain file path (a SQLite file).

    `--db /srv/depot.db` is what a person types first; it names the SQLite file, made absolute so that
    the store does not move with the working directory. Anything with a scheme is taken as a URL.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty: give a SQLite file path or a URL such as postgresql://user@host/db")
    if _URL_SCHEME.match(text):
        return text
    if text.startswith(("postgres:", "postgresql:", "sqlite:")):
        raise ValueError(f"{text!r} is not a database URL: write sqlite:///PATH or postgresql://user@host/db")
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def default_db_url() -> str:
    """`$OCPP_CONSOLE_DB`, else a SQLite file in the user's data directory."""
    configured = os.environ.get(DB_ENV)
    if configured:
        return db_url(configured)
    data_dir = Path(platformdirs.user_data_dir("ocpp-console"))
    return f"sqlite:///{data_dir / 'console.db'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # A new store's pages (an existing file keeps its own): 4 KiB. A batch of a depot's rows lands on a
    # page of each index by charger for every charger in it, and each such page is written whole to the
    # log and again at the checkpoint: on a store in use (benchmarks/write_bench.py, 1,000 chargers, a
    # million rows) 16 KiB pages wrote 49-58 kB per CALL, 4 KiB pages 21 kB (16 KiB cost a tenth less
    # CPU per row on a small store).
    cursor.execute("PRAGMA page_size=4096")
    # A new store hands pruned pages back to the file in steps (core.retention); an existing one made
    # without it keeps reusing them until `ocpp-console store vacuum` switches it.
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    cursor.execute("PRAGMA journal_mode=WAL")
    # What a checkpoint leaves of the write-ahead log's file: it shrinks back to this after a burst.
    cursor.execute("PRAGMA journal_size_limit=67108864")
    # FULL: a commit is on the disk before it returns, so what was answered after it survives a power
    # cut too (NORMAL with a write-ahead log may lose the last commits); an fsync more per commit.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Another process's write lock is waited out this long: a write that fails is kept and retried by
    # the writer (a durable one refused, and retried by the charger), while a longer wait would hold
    # every other call of the one store thread behind it.
    cursor.execute("PRAGMA busy_timeout=1000")
    cursor.close()


def _bind_null_quickly() -> None:
    """Let Python's sqlite3 bind None (NULL) as cheaply as a number.

    It binds ints, floats and str as they are, but looks up an adapter for
    anything else, None included, and on CPython 3.11 a missing one costs a
    raised and cleared AttributeError: ~0.5 µs per None, more than the rest of
    a meter sample's row. An adapter for None that hands it back as it is
    (`{}.get(None)` is None) is one dict lookup; None is still bound as NULL.
    """
    sqlite3.register_adapter(type(None), {}.get)


def engine_url(url: str) -> URL:
    """`url` with its driver: PostgreSQL's is psycopg 3 (SQLAlchemy's default is psycopg2, not installed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str) -> Engine:
    parsed = engine_url(url)
    if parsed.get_backend_name() == "sqlite":
        _bind_null_quickly()
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # The session's time zone is UTC, so times read outside the models (raw SQL, text) are UTC as everywhere
    # else. A lock another session holds is waited out as SQLite's busy timeout is (then the write is kept
    # and retried); a server that is down is given up on in seconds. The URL's own `options` come first.
    options = " ".join(filter(None, [str(parsed.query.get("options", "")), "-c timezone=UTC -c lock_timeout=1000"]))
    return create_engine(
        parsed.difference_update_query(["options"]),
        pool_pre_ping=True,
        connect_args={"options": options, "connect_timeout": 5},
    )


class StoreFileGone(Exception):
    """The SQLite file the store opened is no longer at its path: what is written now would be lost."""


def unavailable_reason(error: BaseException) -> str | None:
    """Why the store cannot take writes now, when `error` says so (locked, read-only, full, a disk or
    connection failing, the file deleted); None for an error of the write's own (a row the store refuses, a bug)."""
    if isinstance(error, StoreFileGone):
        return str(error)
    original = error.orig if isinstance(error, exc.DBAPIError) else error
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        return str(original) if code is not None and code & 0xFF in UNAVAILABLE_CODES else None
    if isinstance(error, exc.DBAPIError) and (
        error.connection_invalidated
        or isinstance(error, exc.OperationalError | exc.InterfaceError)
        or getattr(original, "sqlstate", None) in SERVER_CONDITIONS
    ):
        return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return None


class Store:
    def __init__(self, url: str | None = None, *, owner: bool = False, cluster: bool = False) -> None:
        """Open the store, bringing its schema up to date; `owner`: hold it alone (a console or `serve`), or with
        `cluster` share it with the other nodes of a cluster (PostgreSQL); else read beside."""
        self.url = url or default_db_url()
        self.engine = make_engine(self.url)
        self.owner_lock = OwnerLock(self.url, self.engine)
        try:
            if owner:
                self.owner_lock.acquire(shared=cluster)
                self.schema = self._open_as_node() if cluster else open_schema(self.engine)
            else:
                self.schema = self._open_beside_owner()
        except BaseException:
            self.owner_lock.release()
            self.engine.dispose()
            raise
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        # Reads that need not wait behind the writes (the API's key checks): threads of their own, each with its
        # connection (SQLite's write-ahead log lets them read beside the writer).
        self._readers = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="store-read")
        # Calls of `run` handed to the store thread and begun there; each counter has one writer thread.
        self._submitted = 0
        self._begun = 0
        # Why writes fail now (None: they do not), since when (monotonic), and who is told of a change.
        self.unavailable: str | None = None
        self._unavailable_since = 0.0
        self.health_listeners: list[Callable[[str | None], None]] = []
        # The SQLite file and its write-ahead log (truncated by `checkpoint`); None in memory or on a server.
        database = make_url(self.url).database
        self.path = (
            Path(database).expanduser() if self.engine.dialect.name == "sqlite" and database and database != ":memory:" else None
        )
        self.wal_path = self.path.with_name(self.path.name + "-wal") if self.path is not None else None
        # Which file that is (device, inode): one deleted or replaced under a running store is noticed.
        self._file = self._file_identity()

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` on the store thread; it commits what it wants kept."""

        def job() -> T:
            self._begun += 1
            self._check_file()
            with self.session() as session:
                return work(session)

        self._submitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, job)
        except Exception as error:
            reason = unavailable_reason(error)
            if reason is None:
                raise
            raise self.failed(reason) from error

    async def read(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)`, which only reads, on a reader thread: not behind the writer's batches and durable
        writes on the store thread (nor they behind it). An in-memory SQLite store is one connection's: there, `run`."""
        if self.engine.dialect.name == "sqlite" and self.path is None:
            return await self.run(work)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._readers, self._in_session, work)
        except Exception as error:
            reason = unavailable_reason(error)
            if reason is None:
                raise
            raise StoreUnavailable(reason) from error

    def _file_identity(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return None
        return status.st_dev, status.st_ino

    def _check_file(self) -> None:
        """On the store thread, before each write: SQLite keeps writing to a file deleted under it, and
        nothing would find those rows again. A deleted store makes the store unavailable (rows are kept,
        durable answers refused) until a file is back at its path (`store restore`, or the file moved back),
        which is then opened, its schema brought up to date."""
        if self.path is None:
            return
        found = self._file_identity()
        if found == self._file:
            return
        if found is None:
            raise StoreFileGone(
                f"the store file {self.path} was deleted while running: nothing written now could be found again; "
                "put it back (or `ocpp-console store restore` a backup) and the console goes on, or stop it"
            )
        log.warning("the store file %s was replaced while running: opening the file now at that path", self.path)
        self.engine.dispose()
        open_schema(self.engine)
        self._file = found

    def failed(self, reason: str) -> StoreUnavailable:
        """Writes fail for `reason`: said when the store stops taking writes (not per write, nor when only
        the reason changes), and the error to raise."""
        if self.unavailable is None:
            self._unavailable_since = time.monotonic()
            self.unavailable = reason
            log.error("store unavailable: %s (acknowledged rows are kept and retried; durable answers refused)", reason)
            for listener in self.health_listeners:
                listener(reason)
        self.unavailable = reason
        return StoreUnavailable(reason)

    def recovered(self) -> None:
        """A write went through: the store takes writes again (said once)."""
        if self.unavailable is None:
            return
        self.unavailable = None
        log.warning("store available again after %.1f s", time.monotonic() - self._unavailable_since)
        if self.owner_lock.postgres:  # a server restart ended the owner's session, and its lock
            with contextlib.suppress(RuntimeError):  # the store closing meanwhile
                self._executor.submit(self._reclaim_owner)
        for listener in self.health_listeners:
            listener(None)

    async def check_write(self) -> None:
        """A real write, committed (SQLite: the header's user version rewritten; elsewhere a transaction id
        taken); raises StoreUnavailable when the store cannot take it."""
        sqlite = self.engine.dialect.name == "sqlite"

        def write(session: Session) -> None:
            if sqlite:
                version = session.execute(text("PRAGMA user_version")).scalar_one()
                session.execute(text(f"PRAGMA user_version={int(version)}"))
            else:
                session.execute(text("SELECT txid_current()"))
            session.commit()

        await self.run(write)
        self.recovered()

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the store and truncate it (SQLite; on the store thread).

        A reader holding an old snapshot keeps the log from being truncated; it is
        not waited for (the checkpoint does what it can), the next one finishes.
        """
        if self.wal_path is None:
            return
        with self.engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            timeout = driver.execute("PRAGMA busy_timeout").fetchone()[0]
            driver.execute("PRAGMA busy_timeout=0")
            try:
                driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                driver.execute(f"PRAGMA busy_timeout={int(timeout)}")

    def wal_bytes(self) -> int:
        """The write-ahead log's size now (0 when there is none)."""
        try:
            return self.wal_path.stat().st_size if self.wal_path is not None else 0
        except OSError:
            return 0

    @property
    def waiting(self) -> int:
        """Calls of `run` waiting for the store thread (asked on it: behind the work running now)."""
        return self._submitted - self._begun

    def run_sync(self, work: Callable[[Session], T]) -> T:
        """The same, for code that is not on an event loop (CLI commands, start-up)."""
        return self._executor.submit(lambda: self._in_session(work)).result()

    def _in_session(self, work: Callable[[Session], T]) -> T:
        with self.session() as session:
            return work(session)

    def _reclaim_owner(self) -> None:
        try:
            if not self.owner_lock.reclaim():
                log.error(
                    "the store's owner lock was lost while it was unavailable, and another ocpp-console (%s) holds it now: "
                    "two consoles run this depot; stop one",
                    self.owner_lock.holder(),
                )
        except Exception as error:  # the server gone again: the next recovery tries again
            log.warning("could not take the store's owner lock again: %s", error)

    def _open_as_node(self) -> SchemaOpened:
        """A cluster node brings the schema up to date holding the schema lock: nodes starting together take turns."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_KEY})
            connection.commit()
            try:
                return open_schema(self.engine)
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_KEY})
                connection.commit()

    def _open_beside_owner(self) -> SchemaOpened:
        """A reader changes the schema only while no console owns the store, never under a running one."""
        if self.owner_lock.try_acquire():
            try:
                return open_schema(self.engine)
            finally:
                self.owner_lock.release()
        revision = current_revision(self.engine)
        if revision != head():
            raise StoreOwned(
                f"another ocpp-console ({self.owner_lock.holder()}) owns this store, at schema revision {revision}; "
                f"this one needs {head()}: run the same version as the running one"
            )
        return SchemaOpened(revision)

    def close(self) -> None:
        self._readers.shutdown(wait=True)
        self._executor.shutdown(wait=True)
        self.owner_lock.release()
        self.engine.dispose()
