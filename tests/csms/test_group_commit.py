"""Durable live-state writes (connect, boot, disconnect) share transactions, and each is committed before it returns."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, select

from console.core.models import ChargerState
from console.core.service import ConsoleService
from console.core.store import Store
from console.core.writer import BatchWriter

from tests.conftest import SAMPLE_FLEET

pytestmark = pytest.mark.stores("sqlite", "postgresql")


def committed_state(store: Store, charger_id: str) -> ChargerState | None:
    """Read from a connection of its own: only what is committed is there."""
    with Session(store.engine) as session:
        return session.exec(select(ChargerState).where(ChargerState.charger_id == charger_id)).first()


async def test_a_connect_storm_shares_transactions_and_each_connect_is_committed_when_it_returns(
    service: ConsoleService, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await service.import_if_empty(SAMPLE_FLEET)
    live = service.live
    charger_ids = live.ids()
    assert len(charger_ids) >= 10
    transactions = 0
    run = store.run

    async def counting(work):  # type: ignore[no-untyped-def]
        nonlocal transactions
        transactions += 1
        return await run(work)

    monkeypatch.setattr(store, "run", counting)

    async def connect(charger_id: str) -> None:
        await live.connected(charger_id)
        state = await asyncio.to_thread(committed_state, store, charger_id)
        assert state is not None and state.is_connected and state.provisioning == "connected"
        status = await live.booted(charger_id, "Vendor", "Model", "1.0")
        state = await asyncio.to_thread(committed_state, store, charger_id)
        assert state is not None and state.provisioning == status.lower() == "accepted"
        assert state.firmware_version == "1.0"

    await asyncio.gather(*(connect(charger_id) for charger_id in charger_ids))
    # Two durable writes per charger, far fewer transactions.
    assert transactions < len(charger_ids)

    await asyncio.gather(*(live.disconnected(charger_id) for charger_id in charger_ids))
    for charger_id in charger_ids:
        state = committed_state(store, charger_id)
        assert state is not None and not state.is_connected and state.status == "offline"


async def test_a_failed_group_commit_raises_in_every_caller(store: Store) -> None:
    from console.core.live import STATE_TABLE

    writer = BatchWriter(store, interval=10)
    writer.start()
    try:
        # A row the table refuses (no such charger: the foreign key fails).
        bad = {"charger_id": "dep-missing", "status": None}
        results = await asyncio.gather(
            *(writer.commit(("state", f"x{n}"), STATE_TABLE, lambda: bad) for n in range(3)), return_exceptions=True
        )
        assert all(isinstance(result, Exception) for result in results)
    finally:
        await writer.stop()


async def test_commit_without_a_running_writer_writes_at_once(service: ConsoleService, store: Store) -> None:
    await service.import_if_empty(SAMPLE_FLEET)
    charger_id = service.live.ids()[0]
    await service.writer.stop()
    await service.live.connected(charger_id)
    state = committed_state(store, charger_id)
    assert state is not None and state.is_connected
