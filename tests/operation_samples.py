"""What an operator fills in for each operation of the catalogue: shared by the REST/CLI and the menu tests."""

from __future__ import annotations

from typing import Any

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n"
URL = "https://firmware.example.com/terra-1.2.bin"
# What an operator fills in, per operation (the charger's version narrows some choices, below).
PARAMS: dict[str, dict[str, Any]] = {
    "Reset": {},
    "UnlockConnector": {"connector_id": 1},
    "ChangeAvailability": {"connector_id": 0, "operative": False},
    "TriggerMessage": {"requested_message": "StatusNotification", "connector_id": 1},
    "ExtendedTriggerMessage": {"requested_message": "Heartbeat"},
    "GetConfiguration": {"keys": "HeartbeatInterval, MeterValueSampleInterval"},
    "ChangeConfiguration": {"key": "HeartbeatInterval", "value": "60"},
    "GetVariables": {"keys": "OCPPCommCtrlr.HeartbeatInterval"},
    "SetVariables": {"key": "OCPPCommCtrlr.HeartbeatInterval", "value": "60"},
    "GetBaseReport": {"report_base": "SummaryInventory"},
    "GetReport": {"component": "EVSE", "variable": "Power", "criteria": "Available"},
    "RemoteStartTransaction": {"connector_id": 1, "id_tag": "FLEET-1"},
    "RequestStartTransaction": {"connector_id": 1, "id_tag": "FLEET-1"},
    "RemoteStopTransaction": {"transaction_id": 42},
    "RequestStopTransaction": {"transaction_id": "tx-42"},
    "SetChargingProfile": {"connector_id": 1, "purpose": "TxDefaultProfile", "limit": 7400},
    "ClearChargingProfile": {"connector_id": 1, "purpose": "TxDefaultProfile"},
    "GetCompositeSchedule": {"connector_id": 1, "duration": 600, "rate_unit": "W"},
    "ReserveNow": {"reservation_id": 7, "connector_id": 1, "expiry": "2h", "id_tag": "FLEET-1"},
    "CancelReservation": {"reservation_id": 7},
    "SendLocalList": {"update_type": "Full"},
    "GetLocalListVersion": {},
    "ClearCache": {},
    "DataTransfer": {"vendor_id": "com.example", "message_id": "ping", "data": "hello"},
    "UpdateFirmware": {"location": URL, "retries": 2, "retry_interval": 30},
    "SignedUpdateFirmware": {"location": URL, "signature": "c2lnbmF0dXJl", "signing_certificate": PEM},
    "GetDiagnostics": {"since": "2h"},
    "GetLog": {},
    "InstallCertificate": {"certificate": PEM},
    "GetInstalledCertificateIds": {},
    "DeleteCertificate": {"issuer_name_hash": "ab12", "issuer_key_hash": "cd34", "serial_number": "01"},
    "CertificateSigned": {"certificate_chain": PEM},
}
BY_VERSION = {
    "OCPP1.6": {
        "InstallCertificate": {"certificate_type": "CentralSystemRootCertificate"},
        "GetInstalledCertificateIds": {"certificate_type": "ManufacturerRootCertificate"},
    },
    "OCPP2.0.1": {"InstallCertificate": {"certificate_type": "CSMSRootCertificate"}, "Reset": {"type": "Immediate"}},
}


def params_for(version: str, name: str) -> dict[str, Any]:
    return {**PARAMS[name], **BY_VERSION.get(version, {}).get(name, {})}
