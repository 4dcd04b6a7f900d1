"""What a charger tells about itself beyond its sessions (the `ChargerEvent` rows): how much it matters, in one line.

NotifyEvent (2.0.1), SecurityEventNotification, firmware, diagnostics and log
upload status, NotifyReport pages, DataTransfer, and a connector that went
Faulted. 2.0.1's EventData carries no severity (that belongs to the monitor that
fired), so it is read from what the event says: a monitor's alert that is not a
return to normal, or a component reporting a Problem.
"""

from __future__ import annotations

import json
from typing import Any

ALERT = "alert"
SECURITY = "security"
WARNING = "warning"
INFO = "info"
# Most serious first.
SEVERITIES = (ALERT, SECURITY, WARNING, INFO)
# What raises a notification in the console and an `alert` on the event stream.
ALERTING = frozenset({ALERT, SECURITY})

# The kinds a charger sends (the OCPP action, or ours for a connector fault), for a filter to offer.
KINDS = (
    "NotifyEvent",
    "SecurityEvent",
    "StatusNotification",
    "FirmwareStatus",
    "DiagnosticsStatus",
    "LogStatus",
    "NotifyReport",
    "DataTransfer",
)
# The OCPP actions that add a charger event: a view showing them reads again once one is answered.
# (A fault comes as a StatusNotification among many that add none: its ChargerAlert says so.)
ACTIONS = frozenset(
    {
        "NotifyEvent",
        "SecurityEventNotification",
        "FirmwareStatusNotification",
        "SignedFirmwareStatusNotification",
        "DiagnosticsStatusNotification",
        "LogStatusNotification",
        "NotifyReport",
        "DataTransfer",
    }
)

# Firmware, diagnostics and log statuses that say the job failed (1.6 and 2.0.1 spellings).
FAILED_STATUSES = frozenset(
    {
        "DownloadFailed",
        "InstallationFailed",
        "InstallVerificationFailed",
        "InvalidSignature",
        "UploadFailed",
        "UploadFailure",
        "BadMessage",
        "PermissionDenied",
        "NotSupportedOperation",
    }
)
STATUS_WORDS = {"FirmwareStatus": "firmware", "DiagnosticsStatus": "diagnostics upload", "LogStatus": "log upload"}
TEXT_MAX = 160


def _alerting(item: dict[str, Any]) -> bool:
    """One EventData that says something is wrong now."""
    if item.get("cleared"):
        return False
    if item.get("trigger") == "Alerting":
        return True
    variable = (item.get("variable") or {}).get("name")
    return variable == "Problem" and str(item.get("actualValue", "")).lower() == "true"


def severity(kind: str, data: dict[str, Any]) -> str:
    """How much a charger event matters: alert, security, warning or info."""
    if kind == "NotifyEvent":
        return ALERT if any(_alerting(item) for item in data.get("eventData") or () if isinstance(item, dict)) else INFO
    if kind == "SecurityEvent":
        return SECURITY
    if kind == "StatusNotification":
        return ALERT if data.get("status") == "Faulted" else INFO
    if kind in STATUS_WORDS:
        return WARNING if data.get("status") in FAILED_STATUSES else INFO
    return INFO


def _event_line(item: dict[str, Any]) -> str:
    component = item.get("component") or {}
    variable = item.get("variable") or {}
    where = str(component.get("name", "?"))
    evse = component.get("evse") or {}
    if evse.get("id") is not None:
        where += f" (EVSE {evse['id']}{'/' + str(evse['connectorId']) if evse.get('connectorId') is not None else ''})"
    name = str(variable.get("name", "?"))
    state = "cleared" if item.get("cleared") else str(item.get("trigger", ""))
    line = f"{where} {name} = {item.get('actualValue', '')} ({state})"
    tech = " ".join(str(item[key]) for key in ("techCode", "techInfo") if item.get(key))
    return f"{line}: {tech}" if tech else line


def _short(text: str) -> str:
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


def describe(kind: str, data: dict[str, Any]) -> str:
    """One line a person reads: what the charger said."""
    if kind == "NotifyEvent":
        items = [item for item in data.get("eventData") or () if isinstance(item, dict)]
        # The ones that matter first.
        items.sort(key=lambda item: not _alerting(item))
        return _short("; ".join(_event_line(item) for item in items) or "no event data")
    if kind == "SecurityEvent":
        info = data.get("techInfo")
        return _short(f"{data.get('type', '?')}: {info}" if info else str(data.get("type", "?")))
    if kind == "StatusNotification":
        error = data.get("errorCode") if data.get("errorCode") != data.get("status") else None
        return f"connector {data.get('connectorId', '?')} {data.get('status', '?')}" + (f" ({error})" if error else "")
    if kind in STATUS_WORDS:
        request = f" (request {data['requestId']})" if data.get("requestId") is not None else ""
        return f"{STATUS_WORDS[kind]} {data.get('status', '?')}{request}"
    if kind == "NotifyReport":
        count = len(data.get("reportData") or ())
        more = ", more to come" if data.get("tbc") else ""
        return f"report {data.get('requestId', '?')} page {data.get('seqNo', '?')}: {count} variable{'' if count == 1 else 's'}{more}"
    if kind == "DataTransfer":
        what = " ".join(str(data[key]) for key in ("vendorId", "messageId") if data.get(key))
        payload = data.get("data")
        return _short(f"{what}: {payload if isinstance(payload, str) else json.dumps(payload)}" if payload is not None else what)
    return _short(json.dumps(data, separators=(",", ":"), default=str))
