"""The store: one engine, sessions, and a single writer thread.

Every database call runs on the store's own thread so the event loop never
blocks on SQL, and SQLite sees one writer at a time.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import platformdirs
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from console.core import models  # noqa: F401  (registers the tables)
from console.core.owner import OwnerLock, StoreOwned
from console.migrations import SchemaOpened, current_revision, head, open_schema

T = TypeVar("T")

DB_ENV = "OCPP_CONSOLE_DB"


def default_db_url() -> str:
    """`$OCPP_CONSOLE_DB`, else a SQLite file in the user's data directory."""
    configured = os.environ.get(DB_ENV)
    if configured:
        return configured
    data_dir = Path(platformdirs.user_data_dir("ocpp-console"))
    return f"sqlite:///{data_dir / 'console.db'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # A new store's pages (an existing file keeps its own): frames and meter samples write a
    # fifth less per row than with 4 KiB pages, fewer pages per commit and checkpoint.
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
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


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _bind_null_quickly()
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    def __init__(self, url: str | None = None, *, owner: bool = False) -> None:
        """Open the store, bringing its schema up to date; `owner`: hold it alone (a console or `serve`), else read beside."""
        self.url = url or default_db_url()
        self.engine = make_engine(self.url)
        self.owner_lock = OwnerLock(self.url, self.engine)
        try:
            if owner:
                self.owner_lock.acquire()
                self.schema = open_schema(self.engine)
            else:
                self.schema = self._open_beside_owner()
        except BaseException:
            self.owner_lock.release()
            self.engine.dispose()
            raise
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        # Calls of `run` handed to the store thread and begun there; each counter has one writer thread.
        self._submitted = 0
        self._begun = 0

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` on the store thread; it commits what it wants kept."""

        def job() -> T:
            self._begun += 1
            with self.session() as session:
                return work(session)

        self._submitted += 1
        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

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
        self._executor.shutdown(wait=True)
        self.owner_lock.release()
        self.engine.dispose()
