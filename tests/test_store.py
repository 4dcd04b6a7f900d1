"""The SQLite store's set-up: what every connection and a new file get."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from console.core.store import Store


def pragma(store: Store, name: str) -> object:
    return store.run_sync(lambda session: session.connection().exec_driver_sql(f"PRAGMA {name}").scalar())


def test_a_new_store_has_4_kib_pages_and_a_write_ahead_log(store: Store) -> None:
    assert pragma(store, "page_size") == 4096
    assert pragma(store, "journal_mode") == "wal"
    assert pragma(store, "synchronous") == 2  # FULL: a commit answered survives a power cut
    assert pragma(store, "foreign_keys") == 1


def test_an_existing_store_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA page_size=16384")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE kept (id INTEGER PRIMARY KEY)")
    store = Store(f"sqlite:///{path}")
    try:
        assert pragma(store, "page_size") == 16384
        assert store.run_sync(lambda session: session.connection().exec_driver_sql("SELECT count(*) FROM charger").scalar()) == 0
    finally:
        store.close()


def test_none_is_bound_as_null(store: Store) -> None:
    """The store's quicker binding of None (an adapter) still binds SQL NULL."""
    row = store.run_sync(lambda session: session.connection().exec_driver_sql("SELECT ? IS NULL, typeof(?)", (None, None)).one())
    assert tuple(row) == (1, "null")
