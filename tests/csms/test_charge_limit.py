"""A charge with a power limit that starts a session: the limit goes with the remote start, and holds from its first second.

The chargers are raw clients that record what the central system asks; the
action completes only once the charger accepted the start with its profile.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from console.api.wire import charger_from_dict
from console.core.models import Location
from console.core.operations import request_problem
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import charge_point, eventually

T0 = "2026-04-02T09:15:00Z"


class Starter16(ChargePoint16):
    """Records each RemoteStartTransaction payload; answers with `answer`."""

    answer = "Accepted"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.starts: list[dict[str, Any]] = []

    @on("RemoteStartTransaction")
    async def on_remote_start(self, id_tag: str, **rest: Any) -> result16.RemoteStartTransaction:
        self.starts.append({"id_tag": id_tag, **rest})
        return result16.RemoteStartTransaction(status=self.answer)


class Refuser16(Starter16):
    answer = "Rejected"


class Starter201(ChargePoint201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.starts: list[dict[str, Any]] = []

    @on("RequestStartTransaction")
    async def on_request_start(self, id_token: dict[str, Any], remote_start_id: int, **rest: Any) -> result201.RequestStartTransaction:
        self.starts.append({"id_token": id_token, "remote_start_id": remote_start_id, **rest})
        return result201.RequestStartTransaction(status="Accepted")


async def completed(service: ConsoleService, action_id: str, state: str = "completed") -> Any:
    async def check() -> bool:
        return (await service.get_action(action_id)).state == state

    await eventually(check)
    return await service.get_action(action_id)


async def test_16_remote_start_carries_the_limit_as_a_tx_profile(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "LIM-16", "max_charging_power": 22000})
    async with charge_point(central_system.url, "LIM-16", client=Starter16) as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        action = await service.send_command(charger.id, "charge", {"powerLimit": 7.0, "idTag": "FLEET-7"})
        done = await completed(service, action.id)
        assert len(cp.starts) == 1
        start = cp.starts[0]
        profile = start["charging_profile"]
        assert (start["id_tag"], start["connector_id"]) == ("FLEET-7", 1)
        assert profile["charging_profile_purpose"] == "TxProfile" and "transaction_id" not in profile
        schedule = profile["charging_schedule"]
        assert schedule["charging_rate_unit"] == "W"
        assert [float(p["limit"]) for p in schedule["charging_schedule_period"]] == [7000.0]
        assert "7 kW" in (done.detail or "") and "Accepted" in (done.detail or "")
        # The limit is the one in force for the power cap and the Live tab from now on.
        assert service.engine.command_limit_w(charger.id) == 7000.0


async def test_16_remote_start_without_a_limit_carries_no_profile(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "LIM-16B", "max_charging_power": 22000})
    async with charge_point(central_system.url, "LIM-16B", client=Starter16) as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        action = await service.send_command(charger.id, "charge", {})
        await completed(service, action.id)
        assert "charging_profile" not in cp.starts[0]


async def test_16_a_refused_start_with_a_limit_is_rejected_and_sets_no_limit(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "LIM-16R", "max_charging_power": 22000})
    async with charge_point(central_system.url, "LIM-16R", client=Refuser16) as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        action = await service.send_command(charger.id, "charge", {"powerLimit": 7})
        await completed(service, action.id, "rejected")
        assert cp.starts[0]["charging_profile"]["charging_schedule"]["charging_schedule_period"][0]["limit"] == 7000
        assert service.engine.command_limit_w(charger.id) is None


async def test_201_request_start_carries_the_limit_as_a_tx_profile(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "LIM-201", "ocpp_version": "OCPP2.0.1", "max_charging_power": 22000})
    async with charge_point(central_system.url, "LIM-201", "ocpp2.0.1", client=Starter201) as cs:
        await cs.call(call201.BootNotification(charging_station={"vendorName": "V", "model": "M"}, reason="PowerUp"))
        await cs.call(call201.StatusNotification(timestamp=T0, connector_status="Available", evse_id=1, connector_id=1))
        action = await service.send_command(charger.id, "charge", {"powerLimit": 7})
        await completed(service, action.id)
        start = cs.starts[0]
        profile = start["charging_profile"]
        assert start["evse_id"] == 1
        assert profile["charging_profile_purpose"] == "TxProfile" and "transaction_id" not in profile
        (schedule,) = profile["charging_schedule"]
        assert schedule["charging_rate_unit"] == "W"
        assert [float(p["limit"]) for p in schedule["charging_schedule_period"]] == [7000.0]
        assert service.engine.command_limit_w(charger.id) == 7000.0


async def test_the_remote_starts_with_a_limit_are_valid_ocpp(service: ConsoleService) -> None:
    for version, identity in (("OCPP1.6", "VAL-16"), ("OCPP2.0.1", "VAL-201")):
        charger = await service.create_charger({"identity": identity, "ocpp_version": version, "max_charging_power": 22000})
        action = await service.send_command(charger.id, "charge", {"powerLimit": 7.5, "connectorId": 2}, execution="scheduled", start="1h")
        plan = service.engine._plan(action)
        assert plan is not None and plan.operation in ("RemoteStartTransaction", "RequestStartTransaction")
        assert request_problem(version, plan.operation, plan.payload) is None


# -- the limit in force, and where it comes from ----------------------------------------------


class Limited16(Starter16):
    """Accepts every profile; starts a transaction when told."""

    @on("SetChargingProfile")
    async def on_set_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> result16.SetChargingProfile:
        return result16.SetChargingProfile(status="Accepted")

    transaction_id: int | None = None

    async def begin(self) -> None:
        started = await self.call(call16.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp=T0))
        self.transaction_id = started.transaction_id
        await self.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))

    async def end(self) -> None:
        await self.call(call16.StopTransaction(meter_stop=100, timestamp=T0, transaction_id=self.transaction_id))
        await self.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))


async def limit_of(service: ConsoleService, charger_id: str) -> tuple[float | None, str | None]:
    view = await service.get_charger(charger_id)
    return view.limit_kw, view.limit_source


async def test_the_view_says_the_limit_in_force_and_its_source(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "LIM-V", "max_charging_power": 22000})
    assert await limit_of(service, charger.id) == (22.0, "charger maximum")
    async with charge_point(central_system.url, "LIM-V", client=Limited16) as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        action = await service.send_command(charger.id, "charge", {"powerLimit": 7})
        await completed(service, action.id)
        assert await limit_of(service, charger.id) == (7.0, "command")
        # Through the attach client's decoding too.
        decoded = charger_from_dict((await service.get_charger(charger.id)).to_dict())
        assert (decoded.limit_kw, decoded.limit_source) == (7.0, "command")
        await cp.begin()
        lifted = await service.send_command(charger.id, "charge", {})
        await completed(service, lifted.id)
        assert await limit_of(service, charger.id) == (22.0, "charger maximum")


async def test_a_location_cap_is_the_limit_in_force(service: ConsoleService, central_system: CentralSystem) -> None:
    def write(session: Any) -> str:
        org = service.fleet.ensure_org(session)
        location = Location(organization_id=org.id, name="Yard", power_cap_kw=24.0, created_at=service.clock.now(), updated_at=service.clock.now())
        session.add(location)
        session.commit()
        return location.id

    location_id = await service.store.run(write)
    service.live.locations_changed(await service.store.run(service.fleet.locations))
    charger = await service.create_charger({"identity": "LIM-CAP", "max_charging_power": 50000, "location_id": location_id})
    async with charge_point(central_system.url, "LIM-CAP", client=Limited16) as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        await eventually(lambda: _is(service, charger.id, (0.0, "location cap")))  # no session: no share
        await cp.begin()
        await eventually(lambda: _is(service, charger.id, (24.0, "location cap")))
        # A command's tighter limit is the one in force; the cap is again when the command's limit goes.
        action = await service.send_command(charger.id, "charge", {"powerLimit": 11})
        await completed(service, action.id)
        await eventually(lambda: _is(service, charger.id, (11.0, "command")))
        await service.set_location_cap(location_id, None)
        lifted = await service.send_command(charger.id, "charge", {})
        await completed(service, lifted.id)
        await eventually(lambda: _is(service, charger.id, (50.0, "charger maximum")))


async def _is(service: ConsoleService, charger_id: str, expected: tuple[float | None, str | None]) -> bool:
    return await limit_of(service, charger_id) == expected


async def test_a_command_limit_ends_with_its_session(service: ConsoleService, central_system: CentralSystem) -> None:
    """A TxProfile lives as long as its transaction: the next session is not held to it."""
    charger = await service.create_charger({"identity": "LIM-END", "max_charging_power": 22000})
    async with charge_point(central_system.url, "LIM-END", client=Limited16) as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        action = await service.send_command(charger.id, "charge", {"powerLimit": 7})
        await completed(service, action.id)
        await cp.begin()  # the session the remote start opened
        await eventually(lambda: _is(service, charger.id, (7.0, "command")))
        await eventually(lambda: _charging(service, charger.id))
        assert await limit_of(service, charger.id) == (7.0, "command")  # still its session
        await cp.end()
        await eventually(lambda: _is(service, charger.id, (22.0, "charger maximum")))
        assert service.engine.command_limit_w(charger.id) is None


async def _charging(service: ConsoleService, charger_id: str) -> bool:
    return (await service.get_charger(charger_id)).is_charging
