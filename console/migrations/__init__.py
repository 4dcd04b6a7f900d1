"""The store's schema history: Alembic revisions in `versions/`, applied when a store is opened.

A store without tables is created at the newest revision. A store made before
migrations existed (tables, but no `alembic_version`) is matched to the newest
revision whose tables and columns it has, stamped with it and upgraded; one older
than the first revision first gains what the first revision has. A store at a
revision this program does not know was made by a newer program: it is refused.

A new table or column is a new revision in `versions/` beside the change to
`core/models.py`; `tests/test_migrations.py` checks that the revisions reach what
the models say.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, MetaData, create_engine, inspect, literal, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from console.core.errors import ConsoleError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("console.store")

VERSION_TABLE = "alembic_version"
# Each revision's file starts with its id ("0003_session_repairs.py" is revision 0003), so the
# ids are known without importing Alembic: a store already up to date opens without it.
VERSIONS = Path(__file__).parent / "versions"


class StoreTooNew(ConsoleError):
    """The store was upgraded by a newer ocpp-console than this one."""

    code = "STORE_TOO_NEW"


@dataclass(frozen=True)
class SchemaOpened:
    """What opening a store did to its schema."""

    revision: str
    # The store had no tables: it was created empty, at the newest revision.
    created: bool = False
    # The revision it was at before (or "pre-migrations" / "older than 0001"), when it was upgraded.
    upgraded_from: str | None = None

    @property
    def message(self) -> str | None:
        if self.upgraded_from is None:
            return None
        return f"store upgraded from {self.upgraded_from} to {self.revision}"


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, found from the package (so it works installed) and run on `connection`."""
    from alembic.config import Config

    settings = Config()
    settings.set_main_option("script_location", str(Path(__file__).parent))
    settings.attributes["connection"] = connection
    return settings


@cache
def revisions() -> list[str]:
    """Every revision this program knows, oldest first."""
    return sorted(path.name.partition("_")[0] for path in VERSIONS.glob("[0-9]*.py"))


def head() -> str:
    return revisions()[-1]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def open_schema(engine: Engine) -> SchemaOpened:
    """Create, adopt or upgrade the schema of the store behind `engine`; refuse a store newer than this program."""
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names()) - {VERSION_TABLE}
    current = current_revision(engine)
    if not tables:
        from alembic import command

        with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                # pysqlite runs DDL outside a transaction, so each CREATE would be its own commit (and
                # fsync, under synchronous=FULL): one transaction makes a new store in one commit.
                connection.exec_driver_sql("BEGIN")
            SQLModel.metadata.create_all(connection)
            command.stamp(config(connection), head())
        return SchemaOpened(head(), created=True)
    before = current
    if current is None:
        current, before = _adopt(engine)
    elif current not in revisions():
        raise StoreTooNew(
            f"the store is at schema revision {current}, which this ocpp-console does not know (it knows up to "
            f"{head()}): it was upgraded by a newer version; run that version, or restore a backup taken before"
        )
    if current == head() and before == current:
        return SchemaOpened(current)
    if current != head():
        from alembic import command

        with engine.begin() as connection:
            command.upgrade(config(connection), "head")
    opened = SchemaOpened(head(), upgraded_from=before)
    log.warning("%s", opened.message)
    return opened


def _adopt(engine: Engine) -> tuple[str, str]:
    """Stamp a store made before migrations with the revision it matches; (that revision, what to call where it was)."""
    from alembic import command

    schemas = _revision_schemas()
    with engine.connect() as connection:
        present = _columns(connection)
    matched = [revision for revision, schema in schemas if _within(schema, present)]
    if matched:
        revision, before = matched[-1], f"pre-migrations (matching {matched[-1]})"
    else:
        revision, before = schemas[0][0], f"older than {schemas[0][0]}"
        _fill(engine, present)
    with engine.begin() as connection:
        command.stamp(config(connection), revision)
    return revision, before


@cache
def _revision_schemas() -> list[tuple[str, dict[str, set[str]]]]:
    """The tables and columns after each revision, found by running them on a scratch in-memory database."""
    from alembic import command

    scratch = create_engine("sqlite://")
    schemas = []
    with scratch.connect() as connection:  # one connection: the in-memory database lives as long as it
        for revision in revisions():
            command.upgrade(config(connection), revision)
            schemas.append((revision, _columns(connection)))
    scratch.dispose()
    return schemas


def _columns(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {
        table: {column["name"] for column in inspector.get_columns(table)}
        for table in inspector.get_table_names()
        if table != VERSION_TABLE
    }


def _within(schema: dict[str, set[str]], present: dict[str, set[str]]) -> bool:
    return all(table in present and columns <= present[table] for table, columns in schema.items())


def _fill(engine: Engine, present: dict[str, set[str]]) -> None:
    """Give a store older than the first revision that revision's tables and columns (all were additive)."""
    from alembic import command

    first = revisions()[0]
    scratch = create_engine("sqlite://")
    with scratch.connect() as connection:
        command.upgrade(config(connection), first)
        baseline = MetaData()
        baseline.reflect(connection)
    scratch.dispose()
    baseline.remove(baseline.tables[VERSION_TABLE])
    # What the scratch database reflects are SQLite's types (DATETIME has no zone, and is no PostgreSQL type):
    # each column takes the model's type where the model has it, else the generic one.
    modelled: dict[tuple[str, str], Column] = {}  # type: ignore[type-arg]
    for name, table in baseline.tables.items():
        model = SQLModel.metadata.tables.get(name)
        for reflected in table.columns:
            current = model.columns.get(reflected.name) if model is not None else None
            reflected.type = current.type if current is not None else reflected.type.as_generic()
            if current is not None:
                modelled[name, reflected.name] = current
    missing = [table for name, table in baseline.tables.items() if name not in present]
    added = []
    with engine.begin() as connection:
        baseline.create_all(connection, tables=missing)
        for name, table in baseline.tables.items():
            for reflected in table.columns:
                if name in present and reflected.name not in present[name]:
                    _add_column(connection, name, reflected, modelled.get((name, reflected.name)))
                    added.append(f"{name}.{reflected.name}")
    log.info("store older than %s: created %s; added %s", first, [t.name for t in missing] or "no table", added or "no column")


def _add_column(connection: Connection, table: str, column: Column, default: Column | None) -> None:  # type: ignore[type-arg]
    """`ALTER TABLE … ADD COLUMN` with the model's default (`default`'s), so the rows already there get it."""
    kind = column.type.compile(dialect=connection.dialect)
    value = _literal_default(default, connection) if default is not None else None
    clause = f" DEFAULT {value}" if value is not None else ""
    connection.execute(text(f'ALTER TABLE "{table}" ADD COLUMN "{column.name}" {kind}{clause}'))


def _literal_default(column: Column, connection: Connection) -> str | None:  # type: ignore[type-arg]
    """The column's scalar default as the store's SQL spells it (a boolean is 1/0 on SQLite, true/false on PostgreSQL)."""
    default = column.default
    if default is None or not getattr(default, "is_scalar", False) or not isinstance(default.arg, bool | int | float | str):
        return None
    return str(literal(default.arg).compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
