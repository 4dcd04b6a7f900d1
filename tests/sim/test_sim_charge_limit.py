"""A charge with a power limit that starts a session on a simulated charger: no meter value is ever above the limit."""

from __future__ import annotations

from typing import Any

import pytest
from simtools import eventually, online_charger, rows, run_clock, settle
from sqlmodel import select

from console.core.clock import ManualClock
from console.core.models import MeterSample
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.manager import SimManager


async def reported_power(service: ConsoleService, charger_id: str) -> list[float]:
    """Every power reading (W, all phases together) the charger sent, oldest first."""
    samples = await rows(
        service,
        select(MeterSample)
        .where(MeterSample.charger_id == charger_id, MeterSample.measurand == "Power.Active.Import")
        .order_by(MeterSample.id),
    )
    return [sample.value for sample in samples if sample.phase is None]


async def state_of(service: ConsoleService, action_id: str) -> Any:
    return (await service.get_action(action_id)).state


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
async def test_a_limited_charge_that_starts_a_session_never_draws_more(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock, version: str
) -> None:
    charger_id = await online_charger(service, manager, version=version)
    await manager.plug_in(charger_id, 1, soc=20, battery_kwh=60)
    await settle(manager)
    charger = manager.charger(charger_id)
    assert charger is not None and charger.connectors[1].session is not None
    charger.connectors[1].session.ev.max_power_w = 22_000.0  # a car that would take all 22 kW

    action = await service.send_command(charger_id, "charge", {"connectorId": 1, "powerLimit": 7})
    await eventually(lambda: _is(service, action.id, "completed"))
    await settle(manager)
    await run_clock(clock, manager, 120, step=5)

    power = await reported_power(service, charger_id)
    assert power and max(power) > 6_900  # it charges, at its limit
    assert max(power) <= 7_000, power
    view = await service.get_charger(charger_id)
    assert view.is_charging and view.current_power_kw <= 7.0


async def _is(service: ConsoleService, action_id: str, state: str) -> bool:
    return await state_of(service, action_id) == state


async def test_a_remote_start_with_a_profile_that_is_no_tx_profile_is_rejected(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem
) -> None:
    charger_id = await online_charger(service, manager)
    profile = {
        "chargingProfileId": 9, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000}]},
    }
    answer = await central_system.call("CP-1", "RemoteStartTransaction", {"idTag": "APP", "chargingProfile": profile})
    assert answer == {"status": "Rejected"}
    await settle(manager)
    charger = manager.charger(charger_id)
    assert charger is not None and all(connector.session is None for connector in charger.outlets)
