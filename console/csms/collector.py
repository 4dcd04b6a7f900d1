"""Keeping Python's cyclic garbage collector out of the answer latency of thousands of connections.

A full collection walks every object the collector tracks: with 10,000
connected chargers that is millions of objects and a pause of a few hundred
milliseconds, which is the latency tail (PERF-NOTES). What lives as long as
the process or a connection (the fleet loaded at start-up, each connection's
protocol objects) need not be walked while it lives, so it is frozen
(`gc.freeze()`: moved where collections do not look):

- once at start-up, when the fleet is loaded;
- again whenever the number of connections has grown by a quarter (and by at
  least `MIN_GROWTH`) since the last freeze, once arrivals have settled; this
  freeze does not collect first (a collection with 10,000 connections is a
  pause of most of a second, the very thing to avoid), so the little cyclic
  garbage there is at that moment stays;
- objects frozen while a connection was open cannot be collected when it
  closes; when as many connections have closed as a quarter of those frozen,
  everything is thawed, collected once, and frozen again. That is one pause
  after a reconnect storm, instead of one every few seconds.

Young collections run less often than by default (`GEN0_THRESHOLD`
allocations instead of 700): each message allocates a few dozen objects that
reference counting frees anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("console.csms")

GEN0_THRESHOLD = 10_000
MIN_GROWTH = 100
SETTLE_SECONDS = 3.0
CHECK_SECONDS = 1.0


class CollectorTuning:
    def __init__(self, connections: Callable[[], int]) -> None:
        self._connections = connections
        self._frozen_connections = 0
        self._closed_since = 0
        self._last_arrival = 0.0
        self._task: asyncio.Task[None] | None = None
        self._thresholds: tuple[int, int, int] | None = None
        self._tuned: tuple[int, ...] = ()

    def start(self) -> None:
        self._thresholds = gc.get_threshold()
        self._tuned = (max(GEN0_THRESHOLD, self._thresholds[0]), *self._thresholds[1:])
        gc.set_threshold(*self._tuned)
        self._refreeze(thaw=False, collect=True)
        self._task = asyncio.create_task(self._watch(), name="collector-tuning")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._thresholds is not None:
            if gc.get_threshold() == self._tuned:  # unless someone else has changed them since
                gc.set_threshold(*self._thresholds)
            self._thresholds = None
        gc.unfreeze()

    def opened(self) -> None:
        self._last_arrival = time.monotonic()

    def closed(self) -> None:
        self._closed_since += 1

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            if time.monotonic() - self._last_arrival < SETTLE_SECONDS:
                continue
            count = self._connections()
            if self._closed_since > max(MIN_GROWTH, self._frozen_connections // 4):
                self._refreeze(thaw=True, collect=True)
            elif count - self._frozen_connections >= max(MIN_GROWTH, self._frozen_connections // 4):
                self._refreeze(thaw=False, collect=False)

    def _refreeze(self, thaw: bool, collect: bool) -> None:
        started = time.perf_counter()
        if thaw:
            gc.unfreeze()
        if collect:
            gc.collect()
        gc.freeze()
        self._frozen_connections = self._connections()
        self._closed_since = 0
        log.info(
            "collector: %s %d objects with %d connections (%.0f ms)",
            "thawed, collected and froze" if thaw else "collected and froze" if collect else "froze",
            gc.get_freeze_count(), self._frozen_connections,
            (time.perf_counter() - started) * 1000,
        )
