"""PostgreSQL as the store: the schema made and migrated there, one owner per database, `serve --db postgresql://…`.

Each test has new databases on the test cluster (`OCPP_CONSOLE_TEST_PG`, see
tests/conftest.py): `db_url` a copy of one at the newest revision, `pg_url` an
empty one; without a cluster they are skipped, saying so.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from console.core.models import Charger, ChargerState, MeterSample, Transaction
from console.core.owner import StoreOwned
from console.core.store import Store, make_engine
from console.migrations import config, head, revisions
from tests.test_serve import read_until
from tests.test_store_owner import ocpp_console

pytestmark = pytest.mark.stores("postgresql")

AT = datetime(2026, 11, 20, 8, tzinfo=UTC)


def test_a_postgresql_url_needs_no_driver_name(pg_url: str) -> None:
    """`--db postgresql://…` is psycopg 3, the driver the package brings."""
    store = Store(pg_url)
    try:
        assert store.engine.dialect.name == "postgresql" and store.engine.driver == "psycopg"
        assert store.schema.created and store.schema.revision == head()
        assert store.run_sync(lambda session: session.execute(text("SELECT version_num FROM alembic_version")).all()) == [(head(),)]
        # Times are UTC whatever the server's zone: an aware time comes back the same instant.
        assert store.run_sync(lambda session: session.execute(text("SHOW timezone")).scalar()) == "UTC"
    finally:
        store.close()
    tuned = Store(f"{pg_url}?options=-c%20statement_timeout%3D5s")  # the URL's own options are kept
    try:
        shown = tuned.run_sync(lambda session: session.execute(text("SELECT current_setting('statement_timeout'), current_setting('TimeZone')")).one())
        assert tuple(shown) == ("5s", "UTC")
    finally:
        tuned.close()


def test_the_revisions_apply_on_postgresql_and_reach_what_the_models_say(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.begin() as connection:
            command.upgrade(config(connection), "head")
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_a_store_at_the_first_revision_is_upgraded_with_its_data(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.begin() as connection:
            command.upgrade(config(connection), revisions()[0])
            connection.execute(text("INSERT INTO organization VALUES ('org-1', 'default', :at)"), {"at": AT})
            connection.execute(
                text(
                    "INSERT INTO charger (id, organization_id, identity, ocpp_version, number_of_connectors, max_charging_power, "
                    "simulated, registration, created_at, updated_at) VALUES ('dep-1', 'org-1', 'CP-1', 'OCPP1.6', 2, 22000, "
                    "false, 'accepted', :at, :at)"
                ),
                {"at": AT},
            )
            connection.execute(
                text(
                    "INSERT INTO chargerstate (charger_id, status, is_connected, is_charging, current_power_kw, "
                    "session_energy_kwh, provisioning, reconnects) VALUES ('dep-1', 'offline', false, false, 0, 12.5, "
                    "'provisioned', 3)"
                )
            )
            connection.execute(
                text(
                    'INSERT INTO "transaction" (id, charger_id, transaction_ref, connector_id, id_tag, meter_start_wh, '
                    "meter_stop_wh, started_at, stopped_at, stop_reason, offline) VALUES (7, 'dep-1', '7', 1, 'TAG', 1000, "
                    "13500, :at, :at, 'Local', false)"
                ),
                {"at": AT},
            )
            connection.execute(
                text(
                    "INSERT INTO metersample (charger_id, transaction_id, connector_id, at, measurand, value) "
                    "VALUES ('dep-1', 7, 1, :at, 'Energy.Active.Import.Register', :value)"
                ),
                [{"at": AT, "value": 1000.0 + n * 500} for n in range(26)],
            )
    finally:
        engine.dispose()
    store = Store(pg_url)
    try:
        assert store.schema.upgraded_from == revisions()[0] and store.schema.revision == head()
        charger, state, session, samples = store.run_sync(
            lambda s: (
                s.get(Charger, "dep-1"),
                s.get(ChargerState, "dep-1"),
                s.get(Transaction, 7),
                s.execute(text("SELECT count(*) FROM metersample WHERE transaction_id = 7")).scalar(),
            )
        )
        assert (charger.identity, charger.tolerant) == ("CP-1", False)
        assert (state.reconnects, state.session_energy_kwh, state.clock_offset_s) == (3, 12.5, None)
        assert (session.meter_stop_wh, session.started_at, session.start_known, session.clock_skewed) == (13500, AT, True, False)
        assert samples == 26
    finally:
        store.close()
    again = Store(pg_url)
    again.close()
    assert again.schema.upgraded_from is None


def test_one_owner_per_database_held_until_the_store_closes(db_url: str, pg_url: str) -> None:
    owner = Store(db_url, owner=True)
    try:
        with pytest.raises(StoreOwned, match=rf"another ocpp-console \(pid {os.getpid()}, started at .*\) owns this store"):
            Store(db_url, owner=True)
        Store(db_url).close()  # a reader opens it beside the owner
        Store(pg_url, owner=True).close()  # another database on the same server has an owner of its own
    finally:
        owner.close()
    Store(db_url, owner=True).close()


def test_meter_samples_keep_their_instant(store: Store) -> None:
    """A time with an offset is stored as the same instant and read back in UTC."""
    from datetime import timedelta, timezone

    from console.core.models import Organization

    local = datetime(2026, 6, 1, 10, 30, 0, 250000, tzinfo=timezone(timedelta(hours=2)))

    def write(session):  # type: ignore[no-untyped-def]
        session.add(Organization(id="org-1", name="default", created_at=AT))
        session.commit()
        session.add(Charger(id="dep-1", organization_id="org-1", identity="CP-1", created_at=AT, updated_at=AT))
        session.commit()
        session.add(MeterSample(charger_id="dep-1", connector_id=1, at=local, measurand="Power.Active.Import", value=7.4))
        session.commit()
        return session.execute(text("SELECT at FROM metersample")).scalar()

    at = store.run_sync(write)
    assert at == local and at.utcoffset() == timedelta(0)


@pytest.mark.timeout(150)
async def test_a_second_serve_on_the_same_database_is_refused(db_url: str) -> None:
    env = {name: value for name, value in os.environ.items() if name != "OCPP_CONSOLE_DB"}
    first = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", "serve", "--db", db_url, "--ocpp-port", "0", "--api-port", "0", "--no-sim",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )
    seen: list[str] = []
    try:
        assert first.stdout is not None
        await read_until(first.stdout, r"serving: OCPP at", seen, timeout=60)
        code, out, err = await ocpp_console("serve", "--db", db_url, "--ocpp-port", "0", "--api-port", "0", "--no-sim", env=env)
        assert code == 1 and out == ""
        assert f"ocpp-console: another ocpp-console (pid {first.pid}, started at " in err
        code, out, _ = await ocpp_console("chargers", "--db", db_url, env=env)
        assert code == 0 and out.strip() == "[]"
    finally:
        if first.returncode is None:
            first.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(first.wait(), 15) == 0
    Store(db_url, owner=True).close()


def test_a_store_older_than_the_first_revision_gains_its_columns_on_postgresql(pg_url: str) -> None:
    """A store made before migrations, without some of the first revision's booleans and tables: the columns
    are added with their defaults written as PostgreSQL's booleans (not SQLite's 1/0), the tables made."""
    engine = make_engine(pg_url)
    try:
        with engine.begin() as connection:
            command.upgrade(config(connection), revisions()[0])
            connection.execute(text("INSERT INTO organization VALUES ('org-1', 'default', :at)"), {"at": AT})
            connection.execute(
                text(
                    "INSERT INTO charger (id, organization_id, identity, ocpp_version, number_of_connectors, max_charging_power, "
                    "simulated, registration, created_at, updated_at) VALUES ('dep-1', 'org-1', 'CP-1', 'OCPP1.6', 2, 22000, "
                    "true, 'accepted', :at, :at)"
                ),
                {"at": AT},
            )
            connection.execute(
                text(
                    'INSERT INTO "transaction" (id, charger_id, transaction_ref, connector_id, id_tag, meter_start_wh, '
                    "started_at, offline) VALUES (7, 'dep-1', '7', 1, 'TAG', 1000, :at, false)"
                ),
                {"at": AT},
            )
            connection.execute(text('ALTER TABLE "transaction" DROP COLUMN offline'))
            connection.execute(text("ALTER TABLE charger DROP COLUMN simulated"))
            connection.execute(text("DROP TABLE chargerstate"))
            connection.execute(text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()
    store = Store(pg_url)
    try:
        assert store.schema.upgraded_from == f"older than {revisions()[0]}" and store.schema.revision == head()
        charger, session = store.run_sync(lambda s: (s.get(Charger, "dep-1"), s.get(Transaction, 7)))
        assert (charger.identity, charger.simulated, session.offline) == ("CP-1", False, False)
        kinds = store.run_sync(
            lambda s: dict(
                s.execute(
                    text(
                        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                        "WHERE (table_name, column_name) IN (('transaction', 'offline'), ('charger', 'simulated'), "
                        "('chargerstate', 'is_connected'))"
                    )
                ).all()
            )
        )
        assert kinds == {"transaction.offline": "boolean", "charger.simulated": "boolean", "chargerstate.is_connected": "boolean"}
    finally:
        store.close()
