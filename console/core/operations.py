"""Operations the central system sends to chargers: what exists per OCPP version,
how a request is checked before it leaves, how an answer becomes an action state,
and the version-neutral requests the front ends ask for.

The request schemas are the `ocpp` package's own, so a request refused here is
exactly one the package would refuse on the way out — but refused before the
action is marked sent, with a message a person can act on.
"""

from __future__ import annotations

import decimal
import json
import secrets
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.messages import MessageType, get_validator

from console.core.errors import ValidationFailed
from console.core.views import OperationResult

# Operations from the central system to a charger, per charger version (issue 3, part 3).
OPERATIONS: dict[str, tuple[str, ...]] = {
    "OCPP1.6": (
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "InstallCertificate",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "TriggerMessage",
        "UnlockConnector",
    ),
    "OCPP2.0.1": (
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "DeleteCertificate",
        "GetBaseReport",
        "GetCompositeSchedule",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetVariables",
        "InstallCertificate",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SetVariables",
        "TriggerMessage",
        "UnlockConnector",
    ),
}
# 2.1 keeps every 2.0.1 operation under the same name and shape.
OPERATIONS["OCPP2.1"] = OPERATIONS["OCPP2.0.1"]
# Firmware updates and log uploads: their payloads are built in console/core/firmware.py.
OPERATIONS["OCPP1.6"] += ("GetDiagnostics", "GetLog", "SignedUpdateFirmware", "UpdateFirmware")
OPERATIONS["OCPP2.0.1"] += ("GetLog", "UpdateFirmware")
OPERATIONS["OCPP2.1"] = OPERATIONS["OCPP2.0.1"]
# The `ocpp` package's name for each version's schemas.
SCHEMA_VERSION = {"OCPP1.6": "1.6", "OCPP2.0.1": "2.0.1", "OCPP2.1": "2.1"}
# OCPP 1.6 schedules have one-decimal floats; the package validates these with
# Decimal so 21.4 is not read as 21.399999…, and caches the validator it built
# first — so this must match its choice exactly.
DECIMAL_REQUESTS = {"1.6": ("SetChargingProfile", "RemoteStartTransaction")}
DECIMAL_ANSWERS = {"1.6": ("GetCompositeSchedule",)}
# Answer statuses meaning the charger did (or will do) what was asked. Any other
# status is a refusal; an answer without a status is an answer.
ACKNOWLEDGING = frozenset({"Accepted", "Unlocked", "Scheduled", "RebootRequired", "EmptyResultSet", "AcceptedCanceled"})

# Why an operation failed (Action.reason).
OFFLINE = "offline"
TIMEOUT = "timeout"
CALL_ERROR = "call_error"
INVALID_REQUEST = "invalid_request"
INVALID_ANSWER = "invalid_answer"
CANCELLED = "cancelled"
# The console stopped before the charger answered.
INTERRUPTED = "interrupted"
ERROR = "error"


class OperationRefused(ValidationFailed):
    """An operation was refused before anything was sent: wrong version, bad payload.

    `result` is the failed action when one was recorded.
    """

    def __init__(self, problems: dict[str, str], subject: str | None = None, result: OperationResult | None = None) -> None:
        super().__init__(problems, subject)
        self.result = result


# -- checks ----------------------------------------------------------------------------


def check_operation(ocpp_version: str, operation: str, subject: str | None = None) -> None:
    valid = OPERATIONS.get(ocpp_version, ())
    if operation not in valid:
        raise OperationRefused(
            {"action": f"{operation!r} is not an {ocpp_version} operation; valid: {', '.join(valid)}"}, subject
        )


def request_problem(ocpp_version: str, operation: str, payload: Any) -> str | None:
    """What the OCPP schema finds wrong with a request, in one line; None when it is fine."""
    return _schema_problem(MessageType.Call, ocpp_version, operation, payload)


def answer_problem(ocpp_version: str, operation: str, payload: Any) -> str | None:
    """The same for a charger's answer."""
    return _schema_problem(MessageType.CallResult, ocpp_version, operation, payload)


def _schema_problem(message_type: int, ocpp_version: str, operation: str, payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return f"must be a JSON object, not {type(payload).__name__}"
    schema_version = SCHEMA_VERSION[ocpp_version]
    exact = DECIMAL_REQUESTS if message_type == MessageType.Call else DECIMAL_ANSWERS
    parse_float: Any = decimal.Decimal if operation in exact.get(schema_version, ()) else float
    try:
        document = json.loads(json.dumps(payload), parse_float=parse_float)
    except (TypeError, ValueError) as error:
        return f"not JSON: {error}"
    validator = get_validator(message_type, operation, schema_version, parse_float=parse_float)
    errors = sorted(validator.iter_errors(document), key=lambda error: (len(error.absolute_path), error.message))
    if not errors:
        return None
    first = errors[0]
    where = ".".join(str(part) for part in first.absolute_path)
    return f"{where}: {first.message}" if where else first.message


def plain(value: Any) -> Any:
    """A JSON-safe copy (answers validated with Decimal floats come back with Decimals)."""

    def convert(item: Any) -> Any:
        if isinstance(item, decimal.Decimal):
            return int(item) if item == item.to_integral_value() else float(item)
        return str(item)

    return json.loads(json.dumps(value, default=convert))


# -- outcomes --------------------------------------------------------------------------


def answered_state(answer: dict[str, Any]) -> tuple[str, str | None]:
    """(action state, the answer's status) for a CALLRESULT payload."""
    status = answer.get("status")
    if status is None:
        # SetVariables answers per variable: it is refused when any variable was.
        refused = [
            str(result.get("attributeStatus"))
            for result in answer.get("setVariableResult") or []
            if isinstance(result, dict) and result.get("attributeStatus") not in ACKNOWLEDGING
        ]
        return ("rejected", refused[0]) if refused else ("acknowledged", None)
    return ("acknowledged" if status in ACKNOWLEDGING else "rejected"), str(status)


class Relayed(Exception):
    """A CALL another node of a cluster made failed there: its reason, detail and error answer as that node classified them."""

    def __init__(self, reason: str, detail: str, answer: dict[str, Any] | None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.answer = answer


def failure_of(error: BaseException, ocpp_version: str, operation: str) -> tuple[str, str, dict[str, Any] | None]:
    """(reason, detail, error answer) for an exception from the gateway's call of `operation`."""
    if isinstance(error, Relayed):
        return error.reason, error.detail, error.answer
    if isinstance(error, TimeoutError):
        return TIMEOUT, f"timeout: {error}", None
    if isinstance(error, ConnectionError):
        return OFFLINE, f"offline: {error}", None
    cause = error.__cause__ if isinstance(error.__cause__, OCPPError) else error
    if isinstance(cause, OCPPError):
        details = cause.details if isinstance(cause.details, dict) else {}
        if "ocpp_message" in details:
            # The package's own schema check of the charger's answer names the message it checked.
            answer = plain(getattr(details["ocpp_message"], "payload", None))
            problem = answer_problem(ocpp_version, operation, answer) or details.get("cause")
            return INVALID_ANSWER, f"invalid answer: {problem}", answer if isinstance(answer, dict) else None
        description = cause.description or ""
        return (
            CALL_ERROR,
            f"CALLERROR {cause.code}: {description}".rstrip(": "),
            {"errorCode": cause.code, "errorDescription": description, "errorDetails": plain(details)},
        )
    return ERROR, f"{type(error).__name__}: {error}", None


# -- version-neutral requests --------------------------------------------------------------


def _is_16(ocpp_version: str) -> bool:
    """1.6 has its own shapes; 2.1 takes the 2.0.1 ones."""
    return ocpp_version == "OCPP1.6"


def reset_request(ocpp_version: str, hard: bool) -> tuple[str, dict[str, Any]]:
    if _is_16(ocpp_version):
        return "Reset", {"type": "Hard" if hard else "Soft"}
    return "Reset", {"type": "Immediate" if hard else "OnIdle"}


def unlock_request(ocpp_version: str, connector_id: int) -> tuple[str, dict[str, Any]]:
    if _is_16(ocpp_version):
        return "UnlockConnector", {"connectorId": connector_id}
    # A connector of ours is a 2.0.1 EVSE with one connector.
    return "UnlockConnector", {"evseId": connector_id, "connectorId": 1}


def availability_request(ocpp_version: str, connector_id: int, operative: bool) -> tuple[str, dict[str, Any]]:
    word = "Operative" if operative else "Inoperative"
    if _is_16(ocpp_version):
        return "ChangeAvailability", {"connectorId": connector_id, "type": word}
    payload: dict[str, Any] = {"operationalStatus": word}
    if connector_id:  # 0 is the whole charger: no evse
        payload["evse"] = {"id": connector_id}
    return "ChangeAvailability", payload


def remote_start_request(
    ocpp_version: str,
    connector_id: int | None,
    id_tag: str,
    remote_start_id: int | None = None,
    profile: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """A remote start; `profile` (a `charging_profile` TxProfile) limits the session from its first second."""
    if _is_16(ocpp_version):
        payload: dict[str, Any] = {"idTag": id_tag}
        if connector_id:
            payload["connectorId"] = connector_id
        if profile is not None:
            payload["chargingProfile"] = profile
        return "RemoteStartTransaction", payload
    payload = {
        "idToken": {"idToken": id_tag, "type": "Central"},
        "remoteStartId": remote_start_id if remote_start_id is not None else secrets.randbelow(2**31 - 1) + 1,
    }
    if connector_id:
        payload["evseId"] = connector_id
    if profile is not None:
        payload["chargingProfile"] = profile
    return "RequestStartTransaction", payload


def remote_stop_request(ocpp_version: str, transaction_ref: str) -> tuple[str, dict[str, Any]]:
    if _is_16(ocpp_version):
        try:
            return "RemoteStopTransaction", {"transactionId": int(transaction_ref)}
        except ValueError:
            raise ValidationFailed(
                {"transaction_id": f"the charger's transaction id {transaction_ref!r} is not an OCPP 1.6 integer id"}
            ) from None
    return "RequestStopTransaction", {"transactionId": transaction_ref}


def trigger_request(ocpp_version: str, message: str, connector_id: int | None = None) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {"requestedMessage": message}
    if connector_id:
        if _is_16(ocpp_version):
            payload["connectorId"] = connector_id
        else:
            # A 2.0.1 StatusNotification is per connector, so it needs one named.
            payload["evse"] = {"id": connector_id, "connectorId": 1} if message == "StatusNotification" else {"id": connector_id}
    return "TriggerMessage", payload


def component_variable(key: str) -> dict[str, Any]:
    """The 2.0.1 component and variable a "Component.Variable" key names."""
    component, dot, variable = key.partition(".")
    if not dot or not component or not variable:
        raise ValidationFailed({"key": f"{key!r}: an OCPP 2.0.1 key is Component.Variable (e.g. OCPPCommCtrlr.HeartbeatInterval)"})
    return {"component": {"name": component}, "variable": {"name": variable}}


def get_configuration_request(ocpp_version: str, keys: list[str] | None) -> tuple[str, dict[str, Any]]:
    if _is_16(ocpp_version):
        return "GetConfiguration", ({"key": list(keys)} if keys else {})
    if not keys:
        raise ValidationFailed(
            {"keys": "an OCPP 2.0.1 charger is asked for named Component.Variable keys; GetBaseReport lists everything"}
        )
    return "GetVariables", {"getVariableData": [component_variable(key) for key in keys]}


def set_configuration_request(ocpp_version: str, key: str, value: str) -> tuple[str, dict[str, Any]]:
    if _is_16(ocpp_version):
        return "ChangeConfiguration", {"key": key, "value": value}
    return "SetVariables", {"setVariableData": [{"attributeValue": value, **component_variable(key)}]}


# -- charging profiles ---------------------------------------------------------------------
# Every profile the console sends is built here, in W with one period from the start.

TX_PROFILE = "TxProfile"
# The whole charger's limit: 2.0.1's name; 1.6 calls it ChargePointMaxProfile.
STATION_MAX_PROFILE = "ChargingStationMaxProfile"


def charging_profile(
    ocpp_version: str,
    profile_id: int,
    stack_level: int,
    purpose: str,
    watts: float,
    *,
    start: str | None = None,
    transaction: int | str | None = None,
) -> dict[str, Any]:
    """A charging profile of `purpose` limiting to `watts`: Absolute from `start`, else Relative.

    `transaction` ties a TxProfile to a running session: 1.6 takes the integer id, 2.0.1 the
    charger's own reference. A remote start's TxProfile has none (its session is yet to come).
    """
    schedule: dict[str, Any] = {"chargingRateUnit": "W"}
    if start is not None:
        schedule["startSchedule"] = start
    schedule["chargingSchedulePeriod"] = [{"startPeriod": 0, "limit": round(watts, 1)}]
    kind = "Relative" if start is None else "Absolute"
    if _is_16(ocpp_version):
        profile: dict[str, Any] = {"chargingProfileId": profile_id}
        if transaction is not None:
            profile["transactionId"] = transaction
        return {
            **profile,
            "stackLevel": stack_level,
            "chargingProfilePurpose": "ChargePointMaxProfile" if purpose == STATION_MAX_PROFILE else purpose,
            "chargingProfileKind": kind,
            "chargingSchedule": schedule,
        }
    profile = {"id": profile_id, "stackLevel": stack_level, "chargingProfilePurpose": purpose, "chargingProfileKind": kind}
    if transaction is not None:
        profile["transactionId"] = transaction
    return {**profile, "chargingSchedule": [{"id": 1, **schedule}]}


def set_profile_request(ocpp_version: str, connector_id: int, profile: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """SetChargingProfile of `profile` on a connector (0: the whole charger)."""
    if _is_16(ocpp_version):
        return "SetChargingProfile", {"connectorId": connector_id, "csChargingProfiles": profile}
    return "SetChargingProfile", {"evseId": connector_id, "chargingProfile": profile}
