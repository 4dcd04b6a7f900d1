"""PostgreSQL stopped and started again under load: chargers go on being answered as far as the rules allow,
nothing acknowledged is lost, and the console recovers by itself.

The real server of the test cluster is stopped (`pg_ctl stop -m fast`: every
connection cut) and started again, with `OCPP_CONSOLE_TEST_PG_CTL` from
`.ci/with-postgres`; without it the test is skipped.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ocpp.exceptions import InternalError
from ocpp.v16 import call
from sqlalchemy import func
from sqlmodel import select

from console.core.events import StoreHealth
from console.core.models import MeterSample, Transaction
from console.core.service import ConsoleService
from console.core.store import Store
from console.csms.server import CentralSystem

sys.path.insert(0, str(Path(__file__).parent / "csms"))
from ocpp_clients import charge_point, eventually  # noqa: E402

pytestmark = [pytest.mark.stores("postgresql"), pytest.mark.timeout(120)]

PG_CTL_ENV = "OCPP_CONSOLE_TEST_PG_CTL"


async def pg_ctl(*args: str) -> None:
    command = os.environ.get(PG_CTL_ENV)
    if not command:
        pytest.skip(f"PostgreSQL restart: set {PG_CTL_ENV} to the cluster's pg_ctl command, or run under .ci/with-postgres")
    process = await asyncio.create_subprocess_exec(
        *shlex.split(command), *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, error = await process.communicate()
    assert process.returncode == 0, error.decode()


@pytest.fixture
async def central(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


def meter_values(energy_wh: int) -> call.MeterValues:
    return call.MeterValues(
        connector_id=1,
        meter_value=[
            {
                "timestamp": "2026-04-02T09:15:00Z",
                "sampledValue": [{"value": str(energy_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}],
            }
        ],
    )


async def stored_samples(store: Store, charger_id: str) -> int:
    statement = select(func.count()).select_from(MeterSample).where(MeterSample.charger_id == charger_id)
    return await store.run(lambda session: session.exec(statement).one())


async def test_postgresql_restarting_under_load(service: ConsoleService, store: Store, central: CentralSystem) -> None:
    if not os.environ.get(PG_CTL_ENV):
        await pg_ctl()  # skips, saying why
    store.owner_lock.acquire()  # as a console or `serve` holds it
    owner = f"pid {os.getpid()}, started at "
    assert store.owner_lock.holder().startswith(owner)
    charger = await service.create_charger({"identity": "CP-PG"})
    changes = service.subscribe(kinds=(StoreHealth,))
    async with charge_point(central.url, "CP-PG") as cp:
        await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await service.writer.flush()
        before = await stored_samples(store, charger.id)
        await pg_ctl("stop", "-m", "fast")
        try:
            acknowledged = 0
            for number in range(10):  # answered while the server is down: the samples wait in the writer's queue
                await cp.call(meter_values(1000 + number))
                acknowledged += 1
                await asyncio.sleep(0.05)
            await eventually(lambda: store.unavailable is not None, timeout=10)
            # A session's start must be on disk before it is answered: refused, and the charger retries it.
            with pytest.raises(InternalError):
                await cp.call(
                    call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-04-02T09:15:00Z"),
                    suppress=False,
                )
            assert (await cp.call(call.Heartbeat())).current_time
            assert service.writer.queued >= acknowledged
        finally:
            await pg_ctl("start")
        # Back by itself: the writer's retries find the server again, and what was queued is written.
        await eventually(lambda: store.unavailable is None, timeout=30)
        # The restart ended the owner's session and its lock: taken again, so a second console is still refused.
        await eventually(lambda: store.owner_lock.holder().startswith(owner), timeout=10)

        async def all_stored() -> bool:
            return await stored_samples(store, charger.id) - before == acknowledged

        await eventually(all_stored, timeout=10)
        assert [event.state for event in changes.drain()] == ["degraded", "ok"]
        answer = await cp.call(call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-04-02T09:16:00Z"))
        assert answer.id_tag_info["status"] == "Accepted"
        transactions = await store.run(lambda session: session.exec(select(Transaction)).all())
        assert [transaction.id for transaction in transactions] == [answer.transaction_id]


async def terminate_sessions(store: Store, database: str) -> None:
    """End every session on `database` but ours, as a failover or an operator does."""
    import psycopg

    maintenance = store.engine.url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(maintenance, autocommit=True) as connection:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
        )


async def set_read_only(store: Store, read_only: bool) -> None:
    """The database takes no writes (a hot standby does the same), or takes them again; for sessions begun after."""
    import psycopg

    database = store.engine.url.database
    maintenance = store.engine.url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(maintenance, autocommit=True) as connection:
        await connection.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = {"on" if read_only else "off"}')
    await terminate_sessions(store, database)


async def test_a_read_only_server_keeps_the_rows_for_later_and_refuses_what_must_be_on_disk(
    service: ConsoleService, store: Store, central: CentralSystem
) -> None:
    """A write refused as read-only is the server's condition, not the row's fault: nothing is dropped."""
    charger = await service.create_charger({"identity": "CP-RO"})
    async with charge_point(central.url, "CP-RO") as cp:
        await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await service.writer.flush()
        before = await stored_samples(store, charger.id)
        await set_read_only(store, True)
        try:
            for number in range(5):
                await cp.call(meter_values(2000 + number))
            await eventually(lambda: store.unavailable is not None, timeout=10)
            assert "read-only" in store.unavailable
            with pytest.raises(InternalError):
                await cp.call(
                    call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-04-02T09:15:00Z"),
                    suppress=False,
                )
        finally:
            await set_read_only(store, False)
        await eventually(lambda: store.unavailable is None, timeout=30)

        async def all_stored() -> bool:
            return await stored_samples(store, charger.id) - before == 5

        await eventually(all_stored, timeout=10)
        assert service.writer.refused == 0
