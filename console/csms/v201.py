"""OCPP 2.0.1: one handler per message from the charging station, writing through the core.

Everything lands in the same domain model as 1.6: an EVSE is a connector, a
TransactionEvent sequence is a transaction, a charging state is a status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from ocpp.routing import on
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as call_result21
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action, DataTransferStatusEnumType

from console.core.sessions import ENERGY, LINE_PHASES, Sample, SignedSample, in_base_unit
from console.csms.protocol import takes_payload
from console.csms.v16 import ConsoleHandler
from console.core.versions import OcppVersion

SUBPROTOCOL = OcppVersion.V201.subprotocol
SUBPROTOCOL_21 = OcppVersion.V21.subprotocol

# TransactionEvent chargingState -> the connector status both versions share.
CHARGING_STATES = {
    "Charging": "Charging",
    "SuspendedEV": "SuspendedEV",
    "SuspendedEVSE": "SuspendedEVSE",
    "EVConnected": "Preparing",
}


def samples_of(
    meter_value: list[dict[str, Any]], read_time: Callable[[str | None], datetime], signed: list[SignedSample] | None = None
) -> list[Sample]:
    """Flatten 2.0.1 meterValue entries, as received, to (time, measurand, phase, unit, value), multipliers applied.

    A sampled value's `signedMeterValue` goes to `signed` as it was sent, with the value it signs.
    """
    samples = []
    for entry in meter_value or []:
        at = read_time(entry.get("timestamp"))
        for sampled in entry.get("sampledValue", []):
            value = sampled.get("value")
            if not isinstance(value, int | float):
                continue
            measurand = sampled.get("measurand", ENERGY)
            unit_of_measure = sampled.get("unitOfMeasure") or {}
            unit = unit_of_measure.get("unit", "Wh" if measurand.startswith("Energy") else None)
            value = float(value) * 10 ** int(unit_of_measure.get("multiplier", 0))
            samples.append((at, measurand, sampled.get("phase"), unit, value))
            if signed is not None and "signedMeterValue" in sampled:
                signed.append((at, measurand, sampled.get("phase"), sampled.get("context"), sampled["signedMeterValue"], value))
    return samples


def begin_register(meter_value: list[dict[str, Any]]) -> float | None:
    """The energy register (Wh) sampled at Transaction.Begin, when an event carries it: the session's start."""
    phases = 0.0
    for entry in meter_value or []:
        for sampled in entry.get("sampledValue", []):
            if sampled.get("context") != "Transaction.Begin" or sampled.get("measurand", ENERGY) != ENERGY:
                continue
            unit_of_measure = sampled.get("unitOfMeasure") or {}
            value = in_base_unit(float(sampled["value"]) * 10 ** int(unit_of_measure.get("multiplier", 0)), unit_of_measure.get("unit"))
            if sampled.get("phase") is None:
                return value
            if sampled["phase"] in LINE_PHASES:
                phases += value
    return phases or None


class ChargePoint201(ConsoleHandler, ChargePoint):
    """The central system's side of one OCPP 2.0.1 connection."""

    # Where an EV's charging needs go (the depot planner, set by the central system): its answer's status.
    ev_needs: Callable[[str, int, dict[str, Any]], Awaitable[str]] | None = None

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **_: Any
    ) -> call_result.BootNotification:
        status = await self.live.booted(
            self.charger_id,
            charging_station.get("vendor_name", ""),
            charging_station.get("model", ""),
            charging_station.get("firmware_version"),
        )
        return call_result.BootNotification(
            current_time=self._now(), interval=self.heartbeat_interval, status=status
        )

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        self.live.heartbeat(self.charger_id)
        return call_result.Heartbeat(current_time=self._now())

    @on(Action.status_notification)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_: Any
    ) -> call_result.StatusNotification:
        error = "Faulted" if connector_status == "Faulted" else None
        await self.live.connector_status(self.charger_id, evse_id, connector_status, error)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict[str, Any], **_: Any) -> call_result.Authorize:
        self.live.heartbeat(self.charger_id)
        verdict = self.authorization(id_token["id_token"], id_token["type"])
        return call_result.Authorize(id_token_info=verdict.id_token_info())

    @on(Action.transaction_event)
    @takes_payload
    async def on_transaction_event(self, payload: dict[str, Any]) -> call_result.TransactionEvent:
        event_type = payload["eventType"]
        transaction_info = payload["transactionInfo"]
        reference = transaction_info["transactionId"]
        evse = payload.get("evse") or {}
        id_token = payload.get("idToken")
        connector_id = evse.get("id") or self.live.connector_of_ref(self.charger_id, reference) or 1
        at, charger_at = self.kept_time(payload["timestamp"])
        meter_value = payload.get("meterValue") or []
        signed: list[SignedSample] = []
        samples = samples_of(meter_value, self.charger_time, signed)
        await self.live.transaction_event(
            self.charger_id,
            event_type=event_type,
            reference=reference,
            connector_id=connector_id,
            id_tag=(id_token or {}).get("idToken"),
            at=at,
            charger_at=charger_at,
            seq_no=payload["seqNo"],
            offline=payload.get("offline", False),
            status=CHARGING_STATES.get(transaction_info.get("chargingState", "")),
            stopped_reason=transaction_info.get("stoppedReason") or (payload["triggerReason"] if event_type == "Ended" else None),
            samples=samples,
            begin_wh=begin_register(meter_value),
            signed=signed,
        )
        if id_token is not None:
            verdict = self.authorization(id_token["idToken"], id_token["type"])
            return call_result.TransactionEvent(id_token_info=verdict.id_token_info())
        return call_result.TransactionEvent()

    @on(Action.meter_values)
    @takes_payload
    def on_meter_values(self, payload: dict[str, Any]) -> call_result.MeterValues:
        evse_id = payload["evseId"]
        signed: list[SignedSample] = []
        self.live.meter_values(
            self.charger_id,
            evse_id,
            self.live.open_transaction(self.charger_id, evse_id),
            samples_of(payload["meterValue"], self.charger_time, signed),
            signed=signed,
        )
        return call_result.MeterValues()

    # Reports and events are kept as received: their customData keeps its keys.
    @on(Action.notify_report)
    @takes_payload
    async def on_notify_report(self, payload: dict[str, Any]) -> call_result.NotifyReport:
        self.live.charger_event(
            self.charger_id,
            "NotifyReport",
            {
                "requestId": payload["requestId"], "seqNo": payload["seqNo"], "tbc": payload.get("tbc", False),
                "reportData": payload.get("reportData") or [],
            },
        )
        return call_result.NotifyReport()

    @on(Action.notify_event)
    @takes_payload
    async def on_notify_event(self, payload: dict[str, Any]) -> call_result.NotifyEvent:
        self.live.charger_event(
            self.charger_id,
            "NotifyEvent",
            {"seqNo": payload["seqNo"], "tbc": payload.get("tbc", False), "eventData": payload["eventData"]},
        )
        return call_result.NotifyEvent()

    @on(Action.sign_certificate)
    async def on_sign_certificate(
        self, csr: str, certificate_type: str | None = None, **_: Any
    ) -> call_result.SignCertificate:
        status = self.certificates.sign_request(self.charger_id, csr, certificate_type) if self.certificates else "Rejected"
        return call_result.SignCertificate(status=status)

    @on(Action.security_event_notification)
    async def on_security_event_notification(
        self, type: str, timestamp: str, tech_info: str | None = None, **_: Any  # noqa: A002 - OCPP's name
    ) -> call_result.SecurityEventNotification:
        self.live.charger_event(self.charger_id, "SecurityEvent", {"type": type, "timestamp": timestamp, "techInfo": tech_info})
        return call_result.SecurityEventNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status_notification(
        self, status: str, request_id: int | None = None, **_: Any
    ) -> call_result.FirmwareStatusNotification:
        await self.live.firmware_status(self.charger_id, status, request_id)
        return call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification)
    async def on_log_status_notification(
        self, status: str, request_id: int | None = None, **_: Any
    ) -> call_result.LogStatusNotification:
        self.live.upload_status(self.charger_id, "LogStatus", status, request_id)
        return call_result.LogStatusNotification()

    @on(Action.notify_ev_charging_needs)
    @takes_payload
    async def on_notify_ev_charging_needs(self, payload: dict[str, Any]) -> call_result.NotifyEVChargingNeeds:
        status = "Rejected"
        if self.ev_needs is not None:
            status = await self.ev_needs(self.charger_id, payload["evseId"], payload.get("chargingNeeds") or {})
        return call_result.NotifyEVChargingNeeds(status=status)

    @on(Action.data_transfer)
    @takes_payload
    async def on_data_transfer(self, payload: dict[str, Any]) -> call_result.DataTransfer:
        # Vendor data (`data`, `customData`) is kept as the charger sent it, keys unconverted.
        # We implement no vendor extensions: say so, as the spec asks.
        self.live.charger_event(self.charger_id, "DataTransfer", payload)
        return call_result.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id)


class ChargePoint21(ChargePoint201):
    """OCPP 2.1 keeps 2.0.1's messages for everything we handle: same handlers, 2.1's schemas."""

    _call = call21
    _call_result = call_result21
    _ocpp_version = "2.1"
