"""The depot planner with simulated chargers: needs in, schedule profiles out through the ledger, both versions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from simtools import eventually, rows, run_clock, settle
from sqlmodel import select

from console.core.clock import ManualClock
from console.core.errors import ValidationFailed
from console.core.models import Action, Location
from console.core.planning import PLAN_PROFILE_ID
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.manager import SimManager

CAP_KW = 30.0


async def depot(service: ConsoleService, manager: SimManager, clock: ManualClock) -> tuple[str, list[str]]:
    def add_location(session: Any) -> str:
        org = service.fleet.ensure_org(session)
        location = Location(organization_id=org.id, name="Depot", power_cap_kw=CAP_KW, created_at=clock.now(), updated_at=clock.now())
        session.add(location)
        session.commit()
        return location.id

    location_id = await service.store.run(add_location)
    service.live.locations_changed(await service.store.run(service.fleet.locations))
    chargers = []
    for number, version in enumerate(("OCPP1.6", "OCPP2.0.1"), start=1):
        view = await service.create_charger(
            {"identity": f"VAN-{number}", "simulated": True, "max_charging_power": 22000, "location_id": location_id,
             "ocpp_version": version, "number_of_connectors": 1}
        )
        chargers.append(view.id)
        await service.start_charger(view.id)
    for charger_id in chargers:
        await eventually(lambda charger_id=charger_id: manager.state(charger_id)[0] == "online")
    await settle(manager)
    return location_id, chargers


async def plan_actions(service: ConsoleService) -> list[Action]:
    return await rows(service, select(Action).where(Action.command == "plan").order_by(Action.created_at))


async def test_needs_become_schedule_profiles_that_keep_the_cap(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    location_id, chargers = await depot(service, manager, clock)
    # Cheap from two hours on: both vans wait for it, and still make it.
    start_slot = (clock.now().hour * 60 + clock.now().minute) // 15
    tariff = [0.30] * 96
    for offset in range(8, 40):
        tariff[(start_slot + offset) % 96] = 0.10
    await service.planner.set_settings(location_id, enabled=True, tariff=tariff)
    for charger_id in chargers:
        await service.planner.set_need(charger_id, 1, clock.now() + timedelta(hours=8), 40)
        action = await service.send_command(charger_id, "charge", {"connectorId": 1, "idTag": "FLEET"})
        await eventually(lambda action=action: _done(service, action.id))
        await settle(manager)

    async def both_planned() -> bool:
        actions = [a for a in await plan_actions(service) if a.state == "acknowledged"]
        return {a.charger_id for a in actions} == set(chargers)

    await eventually(both_planned)
    current = service.planner.plans[location_id]
    assert not current.misses
    assert max(current.total_kw()) <= CAP_KW + 1e-6
    assert current.cost < current.baseline_cost
    for item in current.sessions:
        assert item.power_kw[0] == 0  # dear now
    for action in await plan_actions(service):
        profile = action.parameters.get("csChargingProfiles") or action.parameters.get("chargingProfile")
        assert profile["chargingProfilePurpose"] == "TxProfile"
        assert (profile.get("chargingProfileId") or profile.get("id")) == PLAN_PROFILE_ID
        schedule = profile["chargingSchedule"]
        periods = (schedule if isinstance(schedule, dict) else schedule[0])["chargingSchedulePeriod"]
        assert periods[0]["limit"] == 0 and len(periods) > 1
    # The chargers hold the plan: nothing drawn in the dear slots.
    await run_clock(clock, manager, 60, step=5)
    assert sum(view.current_power_kw for view in await service.list_chargers()) == 0
    wire = service.planner.wire(location_id)
    assert wire["enabled"] and all(item["source"] == "operator" for item in wire["plan"]["sessions"])


async def test_a_bad_need_or_tariff_is_refused_under_its_field_and_the_plan_stays(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    location_id, chargers = await depot(service, manager, clock)
    with pytest.raises(ValidationFailed) as error:
        await service.planner.set_need(chargers[0], 1, clock.now() - timedelta(minutes=1), 10)
    assert "departBy" in error.value.problems
    with pytest.raises(ValidationFailed) as error:
        await service.planner.set_need(chargers[0], 1, clock.now() + timedelta(hours=1), 30)
    assert "can deliver" in error.value.problems["energyKWh"]
    with pytest.raises(ValidationFailed) as error:
        await service.planner.set_need(chargers[0], 1, clock.now() + timedelta(hours=5), 90, battery_kwh=60)
    assert "battery" in error.value.problems["energyKWh"]
    await service.planner.set_settings(location_id, enabled=True, tariff=[0.2] * 96)
    with pytest.raises(ValidationFailed) as error:
        await service.planner.set_settings(location_id, tariff=[0.2] * 95 + [-1])
    assert "tariff" in error.value.problems
    assert service.planner.settings[location_id].tariff == [0.2] * 96


async def _done(service: ConsoleService, action_id: str) -> bool:
    return (await service.get_action(action_id)).state in ("completed", "failed", "rejected", "acknowledged")
