"""Every operation an operator sends to a charger, with the parameters they fill in: plain data.

One entry per OCPP operation (its name as the charger's version calls it), the
versions that have it and its parameters in the console's version-neutral
words (`connector_id`, not 1.6's `connectorId` or 2.0.1's `evseId`). The UI
builds its forms from these, the REST API one request schema per entry, the
CLI reads `--param k=v` with them; `operations.build_request` (or, for local
lists, firmware and logs, the service that keeps their state) turns the
checked parameters into the charger's payload. Part of core's front door: no
third-party import, so the UI and the attach client may load it.

To add an operation: an entry here, its payload in `operations.build_request`,
its name in `operations.OPERATIONS` (docs/architecture.md, "Adding an operation").
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from console.core.errors import ValidationFailed
from console.core.timespec import parse_time
from console.core.versions import OcppVersion

V16 = (OcppVersion.V16.value,)
V2 = (OcppVersion.V201.value, OcppVersion.V21.value)
ALL = V16 + V2

# Parameter kinds and the widget/type each becomes.
INT, STR, BOOL, CHOICE, DATETIME, JSON = "int", "str", "bool", "choice", "datetime", "json"
KINDS = (INT, STR, BOOL, CHOICE, DATETIME, JSON)
# The same choice in the other version's word: a request written for a mixed fleet works on each charger.
SYNONYMS = {
    "Hard": "Immediate", "Immediate": "Hard", "Soft": "OnIdle", "OnIdle": "Soft",
    "ChargePointMaxProfile": "ChargingStationMaxProfile",
}


@dataclass(frozen=True)
class Param:
    """One parameter of an operation; `version_choices` narrows a choice for some versions."""

    name: str
    kind: str
    help: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None
    version_choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The versions this parameter applies to (all the operation's when empty).
    versions: tuple[str, ...] = ()

    def choices_for(self, ocpp_version: str) -> tuple[str, ...]:
        return self.version_choices.get(ocpp_version, self.choices)


@dataclass(frozen=True)
class OperationSpec:
    """One operation: `name` is OCPP's, `slug` the REST path's and the CLI's word for it."""

    name: str
    summary: str
    versions: tuple[str, ...]
    params: tuple[Param, ...] = ()
    # Ask before sending: always (`confirm`), or when a parameter has one of the values in `confirm_when`.
    confirm: str | None = None
    confirm_when: tuple[tuple[str, str], ...] = ()
    # Sensible on the marked set (the same parameters for every charger).
    bulk: bool = True

    @property
    def slug(self) -> str:
        return kebab(self.name)

    def for_version(self, ocpp_version: str) -> OperationSpec:
        """This operation as a charger of `ocpp_version` takes it: its parameters and their choices."""
        params = tuple(
            _narrowed(param, param.choices_for(ocpp_version)) for param in self.params if not param.versions or ocpp_version in param.versions
        )
        return OperationSpec(self.name, self.summary, (ocpp_version,), params, self.confirm, self.confirm_when, self.bulk)

    def param(self, name: str) -> Param | None:
        return next((param for param in self.params if param.name == name), None)

    def confirmation(self, values: dict[str, Any]) -> str | None:
        """The question to ask before sending with `values`, or None."""
        if self.confirm:
            return self.confirm
        for name, value in self.confirm_when:
            if str(values.get(name)) == value:
                return f"{self.name} with {name} {value}: the charger acts on it at once."
        return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["slug"] = self.slug
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperationSpec:
        known = {item.name for item in fields(Param)}  # a newer server's extra keys are left out
        params = tuple(
            Param(
                **{
                    **{key: value for key, value in param.items() if key in known},
                    "choices": tuple(param.get("choices") or ()),
                    "versions": tuple(param.get("versions") or ()),
                    "version_choices": {key: tuple(value) for key, value in (param.get("version_choices") or {}).items()},
                }
            )
            for param in data.get("params") or ()
        )
        return cls(
            name=data["name"],
            summary=data.get("summary", ""),
            versions=tuple(data.get("versions") or ()),
            params=params,
            confirm=data.get("confirm"),
            confirm_when=tuple(tuple(pair) for pair in data.get("confirm_when") or ()),  # type: ignore[misc]
            bulk=bool(data.get("bulk", True)),
        )


def _narrowed(param: Param, choices: tuple[str, ...]) -> Param:
    default = param.default
    if param.kind == CHOICE and default is not None and default not in choices:
        default = choices[0]
    return Param(**{**asdict(param), "choices": choices, "default": default, "version_choices": {}, "versions": ()})


def kebab(name: str) -> str:
    """GetCompositeSchedule -> get-composite-schedule."""
    out = []
    for index, char in enumerate(name):
        if char.isupper() and index and (not name[index - 1].isupper() or (index + 1 < len(name) and name[index + 1].islower())):
            out.append("-")
        out.append(char.lower())
    return "".join(out)


# -- the parameters several operations share ------------------------------------------------

CONNECTOR = Param("connector_id", INT, "the connector (2.0.1: the EVSE); 0 is the whole charger", default=0)
CONNECTOR_ONE = Param("connector_id", INT, "the connector (2.0.1: the EVSE)", required=True, default=1)
OPTIONAL_CONNECTOR = Param("connector_id", INT, "the connector (2.0.1: the EVSE); empty: the charger chooses")
PURPOSES = ("ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile")
TRIGGERS_16 = ("BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StatusNotification")
TRIGGERS_2 = (
    "BootNotification", "LogStatusNotification", "FirmwareStatusNotification", "Heartbeat", "MeterValues",
    "SignChargingStationCertificate", "SignV2GCertificate", "StatusNotification", "TransactionEvent",
)
EXTENDED_TRIGGERS = (
    "BootNotification", "LogStatusNotification", "FirmwareStatusNotification", "Heartbeat", "MeterValues",
    "SignChargePointCertificate", "StatusNotification",
)
CERTIFICATES_16 = ("CentralSystemRootCertificate", "ManufacturerRootCertificate")
CERTIFICATES_2 = ("V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate", "ManufacturerRootCertificate")
INSTALLED_2 = ("V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate", "V2GCertificateChain", "ManufacturerRootCertificate")
HASH = (
    Param("hash_algorithm", CHOICE, "the hash of the issuer's name and key", required=True, choices=("SHA256", "SHA384", "SHA512"), default="SHA256"),
    Param("issuer_name_hash", STR, "hex", required=True),
    Param("issuer_key_hash", STR, "hex", required=True),
    Param("serial_number", STR, "the certificate's serial number, hex", required=True),
)
RETRIES = (
    Param("retries", INT, "how often the charger tries again"),
    Param("retry_interval", INT, "seconds between its tries"),
)
FIRMWARE = (
    Param("location", STR, "the image's URL (http, https, ftp)", required=True),
    Param("retrieve_at", DATETIME, "when to fetch it: ISO 8601 or 30m, 2h; empty: now"),
    *RETRIES,
)
SIGNING = (
    Param("signature", STR, "the image's signature (base64)"),
    Param("signing_certificate", STR, "the signing certificate (PEM)"),
)
LOG_WINDOW = (
    Param("since", DATETIME, "the oldest entries wanted: ISO 8601 or 2h, 1d (before now)"),
    Param("until", DATETIME, "the newest entries wanted"),
    *RETRIES,
)

CATALOGUE: tuple[OperationSpec, ...] = (
    OperationSpec("Reset", "Reboot: soft (OnIdle) once sessions end, hard (Immediate) at once", ALL, (
        Param("type", CHOICE, "1.6: Soft or Hard; 2.0.1: OnIdle or Immediate (either version's word works)", required=True,
              choices=("Soft", "Hard", "OnIdle", "Immediate"), default="Soft",
              version_choices={OcppVersion.V16.value: ("Soft", "Hard"), OcppVersion.V201.value: ("OnIdle", "Immediate"), OcppVersion.V21.value: ("OnIdle", "Immediate")}),
    ), confirm_when=(("type", "Hard"), ("type", "Immediate"))),
    OperationSpec("UnlockConnector", "Release the cable held in a connector", ALL, (CONNECTOR_ONE,)),
    OperationSpec("ChangeAvailability", "Make the charger or a connector operative or inoperative", ALL, (
        CONNECTOR,
        Param("operative", BOOL, "operative (on) or inoperative (off)", default=True),
    )),
    OperationSpec("TriggerMessage", "Ask the charger to send one of its messages now", ALL, (
        Param("requested_message", CHOICE, "the message", required=True, choices=TRIGGERS_16 + tuple(m for m in TRIGGERS_2 if m not in TRIGGERS_16),
              default="StatusNotification", version_choices={OcppVersion.V16.value: TRIGGERS_16, OcppVersion.V201.value: TRIGGERS_2, OcppVersion.V21.value: TRIGGERS_2}),
        OPTIONAL_CONNECTOR,
    )),
    OperationSpec("ExtendedTriggerMessage", "Trigger a message, security extension (certificates, logs)", V16, (
        Param("requested_message", CHOICE, "the message", required=True, choices=EXTENDED_TRIGGERS, default="Heartbeat"),
        OPTIONAL_CONNECTOR,
    )),
    OperationSpec("GetConfiguration", "Read configuration keys (all when none is named)", V16, (
        Param("keys", STR, "comma-separated keys; empty for every key"),
    )),
    OperationSpec("ChangeConfiguration", "Set one configuration key", V16, (
        Param("key", STR, "e.g. HeartbeatInterval", required=True),
        Param("value", STR, "its new value", required=True),
    )),
    OperationSpec("GetVariables", "Read device-model variables", V2, (
        Param("keys", STR, "e.g. OCPPCommCtrlr.HeartbeatInterval (comma-separated)", required=True),
    )),
    OperationSpec("SetVariables", "Set one device-model variable", V2, (
        Param("key", STR, "Component.Variable, e.g. OCPPCommCtrlr.HeartbeatInterval", required=True),
        Param("value", STR, "its new value", required=True),
    )),
    OperationSpec("GetBaseReport", "Ask for a report of the whole device model (arrives as NotifyReport)", V2, (
        Param("report_base", CHOICE, "what to report", required=True,
              choices=("FullInventory", "ConfigurationInventory", "SummaryInventory"), default="FullInventory"),
        Param("request_id", INT, "the report's id; a new one when empty"),
    )),
    OperationSpec("GetReport", "Ask for a report of some components or variables (NotifyReport)", V2, (
        Param("component", STR, "a component's name, e.g. EVSE; every one when empty"),
        Param("variable", STR, "one of its variables, e.g. Power"),
        Param("criteria", CHOICE, "only variables in this state", choices=("Active", "Available", "Enabled", "Problem")),
        Param("request_id", INT, "the report's id; a new one when empty"),
    )),
    OperationSpec("RemoteStartTransaction", "Start a session remotely", V16, (
        OPTIONAL_CONNECTOR,
        Param("id_tag", STR, "the idTag the session runs under", required=True, default="OPERATOR"),
    )),
    OperationSpec("RequestStartTransaction", "Start a session remotely", V2, (
        OPTIONAL_CONNECTOR,
        Param("id_tag", STR, "the idToken (type Central) the session runs under", required=True, default="OPERATOR"),
        Param("remote_start_id", INT, "a new one when empty"),
    )),
    OperationSpec("RemoteStopTransaction", "Stop a session remotely", V16, (
        Param("transaction_id", INT, "the charger's transaction id", required=True),
    )),
    OperationSpec("RequestStopTransaction", "Stop a session remotely", V2, (
        Param("transaction_id", STR, "the charger's transaction id", required=True),
    )),
    OperationSpec("SetChargingProfile", "Install a charging profile: one limit from now on", ALL, (
        CONNECTOR,
        Param("purpose", CHOICE, "the profile's purpose", required=True, choices=PURPOSES, default="TxDefaultProfile"),
        Param("limit", INT, "the limit in W", required=True),
        Param("profile_id", INT, "the profile's id", required=True, default=1),
        Param("stack_level", INT, "its stack level", required=True, default=0),
        Param("transaction_id", STR, "a TxProfile's session (the charger's transaction id)"),
    )),
    OperationSpec("ClearChargingProfile", "Remove charging profiles: by id, or all that match", ALL, (
        Param("profile_id", INT, "one profile's id; empty: every profile matching the rest"),
        Param("connector_id", INT, "the connector (2.0.1: the EVSE) whose profiles go"),
        Param("purpose", CHOICE, "only profiles of this purpose", choices=PURPOSES),
        Param("stack_level", INT, "only profiles at this stack level"),
    )),
    OperationSpec("GetCompositeSchedule", "Read the schedule the charger will follow", ALL, (
        CONNECTOR,
        Param("duration", INT, "seconds from now", required=True, default=3600),
        Param("rate_unit", CHOICE, "the unit of the answer", choices=("W", "A")),
    )),
    OperationSpec("ReserveNow", "Reserve a connector for an id tag until a time", ALL, (
        Param("reservation_id", INT, "the reservation's id", required=True),
        Param("connector_id", INT, "the connector (2.0.1: the EVSE, optional); 0 for any", required=True, default=1),
        Param("expiry", DATETIME, "until when: ISO 8601 or 30m, 2h", required=True, default="1h"),
        Param("id_tag", STR, "the id tag it is held for", required=True),
        Param("id_token_type", CHOICE, "the id token's type", choices=("Central", "ISO14443", "ISO15693", "eMAID", "KeyCode", "Local", "MacAddress"),
              default="Central", versions=V2),
        Param("parent_id_tag", STR, "its parent (group) id tag"),
    )),
    OperationSpec("CancelReservation", "Cancel a reservation", ALL, (
        Param("reservation_id", INT, "the reservation's id", required=True),
    )),
    OperationSpec("SendLocalList", "Push the token registry as the charger's local list", ALL, (
        Param("update_type", CHOICE, "Differential sends what changed since its version; Full replaces the list",
              required=True, choices=("Differential", "Full"), default="Differential"),
    ), confirm_when=(("update_type", "Full"),)),
    OperationSpec("GetLocalListVersion", "Ask the version of the charger's local list", ALL),
    OperationSpec("ClearCache", "Empty the charger's authorization cache", ALL,
                  confirm="ClearCache: the charger forgets every cached id tag; it asks again at the next tap."),
    OperationSpec("DataTransfer", "Send vendor-specific data", ALL, (
        Param("vendor_id", STR, "the vendor's id, e.g. com.example", required=True),
        Param("message_id", STR, "the vendor's message id"),
        Param("data", STR, "the data, as text"),
    )),
    OperationSpec("UpdateFirmware", "Fetch and install firmware from a URL", ALL, (
        *FIRMWARE,
        *(Param(**{**asdict(param), "versions": V2}) for param in SIGNING),
        Param("install_at", DATETIME, "when to install it (2.0.1)", versions=V2),
    ), confirm="UpdateFirmware: the charger installs the image and reboots."),
    OperationSpec("SignedUpdateFirmware", "Fetch and install a signed firmware image (security extension)", V16, (
        *FIRMWARE,
        Param("signature", STR, "the image's signature (base64)", required=True),
        Param("signing_certificate", STR, "the signing certificate (PEM)", required=True),
        Param("install_at", DATETIME, "when to install it"),
    ), confirm="SignedUpdateFirmware: the charger installs the image and reboots."),
    OperationSpec("GetDiagnostics", "Ask for the diagnostics file, uploaded to the console", V16, LOG_WINDOW),
    OperationSpec("GetLog", "Ask for a log, uploaded to the console", ALL, (
        Param("log_type", CHOICE, "which log", required=True, choices=("DiagnosticsLog", "SecurityLog"), default="DiagnosticsLog",
              version_choices={OcppVersion.V16.value: ("SecurityLog",)}),
        *LOG_WINDOW,
    )),
    OperationSpec("InstallCertificate", "Install a root certificate", ALL, (
        Param("certificate_type", CHOICE, "which kind", required=True, choices=tuple(dict.fromkeys(CERTIFICATES_16 + CERTIFICATES_2)),
              version_choices={OcppVersion.V16.value: CERTIFICATES_16, OcppVersion.V201.value: CERTIFICATES_2, OcppVersion.V21.value: CERTIFICATES_2}),
        Param("certificate", STR, "PEM", required=True),
    )),
    OperationSpec("GetInstalledCertificateIds", "List the certificates installed", ALL, (
        Param("certificate_type", CHOICE, "which kind (2.0.1: every kind when empty)", choices=tuple(dict.fromkeys(CERTIFICATES_16 + INSTALLED_2)),
              version_choices={OcppVersion.V16.value: CERTIFICATES_16, OcppVersion.V201.value: INSTALLED_2, OcppVersion.V21.value: INSTALLED_2}),
    )),
    OperationSpec("DeleteCertificate", "Delete an installed certificate", ALL, HASH,
                  confirm="DeleteCertificate: a charger without its root certificate may not reach the console again."),
    OperationSpec("CertificateSigned", "Send the charger its signed certificate chain", ALL, (
        Param("certificate_chain", STR, "PEM, the charger's certificate first", required=True),
        Param("certificate_type", CHOICE, "2.0.1: which certificate", choices=("ChargingStationCertificate", "V2GCertificate"), versions=V2),
    ), bulk=False),
)
BY_NAME = {spec.name: spec for spec in CATALOGUE}
BY_SLUG = {spec.slug: spec for spec in CATALOGUE}


def catalogue_for(ocpp_version: str) -> list[OperationSpec]:
    """The operations a charger of `ocpp_version` takes, with its parameters."""
    return [spec.for_version(ocpp_version) for spec in CATALOGUE if ocpp_version in spec.versions]


def find(operation: str) -> OperationSpec:
    """An operation by its OCPP name or slug (any case); ValidationFailed names the choices."""
    spec = BY_NAME.get(operation) or BY_SLUG.get(operation.lower()) or BY_SLUG.get(kebab(operation))
    if spec is None:
        raise ValidationFailed({"operation": f"no operation {operation!r}; one of {', '.join(BY_NAME)}"})
    return spec


def spec_for(ocpp_version: str, operation: str) -> OperationSpec:
    spec = find(operation)
    if ocpp_version not in spec.versions:
        raise ValidationFailed({"operation": f"{spec.name} is not an {ocpp_version} operation"}, spec.name)
    return spec.for_version(ocpp_version)


def check_params(spec: OperationSpec, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The parameters, typed: text from a form or `--param` is read by kind, absent ones get their
    default; ValidationFailed names every bad field. `spec` is `for_version`'s, so choices are the version's."""
    problems: dict[str, str] = {}
    unknown = sorted(set(values) - {param.name for param in spec.params})
    for name in unknown:
        problems[name] = f"{spec.name} has no parameter {name!r}" + (
            f"; its parameters: {', '.join(param.name for param in spec.params)}" if spec.params else ""
        )
    checked: dict[str, Any] = {}
    for param in spec.params:
        raw = values.get(param.name)
        if isinstance(raw, str) and not raw.strip():
            raw = None  # an empty field is an absent one
        if raw is None:
            raw = param.default
        if raw is None:
            if param.required:
                problems[param.name] = "required"
            continue
        try:
            checked[param.name] = _read(param, raw, now)
        except ValueError as error:
            problems[param.name] = str(error)
    if problems:
        raise ValidationFailed(problems, spec.name)
    return checked


def _read(param: Param, raw: Any, now: datetime) -> Any:
    if param.kind == INT:
        if isinstance(raw, bool):
            raise ValueError("a whole number")
        try:
            return int(str(raw).strip()) if not isinstance(raw, int) else raw
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
    if param.kind == BOOL:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in ("1", "true", "yes", "on", "y"):
            return True
        if word in ("0", "false", "no", "off", "n"):
            return False
        raise ValueError(f"{raw!r}: yes or no")
    if param.kind == CHOICE:
        text = str(raw).strip()
        match = next((choice for choice in param.choices if choice.lower() == text.lower()), None)
        if match is None:
            word = next((word for word in SYNONYMS if word.lower() == text.lower()), None)
            match = SYNONYMS[word] if word is not None and SYNONYMS[word] in param.choices else None
        if match is None:
            raise ValueError(f"{text!r}: one of {', '.join(param.choices)}")
        return match
    if param.kind == DATETIME:
        return parse_time(raw, now) if isinstance(raw, str | datetime) else _bad(raw)
    if param.kind == JSON:
        if isinstance(raw, str):
            try:
                return json.loads(raw)
            except ValueError as error:
                raise ValueError(f"not JSON: {error}") from None
        return raw
    return str(raw)


def _bad(raw: Any) -> Any:
    raise ValueError(f"{raw!r} is not a time")
