"""OCPP 1.6J on the wire for a simulated charger: the frames it sends and its answers to CALLs."""

from __future__ import annotations

import uuid
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import KeyValue
from ocpp.v16.enums import Action, ChargePointErrorCode, Measurand, MessageTrigger

from console.sim.charger import (
    DEFAULT_MEASURANDS,
    ENERGY,
    HARD_RESET,
    SOFT_RESET,
    ChargingSession,
    ConnectorSim,
    SimulatedCharger,
    NotAccepted,
    UnsentStop,
)
from console.sim.profiles import parse_time
from console.core.versions import OcppVersion

SUBPROTOCOL = OcppVersion.V16.subprotocol
INTEGER_KEYS = ("HeartbeatInterval", "MeterValueSampleInterval")
BOOLEAN_KEYS = ("AuthorizeRemoteTxRequests", "LocalAuthListEnabled")
READ_ONLY_KEYS = ("NumberOfConnectors", "ChargeProfileMaxStackLevel", "ChargingScheduleAllowedChargingRateUnit")
MEASURAND_KEYS = ("MeterValuesSampledData", "StopTxnSampledData")
SETTINGS = {
    "heartbeat": "HeartbeatInterval",
    "sample_interval": "MeterValueSampleInterval",
    "authorize_remote": "AuthorizeRemoteTxRequests",
    "measurands": "MeterValuesSampledData",
}
# What a plain 1.6 FirmwareStatusNotification can say (a signed update says more).
FIRMWARE_STATUSES = ("Downloaded", "DownloadFailed", "Downloading", "Idle", "InstallationFailed", "Installing", "Installed")
TRIGGERS = (
    MessageTrigger.boot_notification,
    MessageTrigger.heartbeat,
    MessageTrigger.status_notification,
    MessageTrigger.meter_values,
)


class Charger16(SimulatedCharger):
    ocpp_version = OcppVersion.V16
    subprotocol = SUBPROTOCOL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.config: dict[str, str] = {
            "HeartbeatInterval": "60",
            "MeterValueSampleInterval": "10",
            "MeterValuesSampledData": ",".join(DEFAULT_MEASURANDS),
            "StopTxnSampledData": ENERGY,
            "AuthorizeRemoteTxRequests": "false",
            "LocalAuthListEnabled": "true",
            "ChargeProfileMaxStackLevel": "8",
            "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
        }
        super().__init__(*args, **kwargs)

    def _ensure_connectors(self) -> None:
        super()._ensure_connectors()
        self.config["NumberOfConnectors"] = str(len(self.connectors) - 1)

    def _make_link(self, connection: Any) -> Link16:
        return Link16(self, connection)

    def setting(self, name: str) -> str:
        return self.config[SETTINGS[name]]

    def _set_heartbeat(self, seconds: int) -> None:
        self.config["HeartbeatInterval"] = str(seconds)

    # -- frames the charger sends ----------------------------------------------------------

    async def _send_boot(self) -> tuple[str, int]:
        # OCPP 1.6 caps vendor and model at 20 characters.
        answer = await self._call(
            call.BootNotification(
                charge_point_vendor=(self.record.vendor_name or "Simulated")[:20],
                charge_point_model=(self.record.model or "Simulated charger")[:20],
                charge_point_serial_number=self.identity[:25],
                firmware_version=self.firmware_version,
            )
        )
        if answer is None:
            return "CallError", 0
        return str(answer.status), answer.interval

    async def _send_heartbeat(self) -> None:
        await self._call(call.Heartbeat())

    async def _send_status(self, connector: ConnectorSim, previous: str) -> None:
        error_code = ChargePointErrorCode.no_error
        if connector.status == "Faulted" and connector.fault is not None:
            error_code = connector.fault
        await self._call(
            call.StatusNotification(
                connector_id=connector.connector_id,
                error_code=error_code,
                status=connector.status,
                timestamp=self._now(),
            )
        )

    async def _send_authorize(self, id_tag: str) -> bool:
        answer = await self._call(call.Authorize(id_tag=id_tag))
        return answer is not None and answer.id_tag_info.get("status") == "Accepted"

    async def _send_start(self, connector: ConnectorSim, session: ChargingSession) -> bool:
        answer = await self._call(
            call.StartTransaction(
                connector_id=connector.connector_id,
                id_tag=session.id_tag or "",
                meter_start=int(connector.energy_wh),
                timestamp=self._now(),
            )
        )
        if answer is None:
            return False
        session.transaction_id = answer.transaction_id
        return answer.id_tag_info.get("status") == "Accepted"

    async def _send_charging_state(self, connector: ConnectorSim, session: ChargingSession, previous: str) -> None:
        await self._status(connector, session.charging_state)

    def _meter_value(self, samples: list[dict[str, Any]], context: str) -> list[dict[str, Any]]:
        sampled = []
        for sample in samples:
            entry = {
                "value": f"{sample['value']:.1f}",
                "context": context,
                "measurand": sample["measurand"],
                "unit": sample["unit"],
            }
            if sample["phase"] is not None:
                entry["phase"] = sample["phase"]
            entry["location"] = sample["location"]
            sampled.append(entry)
        return [{"timestamp": self._now(), "sampledValue": sampled}]

    async def _send_meter_values(self, connector: ConnectorSim, samples: list[dict[str, Any]], context: str) -> None:
        session = connector.session
        await self._call(
            call.MeterValues(
                connector_id=connector.connector_id,
                meter_value=self._meter_value(samples, context),
                transaction_id=session.transaction_id if session is not None else None,
            )
        )

    async def _send_stop(self, connector: ConnectorSim, session: ChargingSession, reason: str) -> None:
        wanted = {m.strip() for m in self.config["StopTxnSampledData"].split(",") if m.strip()}
        samples = self._samples(connector, "Transaction.End", wanted)
        await self._call(
            call.StopTransaction(
                meter_stop=int(connector.energy_wh),
                timestamp=self._now(),
                transaction_id=session.transaction_id,
                reason=reason,
                id_tag=session.id_tag,
                transaction_data=self._meter_value(samples, "Transaction.End") if samples else None,
            )
        )

    async def _send_firmware_status(self, status: str, request_id: int | None, signed: bool) -> None:
        if signed:
            await self._call(call.SignedFirmwareStatusNotification(status=status, request_id=request_id))
        elif status in FIRMWARE_STATUSES:
            await self._call(call.FirmwareStatusNotification(status=status))

    async def _send_log_status(self, status: str, request_id: int | None, diagnostics: bool) -> None:
        if diagnostics:
            await self._call(call.DiagnosticsStatusNotification(status=status))
        else:
            await self._call(call.LogStatusNotification(status=status, request_id=request_id))

    async def _send_unsent(self, stop: UnsentStop) -> None:
        await self._call(
            call.StopTransaction(
                meter_stop=stop.meter_stop,
                timestamp=stop.timestamp,
                transaction_id=stop.transaction_id,
                reason=stop.reason,
                id_tag=stop.id_tag,
            )
        )

    def inject_fault(self, connector_id: int, error_code: str) -> str:
        # 1.6 knows a fixed list of error codes; anything else would not pass the schema.
        if error_code not in set(ChargePointErrorCode) or error_code == ChargePointErrorCode.no_error:
            known = ", ".join(code for code in ChargePointErrorCode if code != ChargePointErrorCode.no_error)
            raise NotAccepted(f"{error_code!r} is not an OCPP 1.6 error code: one of {known}")
        return super().inject_fault(connector_id, error_code)

    # -- configuration -----------------------------------------------------------------------

    def get_configuration(self, keys: list[str] | None) -> tuple[list[KeyValue], list[str]]:
        wanted = keys or list(self.config)
        known = [
            KeyValue(key=key, readonly=key in READ_ONLY_KEYS, value=self.config[key])
            for key in wanted
            if key in self.config
        ]
        unknown = [k for k in wanted if k not in self.config]
        return known, unknown

    def change_configuration(self, key: str, value: str) -> str:
        if key not in self.config:
            return "NotSupported"
        if key in READ_ONLY_KEYS:
            return "Rejected"
        if key in INTEGER_KEYS:
            if not value.strip().isdigit() or int(value) < 1:
                return "Rejected"
            value = str(int(value))
        elif key in BOOLEAN_KEYS:
            if value.lower() not in ("true", "false"):
                return "Rejected"
            value = value.lower()
        elif key in MEASURAND_KEYS:
            measurands = [m.strip() for m in value.split(",") if m.strip()]
            if not measurands or any(m not in set(Measurand) for m in measurands):
                return "Rejected"
            value = ",".join(measurands)
        self.config[key] = value
        return "Accepted"

    def trigger(self, requested: str, connector_id: int | None) -> str:
        if connector_id is not None and connector_id not in self.connectors:
            return "Rejected"
        if requested not in TRIGGERS:
            return "NotImplemented"
        return "Accepted"

    async def triggered(self, requested: str, connector_id: int | None) -> None:
        if requested == MessageTrigger.boot_notification:
            await self._send_boot()
        elif requested == MessageTrigger.heartbeat:
            await self._send_heartbeat()
        elif requested == MessageTrigger.status_notification:
            targets = self.connectors.values() if connector_id is None else [self.connectors[connector_id]]
            for connector in list(targets):
                await self._status(connector, connector.status)
        elif requested == MessageTrigger.meter_values:
            targets = self.outlets if not connector_id else [self.connectors[connector_id]]
            for connector in targets:
                await self._meter_values(connector, "Trigger")


class Link16(ChargePoint):
    """The OCPP 1.6J wire side of a simulated charger: one handler per CALL, decisions in the charger."""

    def __init__(self, charger: Charger16, connection: Any) -> None:
        super().__init__(charger.identity, connection, response_timeout=charger.response_timeout)
        self.charger = charger
        # The file name a log request was answered with, for its upload.
        self._log_name = ""
        ids = charger._message_ids
        self._unique_id_generator = lambda: uuid.UUID(int=ids.getrandbits(128), version=4)

    @on(Action.remote_start_transaction)
    def on_remote_start(
        self, id_tag: str, connector_id: int | None = None, charging_profile: dict[str, Any] | None = None, **_: Any
    ) -> call_result.RemoteStartTransaction:
        accepted = self.charger.remote_start(id_tag, connector_id, profile=charging_profile)
        return call_result.RemoteStartTransaction(status="Accepted" if accepted else "Rejected")

    @after(Action.remote_start_transaction)
    def after_remote_start(self, **_: Any) -> None:
        self.charger.after_remote_start()

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        accepted = self.charger.remote_stop(transaction_id)
        return call_result.RemoteStopTransaction(status="Accepted" if accepted else "Rejected")

    @after(Action.remote_stop_transaction)
    def after_remote_stop(self, transaction_id: int) -> None:
        self.charger.after_remote_stop(transaction_id)

    @on(Action.reset)
    def on_reset(self, type: str) -> call_result.Reset:
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    def after_reset(self, type: str) -> None:
        self.charger.reset(type, HARD_RESET if type == "Hard" else SOFT_RESET)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str) -> call_result.ChangeAvailability:
        status = self.charger.change_availability(connector_id, type == "Operative")
        return call_result.ChangeAvailability(status=status)

    @after(Action.change_availability)
    def after_change_availability(self, connector_id: int, type: str) -> None:
        self.charger.after_change_availability(connector_id)

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int) -> call_result.UnlockConnector:
        unlocked = self.charger.unlock(connector_id)
        return call_result.UnlockConnector(status="Unlocked" if unlocked else "NotSupported")

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        known, unknown = self.charger.get_configuration(key)
        return call_result.GetConfiguration(configuration_key=known or None, unknown_key=unknown or None)

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        return call_result.ChangeConfiguration(status=self.charger.change_configuration(key, value))

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, connector_id: int | None = None) -> call_result.TriggerMessage:
        return call_result.TriggerMessage(status=self.charger.trigger(requested_message, connector_id))

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message: str, connector_id: int | None = None) -> None:
        if self.charger.trigger(requested_message, connector_id) == "Accepted":
            self.charger._spawn(self.charger.triggered(requested_message, connector_id))

    @on(Action.clear_cache)
    def on_clear_cache(self) -> call_result.ClearCache:
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any]
    ) -> call_result.SetChargingProfile:
        accepted = self.charger.set_profile(connector_id, cs_charging_profiles)
        return call_result.SetChargingProfile(status="Accepted" if accepted else "Rejected")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
    ) -> call_result.ClearChargingProfile:
        cleared = self.charger.clear_profiles(
            profile_id=id, connector_id=connector_id, purpose=charging_profile_purpose, stack_level=stack_level
        )
        return call_result.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None
    ) -> call_result.GetCompositeSchedule:
        unit = "A" if charging_rate_unit == "A" else "W"
        schedule = self.charger.composite_schedule(connector_id, duration, unit)
        if schedule is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        start = self.charger._now()
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=start,
            charging_schedule={
                "duration": duration,
                "start_schedule": start,
                "charging_rate_unit": unit,
                "charging_schedule_period": schedule["periods"],
            },
        )

    @on(Action.send_local_list)
    def on_send_local_list(
        self, list_version: int, update_type: str, local_authorization_list: list[dict[str, Any]] | None = None
    ) -> call_result.SendLocalList:
        if self.charger.config.get("LocalAuthListEnabled") != "true":
            return call_result.SendLocalList(status="NotSupported")
        entries = [
            (entry["id_tag"], (entry.get("id_tag_info") or {}).get("status"))
            for entry in local_authorization_list or []
        ]
        return call_result.SendLocalList(status=self.charger.send_local_list(list_version, update_type, entries))

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self) -> call_result.GetLocalListVersion:
        return call_result.GetLocalListVersion(list_version=self.charger.local_list_version)

    # -- the security extension: certificates (profile 3) ------------------------------

    @on(Action.extended_trigger_message)
    def on_extended_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> call_result.ExtendedTriggerMessage:
        if requested_message == "SignChargePointCertificate":
            return call_result.ExtendedTriggerMessage(status="Accepted")
        return call_result.ExtendedTriggerMessage(status=self.charger.trigger(requested_message, connector_id))

    @after(Action.extended_trigger_message)
    def after_extended_trigger_message(self, requested_message: str, connector_id: int | None = None) -> None:
        if requested_message == "SignChargePointCertificate":
            self.charger._spawn(self.charger._call(call.SignCertificate(csr=self.charger.certificates.csr())))
        elif self.charger.trigger(requested_message, connector_id) == "Accepted":
            self.charger._spawn(self.charger.triggered(requested_message, connector_id))

    @on(Action.certificate_signed)
    def on_certificate_signed(self, certificate_chain: str) -> call_result.CertificateSigned:
        return call_result.CertificateSigned(status=self.charger.certificates.signed(certificate_chain))

    @on(Action.install_certificate)
    def on_install_certificate(self, certificate_type: str, certificate: str) -> call_result.InstallCertificate:
        return call_result.InstallCertificate(status=self.charger.certificates.install(certificate_type, certificate))

    @on(Action.get_installed_certificate_ids)
    def on_get_installed_certificate_ids(self, certificate_type: str) -> call_result.GetInstalledCertificateIds:
        found = [data for _, data in self.charger.certificates.installed_ids([certificate_type])]
        if not found:
            return call_result.GetInstalledCertificateIds(status="NotFound")
        return call_result.GetInstalledCertificateIds(status="Accepted", certificate_hash_data=found)

    @on(Action.delete_certificate)
    def on_delete_certificate(self, certificate_hash_data: dict[str, Any]) -> call_result.DeleteCertificate:
        return call_result.DeleteCertificate(status=self.charger.certificates.delete(certificate_hash_data))

    @on(Action.reserve_now)
    def on_reserve_now(
        self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, **_: Any
    ) -> call_result.ReserveNow:
        expires = parse_time(expiry_date)
        assert expires is not None
        return call_result.ReserveNow(status=self.charger.reserve(connector_id, reservation_id, id_tag, expires))

    # Each job starts once its answer is on the wire (`after`), so its first status follows the answer.
    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> call_result.UpdateFirmware:
        return call_result.UpdateFirmware()

    @after(Action.update_firmware)
    def after_update_firmware(
        self, location: str, retrieve_date: str, retries: int | None = None, retry_interval: int | None = None
    ) -> None:
        self.charger.update_firmware(location, parse_time(retrieve_date), retries, retry_interval)

    @on(Action.signed_update_firmware)
    def on_signed_update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any) -> call_result.SignedUpdateFirmware:
        return call_result.SignedUpdateFirmware(status="Accepted")

    @after(Action.signed_update_firmware)
    def after_signed_update_firmware(
        self, request_id: int, firmware: dict[str, Any], retries: int | None = None, retry_interval: int | None = None
    ) -> None:
        self.charger.update_firmware(
            firmware["location"], parse_time(firmware["retrieve_date_time"]), retries, retry_interval, request_id, signed=True
        )

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location: str, **_: Any) -> call_result.GetDiagnostics:
        self._log_name = self.charger.log_name("DiagnosticsLog")
        return call_result.GetDiagnostics(file_name=self._log_name)

    @after(Action.get_diagnostics)
    def after_get_diagnostics(
        self, location: str, retries: int | None = None, retry_interval: int | None = None, **_: Any
    ) -> None:
        self.charger.upload_logs(location, "DiagnosticsLog", None, retries, retry_interval, True, self._log_name)

    @on(Action.get_log)
    def on_get_log(self, log: dict[str, Any], log_type: str, request_id: int, **_: Any) -> call_result.GetLog:
        self._log_name = self.charger.log_name(log_type)
        return call_result.GetLog(status="Accepted", filename=self._log_name)

    @after(Action.get_log)
    def after_get_log(
        self, log: dict[str, Any], log_type: str, request_id: int, retries: int | None = None, retry_interval: int | None = None
    ) -> None:
        self.charger.upload_logs(log["remote_location"], log_type, request_id, retries, retry_interval, False, self._log_name)

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int) -> call_result.CancelReservation:
        cancelled = self.charger.cancel_reservation(reservation_id)
        return call_result.CancelReservation(status="Accepted" if cancelled else "Rejected")
