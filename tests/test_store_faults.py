"""A store that cannot take writes for a while: nothing acknowledged is lost, and the condition is said, then ends by itself.

Real faults on a real SQLite file: another process's connection holding the
write lock, the file made immutable (what a filesystem remounted read-only
does to writes). The store's busy timeout is cut to 0.1 s, so a held lock
fails a write at once instead of after 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from ocpp.exceptions import InternalError
from ocpp.v16 import call
from sqlalchemy import event, func
from sqlmodel import select

from console.api.client import RemoteBackend
from console.api.server import ApiServer
from console.core.clock import SystemClock
from console.core.events import StoreHealth
from console.core.fleet import FleetService
from console.core.models import Charger, MeterSample, Transaction
from console.core.service import ConsoleService
from console.core.store import Store
from console.csms.server import CentralSystem
from console.tui.widgets.header import summary

sys.path.insert(0, str(Path(__file__).parent / "csms"))
sys.path.insert(0, str(Path(__file__).parent))
from ocpp_clients import charge_point, eventually  # noqa: E402


def short_busy_timeout(store: Store) -> None:
    """Every connection of the store waits 0.1 s for a lock, not 5 s."""

    def pragma(connection, _record) -> None:  # type: ignore[no-untyped-def]
        connection.execute("PRAGMA busy_timeout=100")

    event.listen(store.engine, "connect", pragma)
    store.engine.dispose()


@pytest.fixture
async def central(service: ConsoleService, store: Store) -> AsyncIterator[CentralSystem]:
    short_busy_timeout(store)
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


def db_path(store: Store) -> str:
    return store.engine.url.database  # type: ignore[return-value]


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


async def stored_samples(service: ConsoleService, charger_id: str) -> int:
    statement = select(func.count()).select_from(MeterSample).where(MeterSample.charger_id == charger_id)
    return await service.store.run(lambda session: session.exec(statement).one())


async def test_a_batch_is_kept_and_retried_while_another_process_holds_the_write_lock(
    service: ConsoleService, store: Store, central: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "CP-LOCK"})
    async with charge_point(central.url, "CP-LOCK") as cp:
        await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await service.writer.flush()
        before = await stored_samples(service, charger.id)
        holder = sqlite3.connect(db_path(store), isolation_level=None, timeout=0)
        holder.execute("BEGIN IMMEDIATE")
        try:
            acknowledged = 0
            for number in range(20):  # over a second, every one answered while the lock is held
                await cp.call(meter_values(1000 + number))
                acknowledged += 1
                await asyncio.sleep(0.05)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert acknowledged == 20

        async def all_stored() -> bool:
            return await stored_samples(service, charger.id) - before == acknowledged

        await eventually(all_stored, timeout=5)


@contextlib.contextmanager
def read_only(store: Store) -> Iterator[None]:
    """Writes to the store file and its write-ahead log fail (EPERM), as on a filesystem remounted read-only.

    The immutable flag, because chmod stops no one who already has the file open
    (and root not at all); the shared-memory index stays writable, as it does
    on a read-only remount (SQLite keeps it in memory then).
    """
    files = [db_path(store), db_path(store) + "-wal"]
    subprocess.run(["chattr", "+i", *files], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)


async def health(client: httpx.AsyncClient) -> dict:
    response = await client.get("/health")
    assert response.status_code == 200
    return response.json()["data"]


async def test_a_read_only_store_is_said_durable_answers_are_refused_and_all_recovers_by_itself(
    service: ConsoleService, store: Store, central: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "CP-RO"})
    await service.create_charger({"identity": "CP-RO2"})
    changes = service.subscribe(kinds=(StoreHealth,))
    _, key = await service.create_api_key("default")
    api = ApiServer(service, port=0, environment="test")
    await api.start()
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=5, headers={"x-api-key": key}) as client, charge_point(central.url, "CP-RO") as cp:
            await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
            assert (await health(client))["status"] == "ok"
            before = await stored_samples(service, charger.id)
            with read_only(store):
                for number in range(5):
                    await cp.call(meter_values(2000 + number))
                started = cp.call(call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-04-02T09:15:00Z"), suppress=False)
                with pytest.raises(InternalError):
                    await started
                degraded = await health(client)
                assert degraded["status"] == "degraded"
                assert degraded["store"]["writable"] is False
                assert degraded["store"]["reason"]
                assert degraded["store"]["queued"] >= 5
                assert service.info.store_unavailable == degraded["store"]["reason"]
                assert "store unavailable" in summary(service.info, []).plain
                attached = RemoteBackend(api.url, key)
                try:  # a console attaching now is told too
                    assert (await attached.connect()).store_unavailable == degraded["store"]["reason"]
                finally:
                    await attached.aclose()
                # A charger connecting now is taken and answered too (its live state waits in the queue).
                async with charge_point(central.url, "CP-RO2") as other:
                    assert (await other.call(call.Heartbeat())).current_time
            # The condition ends: no restart, no operator.
            await eventually(lambda: store.unavailable is None, timeout=5)
            assert (await health(client))["status"] == "ok"
            assert service.info.store_unavailable is None
            # Said once when it began and once when it ended, in the event stream as in the log.
            assert [event.state for event in changes.drain()] == ["degraded", "ok"]

            async def all_stored() -> bool:
                return await stored_samples(service, charger.id) - before == 5

            await eventually(all_stored, timeout=5)
            answer = await cp.call(call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-04-02T09:16:00Z"))
            assert answer.id_tag_info["status"] == "Accepted"
            transactions = await service.store.run(lambda session: session.exec(select(Transaction)).all())
            assert [transaction.id for transaction in transactions] == [answer.transaction_id]
    finally:
        await api.stop()


async def test_sigterm_to_serve_with_the_store_locked_waits_then_exits_non_zero_saying_how_many_rows_were_lost(
    tmp_path: Path,
) -> None:
    from test_serve import read_until  # noqa: PLC0415  (tests/ is on the path: the serve helpers)

    db = tmp_path / "serve.db"
    made = Store(f"sqlite:///{db}")
    try:
        fleet = FleetService(made, SystemClock())
        made.run_sync(lambda session: fleet.import_fleet(session, {"chargers": [{"identity": "CP-STOP"}]}))
    finally:
        made.close()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", "serve", "--db", f"sqlite:///{db}", "--ocpp-port", "0", "--api-port", "0",
        "--no-sim", "--stop-timeout", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    seen: list[str] = []
    holder = sqlite3.connect(db, isolation_level=None, timeout=5)
    try:
        assert process.stdout is not None
        url = (await read_until(process.stdout, r"listening on (ws://\S+)", seen)).group(1)
        async with charge_point(url, "CP-STOP") as cp:
            await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
            holder.execute("BEGIN IMMEDIATE")
            for number in range(10):
                await cp.call(meter_values(3000 + number))
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 30)
    finally:
        holder.close()
        if process.returncode is None:
            process.kill()
    rest = "".join(seen) + (await process.stdout.read()).decode()
    assert code == 1, rest
    lost = re.search(r"stopped: (\d+) acknowledged rows lost", rest)
    assert lost is not None, rest
    assert int(lost.group(1)) >= 10  # the samples, and the frames that carried them


async def add_samples(service: ConsoleService, charger_id: str, count: int) -> None:
    """`count` meter samples through the writer, as the central system adds them."""
    from datetime import datetime, timezone

    from console.core.live import SAMPLE_COLUMNS, SAMPLE_TABLE

    rows = service.writer.rows(SAMPLE_TABLE, SAMPLE_COLUMNS)
    at = datetime(2026, 4, 2, 9, 15, tzinfo=timezone.utc)
    for number in range(count):
        values = {"charger_id": charger_id, "connector_id": 1, "at": at, "measurand": "Energy.Active.Import.Register", "value": float(number)}
        rows.add([values.get(name) for name in SAMPLE_COLUMNS])


async def test_rows_queue_up_to_the_bound_while_the_store_is_unavailable_then_new_ones_are_dropped_and_counted(
    service: ConsoleService, store: Store
) -> None:
    charger = await service.create_charger({"identity": "CP-FULL"})
    writer = service.writer
    writer.max_queued = 300
    writer.max_pending = 100
    await writer.flush()
    assert writer.queued == 0
    before = await stored_samples(service, charger.id)
    with read_only(store):
        await add_samples(service, charger.id, 100)
        await eventually(lambda: store.unavailable is not None, timeout=5)
        await add_samples(service, charger.id, 250)
        assert writer.queued == 300
        assert writer.dropped == 50
        assert not writer.backlogged  # chargers are not held back for a store that is down
    await eventually(lambda: store.unavailable is None, timeout=5)

    async def kept_ones_stored() -> bool:
        return await stored_samples(service, charger.id) - before == 300

    await eventually(kept_ones_stored, timeout=5)
    assert writer.queued == 0


async def test_the_write_ahead_log_is_truncated_once_a_long_reader_ends(service: ConsoleService, store: Store) -> None:
    charger = await service.create_charger({"identity": "CP-WAL"})
    service.writer.checkpoint_every = 0.2
    reader = sqlite3.connect(db_path(store), isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM metersample").fetchone()  # a snapshot held: no checkpoint gets past it
    try:
        for _ in range(10):
            await add_samples(service, charger.id, 5_000)
            await service.writer.flush()
        grown = store.wal_bytes()
        assert grown > 4 << 20
        await asyncio.sleep(0.5)
        assert store.wal_bytes() >= grown  # held by the reader
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    await eventually(lambda: store.wal_bytes() < 1 << 20, timeout=5)


def test_the_store_s_condition_travels_the_event_stream() -> None:
    from console.api.wire import decode_event, encode_event

    for health in (StoreHealth("database or disk is full", 1200, 30), StoreHealth(None)):
        name, data = encode_event(health)  # type: ignore[misc]
        assert name == "store" and data["state"] == health.state
        assert decode_event(name, data) == health


async def test_a_store_file_deleted_while_running_is_said_and_nothing_acknowledged_is_lost_once_it_is_back(
    service: ConsoleService, store: Store, central: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "CP-DEL"})
    changes = service.subscribe(kinds=(StoreHealth,))
    path = Path(db_path(store))
    async with charge_point(central.url, "CP-DEL") as cp:
        await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        before = await stored_samples(service, charger.id)
        path.rename(path.with_name("moved-away.db"))  # what `rm` does to the path; the file lives on while open
        try:
            for number in range(5):
                await cp.call(meter_values(3000 + number))  # acknowledged: kept in the queue
            with pytest.raises(InternalError):  # a durable answer is refused, so the charger retries
                await cp.call(call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-04-02T09:15:00Z"), suppress=False)
            assert store.unavailable is not None and "deleted while running" in store.unavailable
            assert "store unavailable" in summary(service.info, []).plain
        finally:
            path.with_name("moved-away.db").rename(path)
        await eventually(lambda: store.unavailable is None, timeout=5)
        assert [event.state for event in changes.drain()] == ["degraded", "ok"]

        async def all_stored() -> bool:
            return await stored_samples(service, charger.id) - before == 5

        await eventually(all_stored, timeout=5)
        answer = await cp.call(call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-04-02T09:16:00Z"))
        assert answer.id_tag_info["status"] == "Accepted"


async def test_a_store_file_replaced_while_running_is_opened_and_written(service: ConsoleService, store: Store, tmp_path: Path) -> None:
    charger = await service.create_charger({"identity": "CP-RESTORED"})
    path = Path(db_path(store))
    backup = tmp_path / "backup.db"
    source = sqlite3.connect(path)
    with contextlib.closing(sqlite3.connect(backup)) as target:
        source.backup(target)
    source.close()
    path.unlink()  # the store deleted, then a backup put in its place (`store restore`)
    backup.rename(path)
    await service.update_charger(charger.id, {"name": "after the restore"})
    reader = Store(f"sqlite:///{path}")
    try:
        names = reader.run_sync(lambda session: [row.name for row in session.exec(select(Charger)).all()])
    finally:
        reader.close()
    assert names == ["after the restore"]
