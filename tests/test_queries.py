"""Read-side queries: action history, sessions, the fleet log, power history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.core.clock import ManualClock
from console.core.service import ConsoleService

pytestmark = pytest.mark.stores("sqlite", "postgresql")


async def test_histories(service: ConsoleService, clock: ManualClock) -> None:
    charger = await service.create_charger({"identity": "Q-1", "number_of_connectors": 2})
    await service.live.connected(charger.id)
    start = clock.now()
    first = await service.live.transaction_started(charger.id, 1, "TAG", 1_000, start)
    clock.advance(60)
    service.live.meter_values(charger.id, 1, first, [(clock.now(), "Power.Active.Import", None, "W", 7_000.0)])
    service.live.meter_values(charger.id, 2, None, [(clock.now(), "Power.Active.Import", None, "kW", 3.0)])
    service.live.meter_values(charger.id, 1, first, [(clock.now(), "Energy.Active.Import.Register", None, "Wh", 1_500.0)])
    clock.advance(60)
    await service.live.transaction_stopped(charger.id, first, 3_000, clock.now(), "Local")
    second = await service.live.transaction_started(charger.id, 1, "TAG2", 3_000, clock.now())
    service.live.meter_values(charger.id, 1, second, [(clock.now(), "Energy.Active.Import.Register", None, "Wh", 3_400.0)])

    sessions = await service.list_transactions(charger.id)
    assert [(s.id, s.energy_kwh, s.stopped_at is None) for s in sessions] == [(second, 0.4, True), (first, 2.0, False)]
    assert sessions[1].duration_s(clock.now()) == 120

    history = await service.power_history(charger.id, minutes=15)
    assert [sample.kw for sample in history] == [7.0, 10.0]
    assert history[0].at == start + timedelta(seconds=60)

    service.live.log("Q-1", "event", "hello")
    logs = await service.fleet_logs()
    assert logs[-1].message == "hello"
    assert [action.command for action in await service.list_actions(charger.id)] == []
