"""The batch writer: every row handed to it is written, whenever it is stopped."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from console.core.live import LOG_TABLE
from console.core.models import LogEntry
from console.core.store import Store
from console.core.writer import CHUNK_ROWS, BatchWriter

AT = datetime(2026, 4, 2, 9, 15, tzinfo=timezone.utc)


def frame(number: int) -> dict:
    return {
        "id": number,
        "charger_id": None,
        "identity": "CP-1",
        "at": AT,
        "direction": "in",
        "action": "Heartbeat",
        "message_id": str(number),
        "message": f'[2,"{number}","Heartbeat",{{}}]',
    }


def logged(store: Store) -> int:
    return store.run_sync(lambda session: session.execute(select(func.count()).select_from(LogEntry)).scalar_one())


async def test_stopping_during_a_flush_writes_the_rest_of_its_batch(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = BatchWriter(store, interval=10, max_pending=CHUNK_ROWS)
    flushing = asyncio.Event()
    run = store.run

    async def slow(work):  # type: ignore[no-untyped-def]
        flushing.set()
        await asyncio.sleep(0.01)
        return await run(work)

    monkeypatch.setattr(store, "run", slow)
    writer.start()
    rows = 3 * CHUNK_ROWS + 1
    for number in range(1, rows + 1):
        writer.insert(LOG_TABLE, frame(number))  # past max_pending: a flush is under way at once
    await flushing.wait()
    await writer.stop()
    assert logged(store) == rows
