"""OCPP 1.6J: one handler per message from the charger, writing through the core."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, AuthorizationStatus, DataTransferStatus, RegistrationStatus

from console.core.certificates import CertificateService
from console.core.clock import Clock
from console.core.live import LiveState
from console.core.sessions import Sample, SignedSample, session_refusal
from console.core.tokens import Authorization, TokenRegistry
from console.core.views import iso
from console.csms.protocol import ProtocolGuard, takes_payload
from console.core.versions import OcppVersion

SUBPROTOCOL = OcppVersion.V16.subprotocol


def parse_time(value: str | None, clock: Clock) -> datetime:
    """A charger's time; without an offset it is read as UTC (OCPP times are UTC), unreadable as now."""
    if not value:
        return clock.now()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return clock.now()
    # A time without an offset would be refused by the store (and, before the writer fell back to
    # row by row, would have cost every other row of its batch); one with another offset is kept as UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo is timezone.utc else moment.astimezone(timezone.utc)


def samples_of(
    meter_value: list[dict[str, Any]], read_time: Callable[[str | None], datetime], signed: list[SignedSample] | None = None
) -> list[Sample]:
    """Flatten OCPP 1.6 meterValue entries, as received, to (time, measurand, phase, unit, value).

    A `SignedData` value (a signed reading, e.g. OCMF) goes to `signed` as it was sent.
    """
    samples = []
    for entry in meter_value:
        at = read_time(entry.get("timestamp"))
        for sampled in entry.get("sampledValue", []):
            try:
                value = float(sampled["value"])
            except (KeyError, ValueError):
                if signed is not None and sampled.get("format") == "SignedData":
                    measurand = sampled.get("measurand", "Energy.Active.Import.Register")
                    signed.append((at, measurand, sampled.get("phase"), sampled.get("context"), sampled.get("value"), None))
                continue
            measurand = sampled.get("measurand", "Energy.Active.Import.Register")
            unit = sampled.get("unit", "Wh" if measurand.startswith("Energy") else None)
            samples.append((at, measurand, sampled.get("phase"), unit, value))
    return samples


class ConsoleHandler(ProtocolGuard):
    """What every version's handler shares: which charger it serves and where it writes."""

    # The registry tokens are answered from (set by the central system); without one every token is accepted.
    tokens: TokenRegistry | None = None
    # Where a charger's certificate signing request goes (set by the central system); without it one is rejected.
    certificates: CertificateService | None = None

    def __init__(
        self,
        identity: str,
        charger_id: str,
        connection: Any,
        live: LiveState,
        clock: Clock,
        heartbeat_interval: int,
        response_timeout: float,
    ) -> None:
        super().__init__(identity, connection, response_timeout=response_timeout)
        self.charger_id = charger_id
        self.live = live
        self.clock = clock
        self.heartbeat_interval = heartbeat_interval
        # Whether the charger's clock was last seen off by more than the allowed skew.
        self.clock_off = False

    def _now(self) -> str:
        return iso(self.clock.now()) or ""

    def charger_time(self, value: str | None) -> datetime:
        """A time the charger sent, or ours when its clock is off by more than the allowed skew
        (1970 after a lost RTC, 2099 from a bad NTP answer): what is ordered and shown is then
        when it arrived, and the charger's clock is flagged."""
        at = parse_time(value, self.clock)
        now = self.clock.now()
        offset = (at - now).total_seconds()
        if -self.live.max_clock_skew_s <= offset <= self.live.max_clock_skew_s:
            if self.clock_off:
                self.clock_off = False
                self.live.clock_offset(self.charger_id, None)
            return at
        self.clock_off = True
        self.live.clock_offset(self.charger_id, offset)
        return now

    def authorization(self, token: str, kind: str | None = None) -> Authorization:
        """What the registry says of a token this charger was shown (`kind`: 2.0.1's type; None for a 1.6 idTag)."""
        record = self.live.record(self.charger_id)
        if record is not None and session_refusal(record.registration):
            # Nobody charges on a charger the operator has not accepted yet.
            return Authorization("Invalid")
        if self.tokens is None or record is None:
            return Authorization("Accepted")
        return self.tokens.authorize(record.organization_id, token, kind, record.location_id)

    def kept_time(self, value: str | None) -> tuple[datetime, datetime | None]:
        """(the time to order by, the charger's own time when it was off): for a session's start and stop."""
        at = self.charger_time(value)
        return (at, parse_time(value, self.clock)) if self.clock_off else (at, None)


class ChargePoint16(ConsoleHandler, ChargePoint):
    """The central system's side of one OCPP 1.6J connection."""

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **details: Any
    ) -> call_result.BootNotification:
        status = await self.live.booted(
            self.charger_id, charge_point_vendor, charge_point_model, details.get("firmware_version")
        )
        return call_result.BootNotification(
            current_time=self._now(),
            interval=self.heartbeat_interval,
            status=RegistrationStatus(status),
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        self.live.heartbeat(self.charger_id)
        return call_result.Heartbeat(current_time=self._now())

    @on(Action.status_notification)
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **_: Any
    ) -> call_result.StatusNotification:
        await self.live.connector_status(self.charger_id, connector_id, status, error_code)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        self.live.heartbeat(self.charger_id)
        return call_result.Authorize(id_tag_info=self.authorization(id_tag).id_tag_info())

    @on(Action.start_transaction)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any
    ) -> call_result.StartTransaction:
        at, charger_at = self.kept_time(timestamp)
        transaction_id = await self.live.transaction_started(
            self.charger_id, connector_id, id_tag, meter_start, at, charger_at=charger_at
        )
        return call_result.StartTransaction(
            transaction_id=transaction_id,
            id_tag_info=self.authorization(id_tag).id_tag_info(),
        )

    @on(Action.meter_values)
    @takes_payload
    def on_meter_values(self, payload: dict[str, Any]) -> call_result.MeterValues:
        signed: list[SignedSample] = []
        self.live.meter_values(
            self.charger_id,
            payload["connectorId"],
            payload.get("transactionId"),
            samples_of(payload["meterValue"], self.charger_time, signed),
            signed=signed,
        )
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    @takes_payload
    async def on_stop_transaction(self, payload: dict[str, Any]) -> call_result.StopTransaction:
        at, charger_at = self.kept_time(payload["timestamp"])
        signed: list[SignedSample] = []
        await self.live.transaction_stopped(
            self.charger_id,
            payload["transactionId"],
            payload["meterStop"],
            at,
            payload.get("reason"),
            samples_of(payload.get("transactionData") or [], self.charger_time, signed),
            charger_at=charger_at,
            id_tag=payload.get("idTag"),
            signed=signed,
        )
        return call_result.StopTransaction(id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))

    @on(Action.data_transfer)
    @takes_payload
    async def on_data_transfer(self, payload: dict[str, Any]) -> call_result.DataTransfer:
        # Vendor data is kept as the charger sent it. We implement no vendor extensions: say so, as the spec asks.
        self.live.charger_event(self.charger_id, "DataTransfer", payload)
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status_notification(self, status: str) -> call_result.DiagnosticsStatusNotification:
        self.live.upload_status(self.charger_id, "DiagnosticsStatus", status)
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status_notification(self, status: str) -> call_result.FirmwareStatusNotification:
        await self.live.firmware_status(self.charger_id, status)
        return call_result.FirmwareStatusNotification()

    @on(Action.sign_certificate)
    async def on_sign_certificate(self, csr: str) -> call_result.SignCertificate:
        status = self.certificates.sign_request(self.charger_id, csr) if self.certificates else "Rejected"
        return call_result.SignCertificate(status=status)

    # The security extension's signed updates and log uploads (1.6 whitepaper): same words as 2.0.1.
    @on(Action.signed_firmware_status_notification)
    async def on_signed_firmware_status_notification(
        self, status: str, request_id: int | None = None
    ) -> call_result.SignedFirmwareStatusNotification:
        await self.live.firmware_status(self.charger_id, status, request_id)
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.log_status_notification)
    async def on_log_status_notification(self, status: str, request_id: int | None = None) -> call_result.LogStatusNotification:
        self.live.upload_status(self.charger_id, "LogStatus", status, request_id)
        return call_result.LogStatusNotification()

    @on(Action.security_event_notification)
    async def on_security_event_notification(
        self, type: str, timestamp: str, tech_info: str | None = None  # noqa: A002 - OCPP's name
    ) -> call_result.SecurityEventNotification:
        self.live.charger_event(self.charger_id, "SecurityEvent", {"type": type, "timestamp": timestamp, "techInfo": tech_info})
        return call_result.SecurityEventNotification()
