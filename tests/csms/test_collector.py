"""The collector tuning of the central system: freezes what lives long, gives the collector back when stopped."""

from __future__ import annotations

import asyncio
import gc

import pytest

from console.core.service import ConsoleService
from console.csms import collector
from console.csms.collector import CollectorTuning
from console.csms.server import CentralSystem
from ocpp_clients import charge_point, eventually


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


@pytest.mark.collector_tuning
async def test_a_central_system_tunes_the_collector_while_it_runs(service: ConsoleService) -> None:
    """As in production (the other tests' central systems leave the collector alone: tests/conftest.py)."""
    thresholds = gc.get_threshold()
    central = CentralSystem(service, port=0, auto_register=True)
    await central.start()
    try:
        assert central.collector is not None
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= collector.GEN0_THRESHOLD
        async with charge_point(central.url, "NEW-1"):
            await eventually(lambda: central.collector._last_arrival > 0)
    finally:
        await central.stop()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds


async def test_central_systems_of_other_tests_leave_the_collector_alone(service: ConsoleService) -> None:
    central = CentralSystem(service, port=0)
    await central.start()
    try:
        assert central.collector is None
    finally:
        await central.stop()
