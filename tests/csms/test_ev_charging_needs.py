"""NotifyEVChargingNeeds from a real 2.0.1 client: the need is kept, answered, and planned into a schedule profile."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp_clients import charge_point, eventually

from console.core.models import Location
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.core.views import iso


class Vehicle201(ChargePoint201):
    """Keeps each SetChargingProfile; answers with `answer`."""

    answer = "Accepted"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profiles: list[dict[str, Any]] = []

    @on("SetChargingProfile")
    async def on_set_profile(self, evse_id: int, charging_profile: dict[str, Any], **_: Any) -> result201.SetChargingProfile:
        self.profiles.append(charging_profile)
        return result201.SetChargingProfile(status=self.answer)


class Refuser201(Vehicle201):
    answer = "Rejected"


async def planned_location(service: ConsoleService, cap_kw: float) -> str:
    now = service.clock.now()

    def add(session: Any) -> str:
        org = service.fleet.ensure_org(session)
        location = Location(organization_id=org.id, name="Depot", power_cap_kw=cap_kw, created_at=now, updated_at=now)
        session.add(location)
        session.commit()
        return location.id

    location_id = await service.store.run(add)
    service.live.locations_changed(await service.store.run(service.fleet.locations))
    await service.planner.set_settings(location_id, enabled=True)
    return location_id


async def start_session(cs: Any, reference: str) -> None:
    now = "2026-01-01T00:00:00Z"
    await cs.call(call201.BootNotification(charging_station={"vendorName": "V", "model": "M"}, reason="PowerUp"))
    await cs.call(call201.StatusNotification(timestamp=now, connector_status="Occupied", evse_id=1, connector_id=1))
    await cs.call(
        call201.TransactionEvent(
            event_type="Started", timestamp=now, trigger_reason="CablePluggedIn", seq_no=0,
            transaction_info={"transactionId": reference, "chargingState": "Charging"},
            evse={"id": 1, "connectorId": 1}, id_token={"idToken": "VAN", "type": "ISO14443"},
        )
    )


async def test_the_ev_says_its_needs_and_gets_a_schedule(service: ConsoleService, central_system: CentralSystem) -> None:
    location_id = await planned_location(service, 50)
    charger = await service.create_charger(
        {"identity": "EV-201", "ocpp_version": "OCPP2.0.1", "max_charging_power": 22000, "location_id": location_id}
    )
    async with charge_point(central_system.url, "EV-201", "ocpp2.0.1", client=Vehicle201) as cs:
        await start_session(cs, "tx-ev")
        departure = iso(service.clock.now() + timedelta(hours=6))
        answer = await cs.call(
            call201.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs={
                    "requestedEnergyTransfer": "AC_three_phase",
                    "departureTime": departure,
                    "acChargingParameters": {"energyAmount": 30000, "evMinCurrent": 6, "evMaxCurrent": 16, "evMaxVoltage": 400},
                },
            )
        )
        assert answer.status == "Accepted"
        need = service.planner.need_of(charger.id, 1)
        assert need is not None and need.source == "ev" and need.energy_kwh == 30
        assert need.max_kw == 16 * 230 * 3 / 1000
        def first_limit(profile: dict[str, Any]) -> float:
            return float(profile["charging_schedule"][0]["charging_schedule_period"][0]["limit"])

        # At the EV's own maximum (11 kW, under the charger's 22) until 30 kWh are in.
        await eventually(lambda: cs.profiles and first_limit(cs.profiles[-1]) == 11040.0)
        profile = cs.profiles[-1]
        assert profile["charging_profile_purpose"] == "TxProfile" and profile["transaction_id"] == "tx-ev"
        assert profile["charging_schedule"][0]["charging_rate_unit"] == "W"
        plan = service.planner.wire(location_id)["plan"]
        (session,) = plan["sessions"]
        assert session["source"] == "ev" and session["makesIt"]

        past = await cs.call(
            call201.NotifyEVChargingNeeds(
                evse_id=1, charging_needs={"requestedEnergyTransfer": "DC", "departureTime": "2020-01-01T00:00:00Z"}
            )
        )
        assert past.status == "Rejected"


async def test_a_charger_refusing_its_profile_is_planned_around_and_shown(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    location_id = await planned_location(service, 30)
    refuser = await service.create_charger(
        {"identity": "REF-201", "ocpp_version": "OCPP2.0.1", "max_charging_power": 22000, "location_id": location_id}
    )
    taker = await service.create_charger(
        {"identity": "TAKE-201", "ocpp_version": "OCPP2.0.1", "max_charging_power": 22000, "location_id": location_id}
    )
    async with (
        charge_point(central_system.url, "REF-201", "ocpp2.0.1", client=Refuser201) as bad,
        charge_point(central_system.url, "TAKE-201", "ocpp2.0.1", client=Vehicle201) as good,
    ):
        await start_session(bad, "tx-bad")
        await start_session(good, "tx-good")
        await eventually(lambda: bad.profiles and good.profiles)

        def refused_shown() -> bool:
            plan = service.planner.wire(location_id)["plan"]
            return plan is not None and any(item["refused"] for item in plan["sessions"] if item["chargerId"] == refuser.id)

        await eventually(refused_shown)
        await eventually(lambda: float(good.profiles[-1]["charging_schedule"][0]["charging_schedule_period"][0]["limit"]) == 8000.0)
        current = service.planner.plans[location_id]
        # The refuser draws its 22 kW; the other gets what the 30 kW cap leaves.
        assert current.session(f"{refuser.id}/1").power_kw[0] == 22
        assert current.session(f"{taker.id}/1").power_kw[0] == 8
