"""Shared fixtures: a real store (a temporary SQLite file, or a database of its own on PostgreSQL), a manual clock, the console service.

A module or test marked `@pytest.mark.stores("sqlite", "postgresql")` runs once per
store: its `db_url` (and the `store`, `service` and servers over it) is parametrized.
The PostgreSQL runs need `OCPP_CONSOLE_TEST_PG`, the URL of a database on a cluster
the tests may create databases on (`.ci/with-postgres` starts a throwaway one and
sets it); without it they are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from console.core.clock import ManualClock
from console.core.service import ConsoleService
from console.core.store import Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FLEET = ROOT / "sample_fleet.json"
PG_ENV = "OCPP_CONSOLE_TEST_PG"
# The store of every test not marked `stores` (sqlite by default): set to postgresql to run any test file there.
STORE_ENV = "OCPP_CONSOLE_TEST_STORE"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stores(*names): run the test's db_url on each of these stores (sqlite, postgresql)")
    config.addinivalue_line("markers", "collector_tuning: the central systems of this test tune Python's collector, as in production")


def uses_postgresql(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    fixtures = getattr(item, "fixturenames", ())
    backend = callspec.params.get("db_url") if callspec is not None and "db_url" in callspec.params else os.environ.get(STORE_ENV)
    return "pg_url" in fixtures or "pg_template" in fixtures or ("db_url" in fixtures and backend == "postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Under pytest-xdist (`uv run pytest -n 2 --dist loadgroup`, pyproject.toml) the tests on PostgreSQL run one after
    # another in one worker: each has a database of its own, but tests/test_postgres_restart.py stops the cluster.
    for item in items:
        if uses_postgresql(item):
            item.add_marker(pytest.mark.xdist_group("postgresql"))


@pytest.fixture(autouse=True)
def no_collector_tuning(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Central systems in tests leave Python's collector alone, as `CentralSystem(tune_collector=False)` does.

    The tuning's first step is a full collection of the process: in a test run, hundreds of thousands of
    objects, most of a second, paid by each of the hundreds of central systems the tests start (a third of
    the suite's time). The tuning itself and its wiring into the central system are tested in
    tests/csms/test_collector.py (marked `collector_tuning`).
    """
    if request.node.get_closest_marker("collector_tuning") is None:
        from console.csms import server

        monkeypatch.setattr(server, "CollectorTuning", lambda connections: None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("stores")
    if marker is not None and "db_url" in metafunc.fixturenames:
        metafunc.parametrize("db_url", marker.args, indirect=True)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    backend = getattr(request, "param", os.environ.get(STORE_ENV, "sqlite"))
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'console.db'}"
    elif backend == "postgresql":
        yield from postgres_database(template=request.getfixturevalue("pg_template"))
    else:
        raise ValueError(f"no such store for tests: {backend}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new empty database on the test cluster (no tables: as a SQLite file that does not exist yet)."""
    yield from postgres_database()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database with the schema at the newest revision, which each `db_url` on PostgreSQL is a copy of:
    copying it is quicker than making the schema for every test."""
    for url in postgres_database():
        Store(url).close()
        yield make_url(url).database  # type: ignore[misc]


def postgres_database(template: str | None = None) -> Iterator[str]:
    """A new database on the test cluster (empty, or a copy of `template`), dropped after the test (its connections ended)."""
    server = os.environ.get(PG_ENV)
    if not server:
        pytest.skip(f"PostgreSQL: set {PG_ENV} to a database URL, or run under .ci/with-postgres")
    import psycopg

    maintenance = make_url(server).set(drivername="postgresql")
    database = f"t_{uuid.uuid4().hex[:12]}"
    dsn = maintenance.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield maintenance.set(database=database).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store made at the newest revision once, which each `store` on SQLite is a copy of (as `pg_template`)."""
    path = tmp_path_factory.mktemp("template") / "console.db"
    Store(f"sqlite:///{path}").close()  # closed: the write-ahead log is checkpointed into the file and removed
    return path


@pytest.fixture
def store(db_url: str, request: pytest.FixtureRequest) -> Store:
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        shutil.copyfile(request.getfixturevalue("sqlite_template"), url.database)
    store = Store(db_url)
    yield store
    store.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def service(store: Store, clock: ManualClock) -> AsyncIterator[ConsoleService]:
    service = ConsoleService(store, clock=clock, flush_interval=0.05)
    await service.open()
    yield service
    await service.close()


@pytest.fixture
def sample_fleet() -> dict:
    return json.loads(SAMPLE_FLEET.read_text())
