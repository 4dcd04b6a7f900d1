"""The collector tuning of the central system: freezes what lives long, gives the collector back when stopped."""

from __future__ import annotations

import asyncio
import gc

import pytest

from console.csms import collector
from console.csms.collector import CollectorTuning


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector, "CHECK_SECONDS", 0.01)
    monkeypatch.setattr(collector, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(collector, "MIN_GROWTH", 2)


async def test_freezes_at_start_and_again_as_connections_grow_then_restores_the_collector() -> None:
    thresholds = gc.get_threshold()
    connections = [0]
    tuning = CollectorTuning(lambda: connections[0])
    tuning.start()
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= collector.GEN0_THRESHOLD
        connections[0] = 10
        await asyncio.sleep(0.1)
        assert tuning._frozen_connections == 10
        for _ in range(5):
            tuning.closed()
        await asyncio.sleep(0.1)
        assert tuning._closed_since == 0  # thawed, collected and frozen again
    finally:
        await tuning.stop()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds
