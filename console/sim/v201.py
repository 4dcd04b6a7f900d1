"""OCPP 2.0.1 on the wire for a simulated charger: a device model, transaction events, answers to CALLs.

Each connector of the record is one EVSE with one connector (evse N, connector 1).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from console.sim import charger as core
from console.sim.charger import (
    DEFAULT_MEASURANDS,
    ChargingSession,
    ConnectorSim,
    Reservation,
    SimulatedCharger,
    UnsentStop,
)
from console.sim.profiles import parse_time
from console.core.versions import OcppVersion

SUBPROTOCOL = OcppVersion.V201.subprotocol
ID_TOKEN_TYPE = "ISO14443"

CONNECTOR_STATUS = {
    core.AVAILABLE: "Available",
    core.PREPARING: "Occupied",
    core.CHARGING: "Occupied",
    core.SUSPENDED_EV: "Occupied",
    core.SUSPENDED_EVSE: "Occupied",
    core.FINISHING: "Occupied",
    core.RESERVED: "Reserved",
    core.UNAVAILABLE: "Unavailable",
    core.FAULTED: "Faulted",
}
CHARGING_STATE = {
    core.PREPARING: "EVConnected",
    core.CHARGING: "Charging",
    core.SUSPENDED_EV: "SuspendedEV",
    core.SUSPENDED_EVSE: "SuspendedEVSE",
    core.FINISHING: "EVConnected",
}
STOPPED_REASON = {
    core.SOFT_RESET: "ImmediateReset",
    core.HARD_RESET: "ImmediateReset",
    core.UNLOCK: "Other",
}
STOP_TRIGGER = {
    core.REMOTE: "RemoteStop",
    core.LOCAL: "StopAuthorized",
    core.EV_DISCONNECTED: "EVDeparted",
    core.DE_AUTHORIZED: "Deauthorized",
    core.SOFT_RESET: "ResetCommand",
    core.HARD_RESET: "ResetCommand",
    # A reboot of the charger's own (no Reset was asked) and a power loss are AbnormalCondition.
    core.UNLOCK: "UnlockCommand",
}
TRIGGERS = (
    "BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "TransactionEvent", "SignChargingStationCertificate",
)


@dataclass
class Variable:
    value: str
    data_type: str = "string"
    mutability: str = "ReadWrite"

    def accepts(self, value: str) -> str | None:
        """The value as stored, or None when it is not valid for this variable."""
        if self.data_type == "integer":
            return str(int(value)) if value.strip().isdigit() and int(value) > 0 else None
        if self.data_type == "boolean":
            return value.lower() if value.lower() in ("true", "false") else None
        if self.data_type == "MemberList":
            members = [m.strip() for m in value.split(",") if m.strip()]
            return ",".join(members) if members and all(m in KNOWN_MEASURANDS for m in members) else None
        return value


KNOWN_MEASURANDS = set(DEFAULT_MEASURANDS) | {
    "Current.Offered",
    "Energy.Active.Export.Register",
    "Frequency",
    "Power.Offered",
    "Temperature",
}
SETTINGS = {
    "heartbeat": ("OCPPCommCtrlr", "HeartbeatInterval"),
    "sample_interval": ("SampledDataCtrlr", "TxUpdatedInterval"),
    "authorize_remote": ("AuthCtrlr", "AuthorizeRemoteStart"),
    "measurands": ("SampledDataCtrlr", "TxUpdatedMeasurands"),
}


def device_model(charger: SimulatedCharger) -> dict[tuple[str, str], Variable]:
    record = charger.record
    measurands = ",".join(DEFAULT_MEASURANDS)
    return {
        ("OCPPCommCtrlr", "HeartbeatInterval"): Variable("60", "integer"),
        ("OCPPCommCtrlr", "NetworkProfileConnectionAttempts"): Variable("3", "integer"),
        ("SampledDataCtrlr", "TxUpdatedInterval"): Variable("10", "integer"),
        ("SampledDataCtrlr", "TxUpdatedMeasurands"): Variable(measurands, "MemberList"),
        ("SampledDataCtrlr", "TxEndedMeasurands"): Variable(measurands, "MemberList"),
        ("SampledDataCtrlr", "TxStartedMeasurands"): Variable("Energy.Active.Import.Register", "MemberList"),
        ("AlignedDataCtrlr", "Interval"): Variable("900", "integer"),
        ("AuthCtrlr", "AuthorizeRemoteStart"): Variable("false", "boolean"),
        ("AuthCtrlr", "LocalAuthorizeOffline"): Variable("true", "boolean"),
        ("AuthCacheCtrlr", "Enabled"): Variable("true", "boolean"),
        ("LocalAuthListCtrlr", "Enabled"): Variable("true", "boolean"),
        ("TxCtrlr", "EVConnectionTimeOut"): Variable("120", "integer"),
        ("TxCtrlr", "StopTxOnEVSideDisconnect"): Variable("true", "boolean", "ReadOnly"),
        ("TxCtrlr", "TxStartPoint"): Variable("Authorized,EVConnected", "string", "ReadOnly"),
        ("SmartChargingCtrlr", "Enabled"): Variable("true", "boolean"),
        ("SmartChargingCtrlr", "RateUnit"): Variable("A,W", "string", "ReadOnly"),
        ("SmartChargingCtrlr", "ProfileStackLevel"): Variable("8", "integer", "ReadOnly"),
        ("ReservationCtrlr", "Enabled"): Variable("true", "boolean"),
        ("DeviceDataCtrlr", "ItemsPerMessage"): Variable("50", "integer", "ReadOnly"),
        ("ChargingStation", "Model"): Variable(record.model or "Simulated charger", "string", "ReadOnly"),
        ("ChargingStation", "VendorName"): Variable(record.vendor_name or "Simulated", "string", "ReadOnly"),
        ("ChargingStation", "AvailabilityState"): Variable("Available", "string", "ReadOnly"),
        ("EVSE", "Power"): Variable(str(record.max_charging_power), "decimal", "ReadOnly"),
    }


class Charger201(SimulatedCharger):
    ocpp_version = OcppVersion.V201
    subprotocol = SUBPROTOCOL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.variables = device_model(self)
        self._transaction_ids = random.Random(self.rng.random())
        self._event_seq = 0
        self._report_seq = 0
        self._sent_status: dict[int, str] = {}

    def _make_link(self, connection: Any) -> Link201:
        self._sent_status = {}
        return Link201(self, connection)

    def setting(self, name: str) -> str:
        return self.variables[SETTINGS[name]].value

    def _set_heartbeat(self, seconds: int) -> None:
        self.variables[SETTINGS["heartbeat"]].value = str(seconds)

    def _evse(self, connector: ConnectorSim) -> dict[str, int]:
        return {"id": connector.connector_id, "connector_id": 1}

    def _id_token(self, id_tag: str | None) -> dict[str, str]:
        return {"id_token": id_tag or "", "type": ID_TOKEN_TYPE}

    # -- frames the charger sends ----------------------------------------------------------

    async def _send_boot(self) -> tuple[str, int]:
        answer = await self._call(
            call.BootNotification(
                charging_station={
                    "vendor_name": (self.record.vendor_name or "Simulated")[:50],
                    "model": (self.record.model or "Simulated charger")[:20],
                    "serial_number": self.identity[:25],
                    "firmware_version": self.firmware_version,
                },
                reason=self.boot_reason,
            )
        )
        if answer is None:
            return "CallError", 0
        return str(answer.status), answer.interval

    async def _send_heartbeat(self) -> None:
        await self._call(call.Heartbeat())

    async def _send_status(self, connector: ConnectorSim, previous: str, force: bool = False) -> None:
        if connector.connector_id == 0:
            return  # 2.0.1 has no connector 0: the station's state is the sum of its EVSEs
        status = CONNECTOR_STATUS[connector.status]
        if not force and self._sent_status.get(connector.connector_id) == status:
            return
        self._sent_status[connector.connector_id] = status
        await self._call(
            call.StatusNotification(
                timestamp=self._now(),
                connector_status=status,
                evse_id=connector.connector_id,
                connector_id=1,
            )
        )

    async def _send_authorize(self, id_tag: str) -> bool:
        answer = await self._call(call.Authorize(id_token=self._id_token(id_tag)))
        return answer is not None and answer.id_token_info.get("status") == "Accepted"

    def _meter_value(self, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sampled = []
        for sample in samples:
            entry: dict[str, Any] = {
                "value": sample["value"],
                "context": sample["context"],
                "measurand": sample["measurand"],
                "location": sample["location"],
                "unit_of_measure": {"unit": sample["unit"]},
            }
            if sample["phase"] is not None:
                entry["phase"] = sample["phase"]
            sampled.append(entry)
        return [{"timestamp": self._now(), "sampled_value": sampled}]

    async def _transaction_event(
        self,
        connector: ConnectorSim,
        session: ChargingSession,
        event_type: str,
        trigger: str,
        info: dict[str, Any],
        samples: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> Any:
        return await self._call(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=self._now(),
                trigger_reason=trigger,
                seq_no=session.next_seq(),
                transaction_info={"transaction_id": str(session.transaction_id), **info},
                meter_value=self._meter_value(samples) if samples else None,
                evse=self._evse(connector),
                **extra,
            )
        )

    async def _send_start(self, connector: ConnectorSim, session: ChargingSession) -> bool:
        session.transaction_id = str(uuid.UUID(int=self._transaction_ids.getrandbits(128), version=4))
        info: dict[str, Any] = {"charging_state": "EVConnected"}
        trigger = "Authorized"
        if session.remote_start_id is not None:
            info["remote_start_id"] = session.remote_start_id
            trigger = "RemoteStart"
        samples = [s for s in self._samples(connector, "Transaction.Begin") if s["measurand"] == core.ENERGY]
        answer = await self._transaction_event(
            connector, session, "Started", trigger, info, samples, id_token=self._id_token(session.id_tag)
        )
        if answer is None:
            return True
        status = (answer.id_token_info or {}).get("status", "Accepted")
        return status == "Accepted"

    async def _send_charging_state(self, connector: ConnectorSim, session: ChargingSession, previous: str) -> None:
        await self._status(connector, session.charging_state)
        state = {"charging_state": CHARGING_STATE[session.charging_state]}
        await self._transaction_event(connector, session, "Updated", "ChargingStateChanged", state)

    async def _send_meter_values(self, connector: ConnectorSim, samples: list[dict[str, Any]], context: str) -> None:
        session = connector.session
        if session is not None and session.transaction_id is not None:
            if context == "Transaction.Begin":
                return  # the Started event carried the register already
            trigger = "Trigger" if context == "Trigger" else "MeterValuePeriodic"
            state = {"charging_state": CHARGING_STATE.get(session.charging_state)}
            await self._transaction_event(connector, session, "Updated", trigger, state, samples)
            return
        await self._call(call.MeterValues(evse_id=connector.connector_id, meter_value=self._meter_value(samples)))

    async def _send_stop(self, connector: ConnectorSim, session: ChargingSession, reason: str) -> None:
        samples = [s for s in self._samples(connector, "Transaction.End") if s["measurand"] == core.ENERGY]
        await self._transaction_event(
            connector,
            session,
            "Ended",
            STOP_TRIGGER.get(reason, "AbnormalCondition"),
            {
                "charging_state": "Idle" if session.unplugged else "EVConnected",
                "stopped_reason": STOPPED_REASON.get(reason, reason),
            },
            samples,
        )

    async def _send_unsent(self, stop: UnsentStop) -> None:
        sample = {
            "measurand": core.ENERGY, "value": float(stop.meter_stop), "unit": "Wh", "phase": None,
            "location": "Outlet", "context": "Transaction.End",
        }
        meter_value = self._meter_value([sample])
        meter_value[0]["timestamp"] = stop.timestamp
        await self._call(
            call.TransactionEvent(
                event_type="Ended",
                timestamp=stop.timestamp,
                trigger_reason="AbnormalCondition",
                seq_no=stop.seq_no,
                transaction_info={"transaction_id": str(stop.transaction_id), "stopped_reason": stop.reason},
                meter_value=meter_value,
                offline=True,
                evse={"id": stop.connector_id, "connector_id": 1},
            )
        )

    async def _send_fault_event(self, connector: ConnectorSim, error_code: str | None) -> None:
        self._event_seq += 1
        await self._call(
            call.NotifyEvent(
                generated_at=self._now(),
                seq_no=self._event_seq - 1,
                event_data=[
                    {
                        "event_id": self._event_seq,
                        "timestamp": self._now(),
                        "trigger": "Delta",
                        "actual_value": "Faulted" if error_code else "Available",
                        "tech_code": error_code,
                        "cleared": error_code is None,
                        "event_notification_type": "HardWiredNotification",
                        "component": {"name": "Connector", "evse": self._evse(connector)},
                        "variable": {"name": "AvailabilityState"},
                    }
                ],
            )
        )

    async def _send_firmware_status(self, status: str, request_id: int | None, signed: bool) -> None:
        await self._call(call.FirmwareStatusNotification(status=status, request_id=request_id))

    async def _rebooting(self, request_id: int | None, signed: bool) -> None:
        await self._send_firmware_status("InstallRebooting", request_id, signed)

    async def _send_log_status(self, status: str, request_id: int | None, diagnostics: bool) -> None:
        await self._call(call.LogStatusNotification(status=status, request_id=request_id))

    async def _reservation_ended(self, connector: ConnectorSim, reservation: Reservation, why: str) -> None:
        await self._call(
            call.ReservationStatusUpdate(reservation_id=reservation.reservation_id, reservation_update_status=why)
        )

    # -- the device model --------------------------------------------------------------------

    def get_variable(self, item: dict[str, Any]) -> dict[str, Any]:
        component, variable = item["component"], item["variable"]
        result: dict[str, Any] = {"component": component, "variable": variable}
        attribute = item.get("attribute_type") or "Actual"
        if attribute != "Actual":
            return {**result, "attribute_status": "NotSupportedAttributeType", "attribute_type": attribute}
        if not any(name == component["name"] for name, _ in self.variables):
            return {**result, "attribute_status": "UnknownComponent"}
        found = self.variables.get((component["name"], variable["name"]))
        if found is None:
            return {**result, "attribute_status": "UnknownVariable"}
        return {**result, "attribute_status": "Accepted", "attribute_value": found.value}

    def set_variable(self, item: dict[str, Any]) -> dict[str, Any]:
        component, variable = item["component"], item["variable"]
        result: dict[str, Any] = {"component": component, "variable": variable}
        attribute = item.get("attribute_type") or "Actual"
        if attribute != "Actual":
            return {**result, "attribute_status": "NotSupportedAttributeType", "attribute_type": attribute}
        if not any(name == component["name"] for name, _ in self.variables):
            return {**result, "attribute_status": "UnknownComponent"}
        found = self.variables.get((component["name"], variable["name"]))
        if found is None:
            return {**result, "attribute_status": "UnknownVariable"}
        value = found.accepts(str(item["attribute_value"])) if found.mutability != "ReadOnly" else None
        if value is None:
            return {**result, "attribute_status": "Rejected"}
        found.value = value
        return {**result, "attribute_status": "Accepted"}

    def report(self) -> list[dict[str, Any]]:
        return [
            {
                "component": {"name": component},
                "variable": {"name": name},
                "variable_attribute": [{"type": "Actual", "value": v.value, "mutability": v.mutability}],
                "variable_characteristics": {"data_type": v.data_type, "supports_monitoring": False},
            }
            for (component, name), v in self.variables.items()
        ]

    async def send_report(self, request_id: int) -> None:
        await self._call(
            call.NotifyReport(
                request_id=request_id, generated_at=self._now(), seq_no=0, report_data=self.report(), tbc=False
            )
        )

    def trigger(self, requested: str, evse_id: int | None) -> str:
        if evse_id is not None and (evse_id < 1 or evse_id not in self.connectors):
            return "Rejected"
        if requested not in TRIGGERS:
            return "NotImplemented"
        return "Accepted"

    async def triggered(self, requested: str, evse_id: int | None) -> None:
        targets = self.outlets if not evse_id else [self.connectors[evse_id]]
        if requested == "BootNotification":
            await self._send_boot()
        elif requested == "SignChargingStationCertificate":
            await self._call(call.SignCertificate(csr=self.certificates.csr(), certificate_type="ChargingStationCertificate"))
        elif requested == "Heartbeat":
            await self._send_heartbeat()
        elif requested == "StatusNotification":
            for connector in targets:
                await self._send_status(connector, connector.status, force=True)
        elif requested == "MeterValues":
            for connector in targets:
                meter_value = self._meter_value(self._samples(connector, "Trigger"))
                await self._call(call.MeterValues(evse_id=connector.connector_id, meter_value=meter_value))
        elif requested == "TransactionEvent":
            for connector in targets:
                session = connector.session
                if session is not None and session.transaction_id is not None:
                    await self._meter_values(connector, "Trigger")


class Link201(ChargePoint):
    """The OCPP 2.0.1 wire side of a simulated charger: one handler per CALL, decisions in the charger."""

    def __init__(self, charger: Charger201, connection: Any) -> None:
        super().__init__(charger.identity, connection, response_timeout=charger.response_timeout)
        self.charger = charger
        # The file name a log request was answered with, for its upload.
        self._log_name = ""
        ids = charger._message_ids
        self._unique_id_generator = lambda: uuid.UUID(int=ids.getrandbits(128), version=4)

    @on(Action.request_start_transaction)
    def on_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None,
        charging_profile: dict[str, Any] | None = None, **_: Any,
    ) -> call_result.RequestStartTransaction:
        accepted = self.charger.remote_start(id_token["id_token"], evse_id, remote_start_id, charging_profile)
        return call_result.RequestStartTransaction(status="Accepted" if accepted else "Rejected")

    @after(Action.request_start_transaction)
    def after_request_start(self, **_: Any) -> None:
        self.charger.after_remote_start()

    @on(Action.request_stop_transaction)
    def on_request_stop(self, transaction_id: str, **_: Any) -> call_result.RequestStopTransaction:
        accepted = self.charger.remote_stop(transaction_id)
        return call_result.RequestStopTransaction(status="Accepted" if accepted else "Rejected")

    @after(Action.request_stop_transaction)
    def after_request_stop(self, transaction_id: str, **_: Any) -> None:
        self.charger.after_remote_stop(transaction_id)

    @on(Action.reset)
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> call_result.Reset:
        if evse_id is not None:
            return call_result.Reset(status="Rejected")
        if type == "OnIdle" and self.charger.busy:
            return call_result.Reset(status="Scheduled")
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    def after_reset(self, type: str, evse_id: int | None = None, **_: Any) -> None:
        if evse_id is None:
            self.charger.reset(type, core.HARD_RESET, on_idle=type == "OnIdle")

    @on(Action.change_availability)
    def on_change_availability(
        self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> call_result.ChangeAvailability:
        status = self.charger.change_availability((evse or {}).get("id", 0), operational_status == "Operative")
        return call_result.ChangeAvailability(status=status)

    @after(Action.change_availability)
    def after_change_availability(self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any) -> None:
        self.charger.after_change_availability((evse or {}).get("id", 0))

    @on(Action.unlock_connector)
    def on_unlock_connector(self, evse_id: int, connector_id: int, **_: Any) -> call_result.UnlockConnector:
        connector = self.charger.connectors.get(evse_id)
        if connector is None or evse_id < 1 or connector_id != 1:
            return call_result.UnlockConnector(status="UnknownConnector")
        if connector.session is not None and connector.session.transaction_id is not None:
            # 2.0.1 leaves an authorized transaction alone: stop it first.
            return call_result.UnlockConnector(status="OngoingAuthorizedTransaction")
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> call_result.GetVariables:
        return call_result.GetVariables(get_variable_result=[self.charger.get_variable(i) for i in get_variable_data])

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> call_result.SetVariables:
        return call_result.SetVariables(set_variable_result=[self.charger.set_variable(i) for i in set_variable_data])

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> call_result.GetBaseReport:
        return call_result.GetBaseReport(status="Accepted")

    @after(Action.get_base_report)
    def after_get_base_report(self, request_id: int, report_base: str, **_: Any) -> None:
        self.charger._spawn(self.charger.send_report(request_id))

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> call_result.TriggerMessage:
        return call_result.TriggerMessage(status=self.charger.trigger(requested_message, (evse or {}).get("id")))

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any) -> None:
        evse_id = (evse or {}).get("id")
        if self.charger.trigger(requested_message, evse_id) == "Accepted":
            self.charger._spawn(self.charger.triggered(requested_message, evse_id))

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> call_result.ClearCache:
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **_: Any
    ) -> call_result.SetChargingProfile:
        accepted = self.charger.set_profile(evse_id, charging_profile)
        return call_result.SetChargingProfile(status="Accepted" if accepted else "Rejected")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self, charging_profile_id: int | None = None, charging_profile_criteria: dict[str, Any] | None = None, **_: Any
    ) -> call_result.ClearChargingProfile:
        criteria = charging_profile_criteria or {}
        cleared = self.charger.clear_profiles(
            profile_id=charging_profile_id,
            connector_id=criteria.get("evse_id"),
            purpose=criteria.get("charging_profile_purpose"),
            stack_level=criteria.get("stack_level"),
        )
        return call_result.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any
    ) -> call_result.GetCompositeSchedule:
        unit = "A" if charging_rate_unit == "A" else "W"
        schedule = self.charger.composite_schedule(evse_id, duration, unit)
        if schedule is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        return call_result.GetCompositeSchedule(
            status="Accepted",
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": self.charger._now(),
                "charging_rate_unit": unit,
                "charging_schedule_period": schedule["periods"],
            },
        )

    @on(Action.send_local_list)
    def on_send_local_list(
        self,
        version_number: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> call_result.SendLocalList:
        entries = [
            (entry["id_token"]["id_token"], (entry.get("id_token_info") or {}).get("status"))
            for entry in local_authorization_list or []
        ]
        return call_result.SendLocalList(status=self.charger.send_local_list(version_number, update_type, entries))

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> call_result.GetLocalListVersion:
        return call_result.GetLocalListVersion(version_number=self.charger.local_list_version)

    @on(Action.reserve_now)
    def on_reserve_now(
        self, id: int, expiry_date_time: str, id_token: dict[str, Any], evse_id: int | None = None, **_: Any
    ) -> call_result.ReserveNow:
        expires = parse_time(expiry_date_time)
        assert expires is not None
        status = self.charger.reserve(evse_id or 0, id, id_token["id_token"], expires)
        return call_result.ReserveNow(status=status)

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> call_result.CancelReservation:
        cancelled = self.charger.cancel_reservation(reservation_id)
        return call_result.CancelReservation(status="Accepted" if cancelled else "Rejected")

    # Each job starts once its answer is on the wire (`after`), so its first status follows the answer.
    @on(Action.update_firmware)
    def on_update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any) -> call_result.UpdateFirmware:
        return call_result.UpdateFirmware(status="Accepted")

    @after(Action.update_firmware)
    def after_update_firmware(
        self, request_id: int, firmware: dict[str, Any], retries: int | None = None, retry_interval: int | None = None, **_: Any
    ) -> None:
        signed = bool(firmware.get("signature") or firmware.get("signing_certificate"))
        self.charger.update_firmware(
            firmware["location"], parse_time(firmware["retrieve_date_time"]), retries, retry_interval, request_id, signed
        )

    @on(Action.get_log)
    def on_get_log(self, log: dict[str, Any], log_type: str, request_id: int, **_: Any) -> call_result.GetLog:
        self._log_name = self.charger.log_name(log_type)
        return call_result.GetLog(status="Accepted", filename=self._log_name)

    @after(Action.get_log)
    def after_get_log(
        self, log: dict[str, Any], log_type: str, request_id: int, retries: int | None = None, retry_interval: int | None = None, **_: Any
    ) -> None:
        self.charger.upload_logs(log["remote_location"], log_type, request_id, retries, retry_interval, False, self._log_name)

    # -- certificates (security profile 3) ------------------------------------------------

    @on(Action.certificate_signed)
    def on_certificate_signed(self, certificate_chain: str, **_: Any) -> call_result.CertificateSigned:
        return call_result.CertificateSigned(status=self.charger.certificates.signed(certificate_chain))

    @on(Action.install_certificate)
    def on_install_certificate(self, certificate_type: str, certificate: str, **_: Any) -> call_result.InstallCertificate:
        return call_result.InstallCertificate(status=self.charger.certificates.install(certificate_type, certificate))

    @on(Action.get_installed_certificate_ids)
    def on_get_installed_certificate_ids(
        self, certificate_type: list[str] | None = None, **_: Any
    ) -> call_result.GetInstalledCertificateIds:
        found = [
            {"certificateType": kind, "certificateHashData": data}
            for kind, data in self.charger.certificates.installed_ids(certificate_type)
        ]
        if not found:
            return call_result.GetInstalledCertificateIds(status="NotFound")
        return call_result.GetInstalledCertificateIds(status="Accepted", certificate_hash_data_chain=found)

    @on(Action.delete_certificate)
    def on_delete_certificate(self, certificate_hash_data: dict[str, Any], **_: Any) -> call_result.DeleteCertificate:
        return call_result.DeleteCertificate(status=self.charger.certificates.delete(certificate_hash_data))
