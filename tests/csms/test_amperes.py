"""Smart charging in the unit the charger takes: an amperes-only charger (npm's ocpp-rpc in strict mode) gets its
location cap and an idle in A; the unit is read from the charger (a refused profile in W) or its kept configuration."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from test_independent_charger import NODE_DIR, ocpp_rpc  # noqa: F401  (the fixture that installs ocpp-rpc)

from console.core.models import Location
from console.core.operations import charging_profile
from console.core.rates import ChargingRate, charging_rate, takes_only_amperes
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import eventually


def test_rate_units_and_conversion() -> None:
    assert takes_only_amperes("Current") and takes_only_amperes("A")
    assert not takes_only_amperes("Current,Power") and not takes_only_amperes("A,W") and not takes_only_amperes(None)
    assert charging_rate("Current", None, 22000) == ChargingRate("A", 3)
    assert charging_rate("A", "1", 22000) == ChargingRate("A", 1)
    assert charging_rate("Current", None, 7400) == ChargingRate("A", 1)
    assert charging_rate("Power", None, 22000).unit == "W"
    profile = charging_profile("OCPP1.6", 1, 0, "TxProfile", 11000, rate=ChargingRate("A", 3))
    assert profile["chargingSchedule"] == {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 15.9, "numberPhases": 3}]}
    profile = charging_profile("OCPP2.0.1", 1, 0, "TxProfile", 0, rate=ChargingRate("A", 1))
    assert profile["chargingSchedule"][0]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 0, "numberPhases": 1}]


async def capped_location(service: ConsoleService, cap_kw: float) -> str:
    def write(session: Any) -> str:
        org = service.fleet.ensure_org(session)
        location = Location(organization_id=org.id, name="Yard", power_cap_kw=cap_kw, created_at=service.clock.now(), updated_at=service.clock.now())
        session.add(location)
        session.commit()
        return location.id

    location_id = await service.store.run(write)
    service.live.locations_changed(await service.store.run(service.fleet.locations))
    return location_id


async def test_an_amperes_only_charger_takes_its_cap_and_idle_in_amperes(
    ocpp_rpc: Path, service: ConsoleService, central_system: CentralSystem  # noqa: F811
) -> None:
    location_id = await capped_location(service, 11.0)
    charger = await service.create_charger({"identity": "AMP-16", "max_charging_power": 22000, "location_id": location_id})
    process = await asyncio.create_subprocess_exec(
        "node", str(NODE_DIR / "amperes.js"), central_system.url, "AMP-16", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        await eventually(lambda: service.live.open_transaction(charger.id, 1) is not None and charger.id in service.live.charging_rates, 15)
        assert service.live.charging_rate(charger.id) == ChargingRate("A", 3)
        idle = await service.send_command(charger.id, "idle")
        out, err = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert "error" not in result and result["invalid"] == [], (result, err.decode())
    profiles = result["profiles"]
    # Those in W went before the console knew (the first refusal had it read the unit) and were refused; from the
    # first in A on, every one went in A and was taken.
    first_a = next(index for index, item in enumerate(profiles) if item["unit"] == "A")
    assert first_a >= 1 and all(item["unit"] == "W" and item["status"] == "Rejected" for item in profiles[:first_a])
    assert all(item["unit"] == "A" and item["status"] == "Accepted" for item in profiles[first_a:])
    assert {"purpose": "ChargePointMaxProfile", "unit": "A", "limit": 15.9, "numberPhases": 3, "status": "Accepted"} in profiles
    assert {"purpose": "TxProfile", "unit": "A", "limit": 0, "numberPhases": 3, "status": "Accepted"} in profiles
    assert (await service.get_action(idle.id)).state in ("acknowledged", "completed")
    kept = {setting.key: setting.value for setting in (await service.charger_configuration(charger.id)).settings}
    assert kept["ChargingScheduleAllowedChargingRateUnit"] == "Current"


async def test_the_unit_kept_in_the_configuration_is_taken_at_start(service: ConsoleService) -> None:
    from console.core.models import ChargerSetting

    charger = await service.create_charger({"identity": "AMP-201", "ocpp_version": "OCPP2.0.1", "max_charging_power": 7400})

    def write(session: Any) -> None:
        session.add(ChargerSetting(charger_id=charger.id, key="SmartChargingCtrlr.RateUnit", value="A", readonly=True, fetched_at=service.clock.now()))
        session.commit()

    await service.store.run(write)
    assert service.live.charging_rate(charger.id).unit == "W"
    await service.store.run(service.settings.load)
    assert service.live.charging_rate(charger.id) == ChargingRate("A", 1)
