"""One owner per store: the console or `serve` running a depot on a store holds it alone.

Two servers on one store would each hand out the same ids and run the same
actions. SQLite: an exclusive `flock` on a lock file beside the store
(`console.db.lock`), held for the process's life; the kernel lets go however the
process ends, so a crash leaves nothing to clean up. PostgreSQL: a session-level
advisory lock held on a connection of its own; a server restart ends that session, and
the owner takes the lock again once the store takes writes again (`reclaim`). The nodes
of a cluster (`serve --cluster`, core.cluster) share the store: each holds the same lock
shared, so they run side by side while a console or `serve` that wants it alone is refused
(and a node is refused while one of those runs).
Readers (`chargers`, `doctor`, `keys`, `store backup`) take no lock and work
beside the owner; SQLite's own locking keeps their reads consistent.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine, make_url

from console.core.errors import ConsoleError

# pg_try_advisory_lock's key: "OCPP" in ASCII. It fits 32 bits, so pg_locks shows it as objid. An advisory
# lock is the database's: one owner per database, however many other databases share the cluster.
ADVISORY_KEY = 0x4F435050
# How long a console waits for a lock held by a reader bringing the schema up to date.
ACQUIRE_WAIT_S = 2.0
# Taken (blocking) around a cluster node's schema upgrade: nodes starting together migrate one at a time.
SCHEMA_KEY = 0x4F435051


class StoreOwned(ConsoleError):
    """Another ocpp-console owns the store."""

    code = "STORE_OWNED"


def lock_path(url: str) -> Path | None:
    """The lock file of a SQLite store (None for a store in memory or on a server)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(f"{Path(parsed.database).expanduser()}.lock")


class OwnerLock:
    def __init__(self, url: str, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.path = lock_path(url)
        self._fd: int | None = None
        self._connection: Connection | None = None
        self._since = datetime.now().astimezone()
        # This process took the advisory lock and has not let go (it may have lost it to a restart meanwhile).
        self._owned = False
        # A cluster node's share of the store (PostgreSQL only): other nodes hold it beside this one.
        self.shared = False

    def acquire(self, shared: bool = False) -> None:
        """Own the store for this process's life (`shared`: with the other nodes of a cluster), or raise
        StoreOwned saying who does."""
        if shared and not self.postgres:
            raise StoreOwned("a cluster needs PostgreSQL (--db postgresql://…): a SQLite store has one owner")
        self.shared = shared
        deadline = time.monotonic() + ACQUIRE_WAIT_S
        self._since = datetime.now().astimezone()
        role = "cluster node, " if shared else ""
        while not self.try_acquire(f"{role}pid {os.getpid()}, started at {self._since:%Y-%m-%d %H:%M:%S %Z}"):
            if time.monotonic() > deadline:
                if shared:
                    raise StoreOwned(f"another ocpp-console ({self.holder()}) owns this store alone; stop it before starting cluster nodes")
                raise StoreOwned(f"another ocpp-console ({self.holder()}) owns this store; stop it first, or use another --db")
            time.sleep(0.05)

    def try_acquire(self, who: str | None = None) -> bool:
        """Take the lock if it is free, saying `who` holds it; False if another process has it."""
        if self.postgres:
            return self._try_advisory(who or f"pid {os.getpid()}, upgrading the schema")
        if self.path is None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except ImportError:  # no flock (Windows): ownership is not enforced there
            pass
        os.ftruncate(fd, 0)
        os.pwrite(fd, (who or f"pid {os.getpid()}, upgrading the schema").encode(), 0)
        self._fd = fd
        return True

    def holder(self) -> str:
        """Who holds the lock, as they said it."""
        if self.postgres:
            with self.engine.connect() as connection:
                name = connection.execute(
                    text(
                        "SELECT string_agg(substr(a.application_name, 14), '; ') FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :key "
                        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"key": ADVISORY_KEY},
                ).scalar()
            return name or "unknown"
        assert self.path is not None
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def reclaim(self) -> bool:
        """PostgreSQL: take the lock again if its session ended (the server restarted, the connection was cut).

        True if this process holds it (again, or still); False if another took it meanwhile. A lock never
        taken (a reader) is left so.
        """
        if not self._owned:
            return True
        connection = self._connection
        if connection is None:
            return self.try_acquire(f"pid {os.getpid()}, started at {self._since:%Y-%m-%d %H:%M:%S %Z}")
        try:
            connection.execute(text("SELECT 1")).scalar()
            connection.commit()
            return True
        except Exception:  # the session is gone, and its lock with it
            with contextlib.suppress(Exception):
                connection.close()
            self._connection = None
        return self.try_acquire(f"pid {os.getpid()}, started at {self._since:%Y-%m-%d %H:%M:%S %Z}")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor lets go of the flock
            self._fd = None
        if self._connection is not None:
            self._connection.close()  # the session ends, and its advisory lock with it
            self._connection = None
        self._owned = False

    def _try_advisory(self, who: str) -> bool:
        connection = self.engine.connect()
        try:
            connection.execute(text("SELECT set_config('application_name', :name, false)"), {"name": f"ocpp-console {who}"})
            function = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
            taken = connection.execute(text(f"SELECT {function}(:key)"), {"key": ADVISORY_KEY}).scalar()
            connection.commit()
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            return False
        # Out of the pool for good: a connection handed back would be reused by others, the lock with it.
        connection.detach()
        self._connection = connection
        self._owned = True
        return True
