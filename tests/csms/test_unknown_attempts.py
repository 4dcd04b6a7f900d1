"""Unknown identities that keep trying: counted per identity and hour with the writer's batches, logged once an hour."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from console.core.clock import ManualClock
from console.core.models import LogEntry, UnknownAttempt
from console.core.service import ConsoleService
from console.csms.server import CentralSystem


async def refused(url: str) -> int:
    with pytest.raises(InvalidStatus) as refusal:
        async with connect(url, subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
            pass
    return refusal.value.response.status_code


async def test_attempts_are_counted_per_hour_not_kept_one_row_each(
    service: ConsoleService, central_system: CentralSystem, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No attempt waits for a commit of its own: the store thread is not asked during the handshakes.
    runs = 0
    run = service.store.run

    async def counted(work):  # type: ignore[no-untyped-def]
        nonlocal runs
        runs += 1
        return await run(work)

    monkeypatch.setattr(service.store, "run", counted)
    service.writer.interval = 3600  # the writer's batch comes when the test asks for it
    for _ in range(5):
        assert await refused(f"{central_system.url}/SCANNER") == 404
    assert await refused(f"{central_system.url}/OTHER") == 404
    clock.advance(3600)
    for _ in range(2):
        assert await refused(f"{central_system.url}/SCANNER") == 404
    assert runs == 0
    monkeypatch.undo()

    unknown = {view.identity: view for view in await service.list_unknown()}
    assert (unknown["SCANNER"].attempts, unknown["OTHER"].attempts) == (7, 1)
    hourly = service.store.run_sync(
        lambda session: session.execute(select(UnknownAttempt.identity, UnknownAttempt.attempts).order_by(UnknownAttempt.id)).all()
    )
    assert [tuple(row) for row in hourly] == [("SCANNER", 5), ("OTHER", 1), ("SCANNER", 2)]
    # One refusal logged per identity and hour (messages are stored compressed: read back, then matched).
    messages = service.store.run_sync(lambda session: session.execute(select(LogEntry.message)).scalars().all())
    assert sum(message.startswith("refused") for message in messages) == 3


async def test_counts_survive_a_restart_and_add_up(service: ConsoleService, central_system: CentralSystem) -> None:
    for _ in range(2):
        await refused(f"{central_system.url}/AGAIN")
    await service.list_unknown()  # written
    again = ConsoleService(service.store, clock=service.clock, flush_interval=0.05)
    await again.store.run(again._load)
    view = await again.registrations.note_attempt("AGAIN", "127.0.0.1", "ocpp1.6")
    assert view.attempts == 3
    await again.writer.flush()
    assert [view.attempts for view in await again.list_unknown()] == [3]
