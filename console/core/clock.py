"""Injectable time: every age, timestamp and simulated interval reads one clock.

`SystemClock` is wall time. `ManualClock` only moves when a test advances it,
and wakes the sleepers whose deadline has passed, so tests and snapshots never
depend on real time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import datetime, timedelta, timezone
from typing import Protocol


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall time; `speed` > 1 makes simulated intervals pass faster (demos)."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed

    def now(self) -> datetime:
        return datetime.now(timezone.utc)  # utcnow(), without the extra call: read a few times per frame

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class ManualClock:
    """A clock that stands still until `advance` moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 4, 2, 9, 15, tzinfo=timezone.utc)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._sleepers, (self._now + timedelta(seconds=seconds), next(self._order), future)
        )
        await future

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper now due."""
        self._now += timedelta(seconds=seconds)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    async def run_for(self, seconds: float, step: float = 1.0) -> None:
        """Advance in steps, letting woken tasks run between steps."""
        remaining = seconds
        while remaining > 0:
            delta = min(step, remaining)
            self.advance(delta)
            remaining -= delta
            for _ in range(5):
                await asyncio.sleep(0)
