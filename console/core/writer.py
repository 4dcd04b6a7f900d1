"""Batched writes for high-rate rows (frame logs, meter samples, live-state touches).

Rows gather in memory and go to the store in one transaction per interval, so
a crash loses at most the last batch. The queue is bounded: past `max_pending`
an early flush is forced rather than growing without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlmodel import Session, SQLModel

from console.core.store import Store

log = logging.getLogger(__name__)


class BatchWriter:
    def __init__(
        self,
        store: Store,
        interval: float = 0.5,
        max_pending: int = 20_000,
    ) -> None:
        self.store = store
        self.interval = interval
        self.max_pending = max_pending
        self._rows: list[SQLModel] = []
        self._merges: dict[tuple[str, str], SQLModel] = {}
        self._calls: list[Callable[[Session], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._kick = asyncio.Event()
        self.rows_written = 0

    def add(self, row: SQLModel) -> None:
        self._rows.append(row)
        if len(self._rows) >= self.max_pending:
            self._kick.set()

    def call(self, work: Callable[[Session], None]) -> None:
        """Run a small write with the next batch (e.g. a sequence number to keep)."""
        self._calls.append(work)

    def merge(self, key: tuple[str, str], row: SQLModel) -> None:
        """Keep only the latest version of a row (live state) until the next flush."""
        self._merges[key] = row

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="batch-writer")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.interval)
            self._kick.clear()
            try:
                await self.flush()
            except Exception:  # a failed batch must not stop later ones
                log.exception("batch write failed")

    async def flush(self) -> None:
        async with self._flush_lock:
            rows, self._rows = self._rows, []
            merges, self._merges = list(self._merges.values()), {}
            calls, self._calls = self._calls, []
            if not rows and not merges and not calls:
                return

            def write(session: Session) -> None:
                session.add_all(rows)
                for row in merges:
                    session.merge(row)
                session.commit()
                for work in calls:
                    work(session)

            await self.store.run(write)
            self.rows_written += len(rows)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
