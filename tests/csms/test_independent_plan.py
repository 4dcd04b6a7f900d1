"""The planner's schedule profiles received by an independent strict-schema charger (npm's ocpp-rpc), both versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_independent_charger import ocpp_rpc, replay  # noqa: F401  (the fixture, and the runner)

from console.core.models import Location
from console.core.planning import PLAN_PROFILE_ID
from console.core.service import ConsoleService
from console.csms.server import CentralSystem


async def planned_charger(service: ConsoleService, identity: str, version: str) -> str:
    now = service.clock.now()

    def add(session: Any) -> str:
        org = service.fleet.ensure_org(session)
        location = Location(organization_id=org.id, name="Depot", power_cap_kw=40, created_at=now, updated_at=now)
        session.add(location)
        session.commit()
        return location.id

    location_id = await service.store.run(add)
    service.live.locations_changed(await service.store.run(service.fleet.locations))
    await service.planner.set_settings(location_id, enabled=True, tariff=[0.3] * 48 + [0.1] * 48)
    charger = await service.create_charger(
        {"identity": identity, "ocpp_version": version, "max_charging_power": 22000, "location_id": location_id}
    )
    return charger.id


async def test_a_strict_16_charger_takes_the_plans_schedule(
    ocpp_rpc: Path, service: ConsoleService, central_system: CentralSystem  # noqa: F811
) -> None:
    await planned_charger(service, "IND-16", "OCPP1.6")
    answers = await replay(ocpp_rpc, central_system.url, "plan16")
    profile = answers["profile"]["csChargingProfiles"]
    assert profile["chargingProfileId"] == PLAN_PROFILE_ID and profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["transactionId"] == answers["start"]["transactionId"]
    assert len(profile["chargingSchedule"]["chargingSchedulePeriod"]) >= 1


async def test_a_strict_201_station_tells_its_needs_and_takes_the_plans_schedule(
    ocpp_rpc: Path, service: ConsoleService, central_system: CentralSystem  # noqa: F811
) -> None:
    await planned_charger(service, "IND-201", "OCPP2.0.1")
    answers = await replay(ocpp_rpc, central_system.url, "plan201")
    assert answers["needs"]["status"] == "Accepted"
    profile = answers["profile"]["chargingProfile"]
    assert profile["id"] == PLAN_PROFILE_ID and profile["transactionId"] == "tx-plan-1"
    (schedule,) = profile["chargingSchedule"]
    assert schedule["chargingRateUnit"] == "W" and schedule["chargingSchedulePeriod"][0]["startPeriod"] == 0
