"""A charger's configuration: fetched (1.6 GetConfiguration, 2.0.1 GetBaseReport pages), kept, changed with care."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as Client16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as Client201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from console.core.errors import CommandRefused, ValidationFailed
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import charge_point

# 200 keys, as a charger with a big vendor configuration reports them; two read-only, one secret, one URL.
KEYS = {f"VendorKey{n:03d}": str(n) for n in range(196)}
KEYS |= {"HeartbeatInterval": "60", "NumberOfConnectors": "2", "AuthorizationKey": "s3cret-key-0000001", "CentralSystemURL": "ws://old/ocpp"}
READ_ONLY = {"NumberOfConnectors", "VendorKey000"}


class Big16(Client16):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = dict(KEYS)
        self.changes: list[tuple[str, str]] = []

    @on("GetConfiguration")
    def get_configuration(self, key: list[str] | None = None) -> result16.GetConfiguration:
        return result16.GetConfiguration(
            configuration_key=[{"key": k, "readonly": k in READ_ONLY, "value": v} for k, v in self.config.items()]
        )

    @on("ChangeConfiguration")
    def change_configuration(self, key: str, value: str) -> result16.ChangeConfiguration:
        self.changes.append((key, value))
        self.config[key] = value
        return result16.ChangeConfiguration(status="Accepted")


async def test_a_16_charger_reporting_200_keys_is_kept_and_changed_with_care(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "BIG-16"})
    assert (await service.charger_configuration(charger.id)).settings == ()
    async with charge_point(central_system.url, "BIG-16", client=Big16) as cp:
        view = await service.refresh_configuration(charger.id)
        assert len(view.settings) == 200 and view.problem is None and view.fetched_at is not None
        by_key = {setting.key: setting for setting in view.settings}
        assert by_key["HeartbeatInterval"].value == "60" and not by_key["HeartbeatInterval"].readonly
        assert by_key["NumberOfConnectors"].readonly
        assert by_key["AuthorizationKey"].value == "********"  # never kept in clear
        assert by_key["AuthorizationKey"].warning and by_key["CentralSystemURL"].warning
        assert by_key["VendorKey001"].warning is None

        result = await service.change_configuration(charger.id, "HeartbeatInterval", "120")
        assert (result.state, result.operation, result.status) == ("acknowledged", "ChangeConfiguration", "Accepted")
        assert cp.changes == [("HeartbeatInterval", "120")]

        with pytest.raises(ValidationFailed, match="read-only"):
            await service.change_configuration(charger.id, "NumberOfConnectors", "3")
        with pytest.raises(CommandRefused) as refused:
            await service.change_configuration(charger.id, "CentralSystemURL", "ws://new/ocpp")
        assert refused.value.code == "CONFIRMATION_REQUIRED" and refused.value.field == "confirm"
        assert cp.changes == [("HeartbeatInterval", "120")]  # nothing sent
        await service.change_configuration(charger.id, "CentralSystemURL", "ws://new/ocpp", confirmed=True)
        assert cp.changes[-1] == ("CentralSystemURL", "ws://new/ocpp")

    # Offline: the view is what was kept, without asking; the change made shows.
    kept = {setting.key: setting.value for setting in (await service.charger_configuration(charger.id)).settings}
    assert kept["HeartbeatInterval"] == "120" and kept["CentralSystemURL"] == "ws://new/ocpp" and len(kept) == 200
    offline = await service.refresh_configuration(charger.id)
    assert len(offline.settings) == 200 and "offline" in (offline.problem or "")


def variable(component: dict[str, Any], name: str, value: str, mutability: str = "ReadWrite") -> dict[str, Any]:
    return {
        "component": component,
        "variable": {"name": name},
        "variableAttribute": [{"type": "Actual", "value": value, "mutability": mutability}],
        "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False},
    }


REPORT = [
    [variable({"name": "OCPPCommCtrlr"}, "HeartbeatInterval", "60")] + [variable({"name": "VendorCtrlr"}, f"Item{n}", str(n)) for n in range(100)],
    [variable({"name": "EVSE", "evse": {"id": 1}}, "Power", "22000", "ReadOnly")] + [variable({"name": "VendorCtrlr", "instance": "b"}, f"Item{n}", str(n)) for n in range(98)],
    [variable({"name": "SecurityCtrlr"}, "BasicAuthPassword", "hunter22hunter22"), variable({"name": "SmartChargingCtrlr"}, "RateUnit", "A", "ReadOnly")],
]


class Model201(Client201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sets: list[dict[str, Any]] = []

    @on("GetBaseReport")
    def get_base_report(self, request_id: int, report_base: str, **_: Any) -> result201.GetBaseReport:
        return result201.GetBaseReport(status="Accepted")

    @after("GetBaseReport")
    async def send_report(self, request_id: int, report_base: str, **_: Any) -> None:
        for seq_no, page in enumerate(REPORT):
            await self.call(
                call201.NotifyReport(
                    request_id=request_id, generated_at="2026-12-02T10:00:00Z", seq_no=seq_no, report_data=page,
                    tbc=seq_no < len(REPORT) - 1,
                ),
                skip_schema_validation=True,
            )

    @on("SetVariables")
    def set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> result201.SetVariables:
        self.sets.extend(set_variable_data)
        return result201.SetVariables(
            set_variable_result=[
                {"attributeStatus": "Accepted", "component": item["component"], "variable": item["variable"]}
                for item in set_variable_data
            ]
        )


async def test_a_201_device_model_arrives_in_pages_and_a_variable_is_set_as_reported(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "DM-201", "ocpp_version": "OCPP2.0.1"})
    async with charge_point(central_system.url, "DM-201", "ocpp2.0.1", client=Model201) as cs:
        view = await service.refresh_configuration(charger.id)
        assert view.problem is None and len(view.settings) == 202
        by_key = {setting.key: setting for setting in view.settings}
        assert by_key["EVSE@1.Power"].readonly and by_key["EVSE@1.Power"].value == "22000"
        assert by_key["VendorCtrlr[b].Item5"].value == "5"
        assert by_key["SecurityCtrlr.BasicAuthPassword"].value == "********"
        assert by_key["SecurityCtrlr.BasicAuthPassword"].warning
        assert by_key["SmartChargingCtrlr.RateUnit"].value == "A"

        result = await service.change_configuration(charger.id, "VendorCtrlr[b].Item5", "50")
        assert (result.state, result.operation) == ("acknowledged", "SetVariables")
        assert cs.sets == [{"attribute_value": "50", "component": {"name": "VendorCtrlr", "instance": "b"}, "variable": {"name": "Item5"}}]
        with pytest.raises(ValidationFailed):
            await service.change_configuration(charger.id, "EVSE@1.Power", "11000")
    kept = {s.key: s.value for s in (await service.charger_configuration(charger.id)).settings}
    assert kept["VendorCtrlr[b].Item5"] == "50"


class Silent201(Client201):
    @on("GetBaseReport")
    def get_base_report(self, request_id: int, report_base: str, **_: Any) -> result201.GetBaseReport:
        return result201.GetBaseReport(status="Accepted")


async def test_a_report_that_never_comes_whole_is_said_so(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "MUTE-201", "ocpp_version": "OCPP2.0.1"})
    service.settings.report_timeout_s = 0.3
    async with charge_point(central_system.url, "MUTE-201", "ocpp2.0.1", client=Silent201):
        view = await asyncio.wait_for(service.refresh_configuration(charger.id), 5)
    assert view.settings == () and "not whole" in (view.problem or "")
