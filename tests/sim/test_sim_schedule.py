"""A simulated charger's composite schedule and the profiles the console installed on it: a limited charge shows
in GetCompositeSchedule, its TxProfile is listed, and clearing it (ClearChargingProfile) lifts the limit."""

from __future__ import annotations

import pytest

from console.core.clock import ManualClock
from console.core.errors import NotFound
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.manager import SimManager
from simtools import eventually, online_charger, settle


async def done(service: ConsoleService, action_id: str) -> bool:
    return (await service.get_action(action_id)).state == "completed"


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
async def test_a_limited_charge_is_in_the_schedule_listed_and_cleared(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock, version: str
) -> None:
    charger_id = await online_charger(service, manager, version=version)
    await manager.plug_in(charger_id, 1, soc=20, battery_kwh=60)
    await settle(manager)
    action = await service.send_command(charger_id, "charge", {"connectorId": 1, "powerLimit": 7})
    await eventually(lambda: done(service, action.id))
    await settle(manager)

    (profile,) = await service.installed_profiles(charger_id)
    assert (profile.connector_id, profile.purpose, profile.unit, profile.limit, profile.command) == (1, "TxProfile", "W", 7000, "charge")

    schedule = await service.composite_schedule(charger_id, 1, 600)
    assert schedule.status == "Accepted" and schedule.problem is None and schedule.unit == "W"
    assert schedule.periods and schedule.periods[0].start_s == 0 and schedule.periods[0].limit == 7000

    result = await service.clear_profile(charger_id, profile.profile_id)
    assert (result.state, result.operation) == ("acknowledged", "ClearChargingProfile")
    assert await service.installed_profiles(charger_id) == []
    with pytest.raises(NotFound):
        await service.clear_profile(charger_id, profile.profile_id)
    lifted = await service.composite_schedule(charger_id, 1, 600)
    assert lifted.periods[0].limit == 22000  # the charger's own max again
