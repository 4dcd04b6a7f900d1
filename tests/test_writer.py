"""The batch writer: every row handed to it is written, whenever it is stopped."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from console.core.live import LOG_COLUMNS, LOG_TABLE
from console.core.models import LogEntry
from console.core.store import Store
from console.core.writer import CHUNK_ROWS, BatchWriter, TableRows

pytestmark = pytest.mark.stores("sqlite", "postgresql")

AT = datetime(2026, 4, 2, 9, 15, tzinfo=timezone.utc)


def frame(number: int) -> list:
    return [number, None, "CP-1", AT, "in", "Heartbeat", str(number), f'[2,"{number}","Heartbeat",{{}}]']


def logged_in(session) -> int:  # type: ignore[no-untyped-def]
    return session.execute(select(func.count()).select_from(LogEntry)).scalar_one()


def logged(store: Store) -> int:
    return store.run_sync(logged_in)


async def test_stopping_during_a_flush_writes_the_rest_of_its_batch(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = BatchWriter(store, interval=10, max_pending=CHUNK_ROWS)
    flushing = asyncio.Event()
    run = store.run

    async def slow(work):  # type: ignore[no-untyped-def]
        flushing.set()
        await asyncio.sleep(0.01)
        return await run(work)

    monkeypatch.setattr(store, "run", slow)
    frames = writer.rows(LOG_TABLE, LOG_COLUMNS)
    writer.start()
    rows = 3 * CHUNK_ROWS + 1
    for number in range(1, rows + 1):
        frames.add(frame(number))  # past max_pending: a flush is under way at once
    await flushing.wait()
    await writer.stop()
    assert logged(store) == rows


TIMES = [
    datetime(2026, 4, 2, 9, 15, tzinfo=timezone.utc),
    datetime(2026, 4, 2, 9, 15, 0, 999999, tzinfo=timezone.utc),
    datetime(2026, 4, 2, 9, 15, 1, 5, tzinfo=timezone.utc),
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 6, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(0), "Z")),
    datetime(2026, 5, 1, 0, 0, 0, 1, tzinfo=timezone.utc),
]


@pytest.mark.stores("sqlite")  # the quicker binding is SQLite's; PostgreSQL's rows go through Core
async def test_rows_are_written_as_sqlalchemy_writes_them(store: Store) -> None:
    """The same values, to the byte, as a Core insert of the same rows."""
    written = [
        [number, "cp-1" if number % 2 else None, "CP-1", at, "in", None if number % 3 else "Heartbeat", str(number), f"frame {number}"]
        for number, at in enumerate(TIMES, start=1)
    ]
    expected = [[number + 100, *row[1:]] for number, row in enumerate(written, start=1)]
    writer = BatchWriter(store)
    frames = writer.rows(LOG_TABLE, LOG_COLUMNS)
    for row in written:
        frames.add(list(row))
    await writer.flush()

    def core_insert(session):  # type: ignore[no-untyped-def]
        session.execute(LOG_TABLE.insert(), [dict(zip(LOG_COLUMNS, row)) for row in expected])
        session.commit()

    store.run_sync(core_insert)

    def stored(session):  # type: ignore[no-untyped-def]
        columns = ", ".join(f"{name}, typeof({name})" for name in LOG_COLUMNS[1:])
        return session.connection().exec_driver_sql(f"SELECT id, {columns} FROM logentry ORDER BY id").all()

    rows = store.run_sync(stored)
    assert len(rows) == 2 * len(TIMES)
    ours, theirs = rows[: len(TIMES)], rows[len(TIMES) :]
    assert [row[1:] for row in ours] == [row[1:] for row in theirs]
    assert [row[0] for row in ours] == list(range(1, len(TIMES) + 1))


async def test_work_waiting_for_the_store_goes_between_two_transactions_of_a_large_batch(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = BatchWriter(store, interval=10)
    frames = writer.rows(LOG_TABLE, LOG_COLUMNS)
    rows = 4 * CHUNK_ROWS
    for number in range(1, rows + 1):
        frames.add(frame(number))
    loop = asyncio.get_running_loop()
    seen: list[asyncio.Future] = []
    insert = TableRows.insert

    def insert_while_someone_comes(self, session, batch):  # type: ignore[no-untyped-def]
        if not seen:  # someone asks the store for something while the first rows are written
            submitted = threading.Event()

            def ask() -> None:
                seen.append(asyncio.ensure_future(store.run(logged_in)))
                loop.call_soon(submitted.set)  # after the task's first step, which hands the work to the store

            loop.call_soon_threadsafe(ask)
            submitted.wait(5)
        insert(self, session, batch)

    monkeypatch.setattr(TableRows, "insert", insert_while_someone_comes)
    await writer.flush()
    assert await seen[0] == CHUNK_ROWS  # it waited for one slice, committed
    assert logged(store) == rows


async def test_a_row_that_cannot_be_written_costs_only_itself(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """A batch with a bad row (a time without an offset, a sample of a charger deleted meanwhile)
    falls back to writing row by row: every other row of the flush is kept, the bad ones are reported."""
    from console.core.live import SAMPLE_COLUMNS, SAMPLE_TABLE
    from console.core.models import MeterSample

    writer = BatchWriter(store, interval=10)
    frames = writer.rows(LOG_TABLE, LOG_COLUMNS)
    samples = writer.rows(SAMPLE_TABLE, SAMPLE_COLUMNS)
    for number in range(1, 1201):
        frames.add(frame(number))
    naive = frame(1201)
    naive[LOG_COLUMNS.index("at")] = AT.replace(tzinfo=None)
    frames.add(naive)
    orphan = dict.fromkeys(SAMPLE_COLUMNS)
    orphan.update(charger_id="no-such-charger", connector_id=1, at=AT, measurand="Power.Active.Import", value=1.0)
    samples.add([orphan[name] for name in SAMPLE_COLUMNS])
    await writer.flush()
    assert logged(store) == 1200
    assert store.run_sync(lambda session: session.execute(select(func.count()).select_from(MeterSample)).scalar_one()) == 0
    assert writer.rows_written == 1200
    assert "2 rows could not be written and are dropped" in caplog.text
    # Times already turned to text by the failed attempt are written as the times they were.
    assert store.run_sync(lambda session: session.get(LogEntry, 1).at) == AT


async def test_callers_of_flush_waiting_together_share_one_transaction(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers flush before they read (so they see what was logged): a hundred at once while a batch is being
    written cost one more transaction, not a hundred (each a commit, with an fsync, on the one store thread)."""
    writer = BatchWriter(store, interval=10)
    frames = writer.rows(LOG_TABLE, LOG_COLUMNS)
    transactions = 0
    run = store.run

    async def counted(work):  # type: ignore[no-untyped-def]
        nonlocal transactions
        transactions += 1
        frames.add(frame(1000 + transactions))  # chargers go on logging while the store writes
        await asyncio.sleep(0.01)
        return await run(work)

    monkeypatch.setattr(store, "run", counted)
    frames.add(frame(1))
    first = asyncio.create_task(writer.flush())
    await asyncio.sleep(0)  # the first flush has taken its row and is writing it
    readers = []
    for number in range(2, 102):
        frames.add(frame(number))  # each reader's own row, logged just before it reads
        readers.append(asyncio.create_task(writer.flush()))
    await asyncio.gather(first, *readers)

    # The first batch, then one for all hundred readers (a write and an insert each).
    assert transactions == 4
    assert logged(store) >= 101
