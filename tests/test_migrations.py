"""Schema changes through Alembic: a store of the previous release is upgraded with its data, a newer one refused."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from console.core.models import Charger, ChargerState, Transaction
from console.core.store import Store
from console.migrations import StoreTooNew, config, head, revisions

# The DDL the release before migrations (commit 1e14d28) wrote: the first revision's schema.
PREVIOUS_SCHEMA = Path(__file__).parent / "fixtures" / "schema_1e14d28.sql"
AT = "2026-11-20 08:00:00.000000"


def previous_release_store(path: Path) -> None:
    """A store as the previous release left it: its schema, a fleet, a finished session with samples, an action."""
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.executescript(PREVIOUS_SCHEMA.read_text())
        connection.execute("INSERT INTO organization VALUES ('org-1', 'default', ?)", (AT,))
        connection.execute(
            "INSERT INTO charger (id, organization_id, identity, ocpp_version, number_of_connectors, max_charging_power, "
            "simulated, registration, created_at, updated_at) VALUES ('dep-1', 'org-1', 'CP-1', 'OCPP1.6', 2, 22000, 0, "
            "'accepted', ?, ?)",
            (AT, AT),
        )
        connection.execute(
            "INSERT INTO chargerstate (charger_id, status, is_connected, is_charging, current_power_kw, "
            "session_energy_kwh, provisioning, reconnects) VALUES ('dep-1', 'offline', 0, 0, 0, 12.5, 'provisioned', 3)"
        )
        connection.execute(
            'INSERT INTO "transaction" (id, charger_id, transaction_ref, connector_id, id_tag, meter_start_wh, '
            "meter_stop_wh, started_at, stopped_at, stop_reason, offline) VALUES (7, 'dep-1', '7', 1, 'TAG', 1000, 13500, "
            "?, ?, 'Local', 0)",
            (AT, "2026-11-20 09:00:00.000000"),
        )
        connection.executemany(
            "INSERT INTO metersample (charger_id, transaction_id, connector_id, at, measurand, value) "
            "VALUES ('dep-1', 7, 1, ?, 'Energy.Active.Import.Register', ?)",
            [(AT, 1000.0 + n * 500) for n in range(26)],
        )
        connection.execute(
            "INSERT INTO action (id, charger_id, command, parameters, execution, state, created_at, updated_at) "
            "VALUES ('action_1', 'dep-1', 'reset', '{\"type\": \"Soft\"}', 'immediate', 'completed', ?, ?)",
            (AT, AT),
        )


def columns(path: Path, table: str) -> set[str]:
    with closing(sqlite3.connect(path)) as connection:
        return {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}


def test_a_store_of_the_previous_release_is_upgraded_with_its_data(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "previous.db"
    previous_release_store(path)
    assert "tolerant" not in columns(path, "charger")
    caplog.set_level(logging.INFO, logger="console.store")
    store = Store(f"sqlite:///{path}")
    try:
        assert store.schema.upgraded_from == "pre-migrations (matching 0001)" and store.schema.revision == head()
        assert [r.message for r in caplog.records if "upgraded" in r.message] == [f"store upgraded from {store.schema.upgraded_from} to {head()}"]
        charger, state, session = store.run_sync(
            lambda s: (s.get(Charger, "dep-1"), s.get(ChargerState, "dep-1"), s.get(Transaction, 7))
        )
        # The rows are there, and the columns added since read as their defaults.
        assert (charger.identity, charger.number_of_connectors, charger.tolerant) == ("CP-1", 2, False)
        assert (state.reconnects, state.session_energy_kwh, state.clock_offset_s) == (3, 12.5, None)
        assert (session.meter_start_wh, session.meter_stop_wh, session.stop_reason) == (1000, 13500, "Local")
        assert session.started_at == datetime(2026, 11, 20, 8, tzinfo=UTC)
        assert (session.start_known, session.reconstructed, session.incomplete, session.clock_skewed) == (True, False, False, False)
        assert session.energy_wh is None
    finally:
        store.close()
    assert {"tolerant"} <= columns(path, "charger")
    assert {"energy_wh", "seq_nos", "charger_started_at"} <= columns(path, "transaction")
    assert "signedmetervalue" in tables(path)
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT COUNT(*) FROM metersample WHERE transaction_id = 7").fetchone() == (26,)
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head(),)]
    again = Store(f"sqlite:///{path}")
    assert again.schema.upgraded_from is None  # once
    again.close()


def tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_store_between_two_revisions_is_matched_to_the_one_it_has(tmp_path: Path) -> None:
    path = tmp_path / "tolerant.db"
    previous_release_store(path)
    with closing(sqlite3.connect(path)) as connection, connection:
        # Charger.tolerant came before migrations did, added to older stores at start as it was then.
        connection.execute("ALTER TABLE charger ADD COLUMN tolerant BOOLEAN DEFAULT 0")
    store = Store(f"sqlite:///{path}")
    store.close()
    assert store.schema.upgraded_from == "pre-migrations (matching 0002)"
    assert "clock_offset_s" in columns(path, "chargerstate")


def test_a_store_upgraded_by_a_newer_version_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    Store(url).close()
    with closing(sqlite3.connect(tmp_path / "newer.db")) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = '9001'")
    with pytest.raises(StoreTooNew, match=r"schema revision 9001, which this ocpp-console does not know .*newer version"):
        Store(url)
    with closing(sqlite3.connect(tmp_path / "newer.db")) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [("9001",)]  # left as it was


def test_a_new_store_is_made_at_the_newest_revision(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'new.db'}")
    store.close()
    assert store.schema.created and store.schema.upgraded_from is None
    with closing(sqlite3.connect(tmp_path / "new.db")) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head(),)]


def test_the_revisions_are_one_line_named_by_their_files() -> None:
    scripts = ScriptDirectory.from_config(config())
    chain = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    assert chain == revisions() and scripts.get_heads() == [head()]


def test_the_first_revision_is_the_previous_release_schema(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / "previous.db")) as connection:
        connection.executescript(PREVIOUS_SCHEMA.read_text())
    engine = create_engine(f"sqlite:///{tmp_path / 'first.db'}")
    with engine.begin() as connection:
        command.upgrade(config(connection), revisions()[0])
    engine.dispose()
    assert schema_of(tmp_path / "first.db") == schema_of(tmp_path / "previous.db")


def schema_of(path: Path) -> dict[str, list[tuple]]:
    """Each table's columns (name, type, not null, primary key), indexes and foreign keys, as SQLite reports them."""
    with closing(sqlite3.connect(path)) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: [
                sorted((c[1], c[2], c[3], c[5]) for c in connection.execute(f'PRAGMA table_info("{name}")')),
                sorted((i[1], i[2]) for i in connection.execute(f'PRAGMA index_list("{name}")')),
                sorted(tuple(f[2:5]) for f in connection.execute(f'PRAGMA foreign_key_list("{name}")')),
            ]
            for name in names
            if name != "alembic_version"
        }


def test_the_revisions_reach_what_the_models_say(tmp_path: Path) -> None:
    """A new column or table in core/models.py needs its revision in console/migrations/versions/."""
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    with engine.begin() as connection:
        command.upgrade(config(connection), "head")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []
