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
from collections.abc import Callable
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.messages import MessageType, get_validator

from console.core.errors import ValidationFailed
from console.core.rates import WATTS, ChargingRate
from console.core.views import OperationResult
from console.core.versions import OcppVersion

# Operations from the central system to a charger, per charger version (issue 3, part 3).
OPERATIONS: dict[str, tuple[str, ...]] = {
    OcppVersion.V16.value: (
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
    OcppVersion.V201.value: (
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
        "GetReport",
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
OPERATIONS[OcppVersion.V21.value] = OPERATIONS[OcppVersion.V201.value]
# Firmware updates and log uploads: their payloads are built in console/core/firmware.py.
OPERATIONS[OcppVersion.V16.value] += ("GetDiagnostics", "GetLog", "SignedUpdateFirmware", "UpdateFirmware")
OPERATIONS[OcppVersion.V201.value] += ("GetLog", "UpdateFirmware")
OPERATIONS[OcppVersion.V21.value] = OPERATIONS[OcppVersion.V201.value]
# The `ocpp` package's name for each version's schemas.
SCHEMA_VERSION = {version.value: version.short for version in OcppVersion}
# OCPP 1.6 schedules have one-decimal floats; the package validates these with
# Decimal so 21.4 is not read as 21.399999…, and caches the validator it built
# first — so this must match its choice exactly.
DECIMAL_REQUESTS = {OcppVersion.V16.short: ("SetChargingProfile", "RemoteStartTransaction")}
DECIMAL_ANSWERS = {OcppVersion.V16.short: ("GetCompositeSchedule",)}
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


# -- version-neutral requests (1.6 has its own shapes; 2.1 takes the 2.0.1 ones) -----------


def reset_request(ocpp_version: str, hard: bool) -> tuple[str, dict[str, Any]]:
    if ocpp_version == OcppVersion.V16:
        return "Reset", {"type": "Hard" if hard else "Soft"}
    return "Reset", {"type": "Immediate" if hard else "OnIdle"}


def unlock_request(ocpp_version: str, connector_id: int) -> tuple[str, dict[str, Any]]:
    if ocpp_version == OcppVersion.V16:
        return "UnlockConnector", {"connectorId": connector_id}
    # A connector of ours is a 2.0.1 EVSE with one connector.
    return "UnlockConnector", {"evseId": connector_id, "connectorId": 1}


def availability_request(ocpp_version: str, connector_id: int, operative: bool) -> tuple[str, dict[str, Any]]:
    word = "Operative" if operative else "Inoperative"
    if ocpp_version == OcppVersion.V16:
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
    if ocpp_version == OcppVersion.V16:
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
    if ocpp_version == OcppVersion.V16:
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
        if ocpp_version == OcppVersion.V16:
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
    if ocpp_version == OcppVersion.V16:
        return "GetConfiguration", ({"key": list(keys)} if keys else {})
    if not keys:
        raise ValidationFailed(
            {"keys": "an OCPP 2.0.1 charger is asked for named Component.Variable keys; GetBaseReport lists everything"}
        )
    return "GetVariables", {"getVariableData": [component_variable(key) for key in keys]}


def set_configuration_request(ocpp_version: str, key: str, value: str) -> tuple[str, dict[str, Any]]:
    if ocpp_version == OcppVersion.V16:
        return "ChangeConfiguration", {"key": key, "value": value}
    return "SetVariables", {"setVariableData": [{"attributeValue": value, **component_variable(key)}]}


def set_variable_request(target: dict[str, Any], value: str) -> tuple[str, dict[str, Any]]:
    """2.0.1 SetVariables of one variable as a report named it (`target`: its component, variable and attribute type)."""
    data: dict[str, Any] = {"attributeValue": value, "component": target["component"], "variable": target["variable"]}
    if target.get("attributeType") not in (None, "Actual"):
        data["attributeType"] = target["attributeType"]
    return "SetVariables", {"setVariableData": [data]}


def base_report_request(request_id: int) -> tuple[str, dict[str, Any]]:
    """2.0.1 GetBaseReport of everything the charger has (answered by NotifyReport pages)."""
    return "GetBaseReport", {"requestId": request_id, "reportBase": "FullInventory"}


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
    rate: ChargingRate = WATTS,
) -> dict[str, Any]:
    """A charging profile of `purpose` limiting to `watts`: Absolute from `start`, else Relative.

    `transaction` ties a TxProfile to a running session: 1.6 takes the integer id, 2.0.1 the
    charger's own reference. A remote start's TxProfile has none (its session is yet to come).
    `rate` is the unit the charger takes: watts, or amperes over its phases (console/core/rates.py).
    """
    schedule: dict[str, Any] = {"chargingRateUnit": rate.unit}
    if start is not None:
        schedule["startSchedule"] = start
    period: dict[str, Any] = {"startPeriod": 0, "limit": rate.limit(watts)}
    if rate.unit == "A":
        period["numberPhases"] = rate.phases
    schedule["chargingSchedulePeriod"] = [period]
    kind = "Relative" if start is None else "Absolute"
    if ocpp_version == OcppVersion.V16:
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
    if ocpp_version == OcppVersion.V16:
        return "SetChargingProfile", {"connectorId": connector_id, "csChargingProfiles": profile}
    return "SetChargingProfile", {"evseId": connector_id, "chargingProfile": profile}


# -- the operator's operations (console/core/catalogue.py) -------------------------------------
# Local lists, firmware and logs are built by the services that keep their state (tokens.py,
# firmware.py); everything else in the catalogue is built here from its checked parameters.

OperationBuilder = Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]


def _some(**fields: Any) -> dict[str, Any]:
    """The fields that have a value (OCPP leaves absent what is not asked for)."""
    return {name: value for name, value in fields.items() if value is not None}


def _evse_or_connector(ocpp_version: str, connector_id: int | None) -> dict[str, Any]:
    if connector_id is None:
        return {}
    return {"connectorId": connector_id} if ocpp_version == OcppVersion.V16 else {"evseId": connector_id}


def _reset(version: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return reset_request(version, p["type"] in ("Hard", "Immediate"))


def _keys(text: str | None) -> list[str]:
    return [key.strip() for key in (text or "").split(",") if key.strip()]


def _trigger(version: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return trigger_request(version, p["requested_message"], p.get("connector_id"))


def _extended_trigger(version: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "ExtendedTriggerMessage", _some(requestedMessage=p["requested_message"], connectorId=p.get("connector_id") or None)


def _remote_start(version: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return remote_start_request(version, p.get("connector_id"), p["id_tag"], p.get("remote_start_id"))


def _set_profile(version: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    transaction = p.get("transaction_id")
    if transaction is not None and version == OcppVersion.V16:
        try:
            transaction = int(transaction)
        except ValueError:
            raise ValidationFailed({"transaction_id": "an OCPP 1.6 transaction id is a whole number"}) from None
    profile = charging_profile(version, p["profile_id"], p["stack_level"], p["purpose"], p["limit"], transaction=transaction)
    return set_profile_request(version, p["connector_id"], profile)


def _clear_profile(version: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    purpose = p.get("purpose")
    if version == OcppVersion.V16:
        if purpose == STATION_MAX_PROFILE:
            purpose = "ChargePointMaxProfile"
        return "ClearChargingProfile", _some(
            id=p.get("profile_id"), connectorId=p.get("connector_id"), chargingProfilePurpose=purpose, stackLevel=p.get("stack_level")
        )
    criteria = _some(evseId=p.get("connector_id"), chargingProfilePurpose=purpose, stackLevel=p.get("stack_level"))
    return "ClearChargingProfile", _some(chargingProfileId=p.get("profile_id"), chargingProfileCriteria=criteria or None)


def _composite(version: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "GetCompositeSchedule", {
        **_evse_or_connector(version, p["connector_id"]), "duration": p["duration"], **_some(chargingRateUnit=p.get("rate_unit"))
    }


def _reserve(version: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    expiry = p["expiry"].isoformat().replace("+00:00", "Z")
    if version == OcppVersion.V16:
        return "ReserveNow", _some(
            connectorId=p["connector_id"], expiryDate=expiry, idTag=p["id_tag"], reservationId=p["reservation_id"], parentIdTag=p.get("parent_id_tag")
        )
    payload: dict[str, Any] = {
        "id": p["reservation_id"],
        "expiryDateTime": expiry,
        "idToken": {"idToken": p["id_tag"], "type": p.get("id_token_type") or "Central"},
    }
    if p["connector_id"]:
        payload["evseId"] = p["connector_id"]
    if p.get("parent_id_tag"):
        payload["groupIdToken"] = {"idToken": p["parent_id_tag"], "type": "Central"}
    return "ReserveNow", payload


def _report(version: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {"requestId": p.get("request_id") or secrets.randbelow(2**31 - 2) + 1}
    if p.get("component"):
        target: dict[str, Any] = {"component": {"name": p["component"]}}
        if p.get("variable"):
            target["variable"] = {"name": p["variable"]}
        payload["componentVariable"] = [target]
    elif p.get("variable"):
        raise ValidationFailed({"variable": "name its component too"})
    if p.get("criteria"):
        payload["componentCriteria"] = [p["criteria"]]
    return "GetReport", payload


def _installed(version: str, p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kind = p.get("certificate_type")
    if version == OcppVersion.V16:
        if kind is None:
            raise ValidationFailed({"certificate_type": "OCPP 1.6 asks for one kind of certificate"})
        return "GetInstalledCertificateIds", {"certificateType": kind}
    return "GetInstalledCertificateIds", ({"certificateType": [kind]} if kind else {})


BUILDERS: dict[str, OperationBuilder] = {
    "Reset": _reset,
    "UnlockConnector": lambda v, p: unlock_request(v, p["connector_id"]),
    "ChangeAvailability": lambda v, p: availability_request(v, p["connector_id"], p["operative"]),
    "TriggerMessage": _trigger,
    "ExtendedTriggerMessage": _extended_trigger,
    "GetConfiguration": lambda v, p: get_configuration_request(v, _keys(p.get("keys"))),
    "GetVariables": lambda v, p: get_configuration_request(v, _keys(p.get("keys"))),
    "ChangeConfiguration": lambda v, p: set_configuration_request(v, p["key"], p["value"]),
    "SetVariables": lambda v, p: set_configuration_request(v, p["key"], p["value"]),
    "GetBaseReport": lambda v, p: (
        "GetBaseReport", {"requestId": p.get("request_id") or secrets.randbelow(2**31 - 2) + 1, "reportBase": p["report_base"]}
    ),
    "GetReport": _report,
    "RemoteStartTransaction": _remote_start,
    "RequestStartTransaction": _remote_start,
    "RemoteStopTransaction": lambda v, p: remote_stop_request(v, str(p["transaction_id"])),
    "RequestStopTransaction": lambda v, p: remote_stop_request(v, str(p["transaction_id"])),
    "SetChargingProfile": _set_profile,
    "ClearChargingProfile": _clear_profile,
    "GetCompositeSchedule": _composite,
    "ReserveNow": _reserve,
    "CancelReservation": lambda v, p: ("CancelReservation", {"reservationId": p["reservation_id"]}),
    "GetLocalListVersion": lambda v, p: ("GetLocalListVersion", {}),
    "ClearCache": lambda v, p: ("ClearCache", {}),
    "DataTransfer": lambda v, p: ("DataTransfer", _some(vendorId=p["vendor_id"], messageId=p.get("message_id"), data=p.get("data"))),
    "InstallCertificate": lambda v, p: ("InstallCertificate", {"certificateType": p["certificate_type"], "certificate": p["certificate"]}),
    "GetInstalledCertificateIds": _installed,
    "DeleteCertificate": lambda v, p: ("DeleteCertificate", {"certificateHashData": {
        "hashAlgorithm": p["hash_algorithm"], "issuerNameHash": p["issuer_name_hash"],
        "issuerKeyHash": p["issuer_key_hash"], "serialNumber": p["serial_number"],
    }}),
    "CertificateSigned": lambda v, p: (
        "CertificateSigned", _some(certificateChain=p["certificate_chain"], certificateType=None if v == OcppVersion.V16 else p.get("certificate_type"))
    ),
}


def build_request(ocpp_version: str, operation: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The OCPP operation and payload for a catalogue operation's checked parameters, in the charger's version."""
    builder = BUILDERS.get(operation)
    if builder is None:
        raise ValidationFailed({"operation": f"{operation} is not built from parameters here"})
    return builder(ocpp_version, params)
