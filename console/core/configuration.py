"""A charger's configuration, kept: fetched on demand, stored, shown without asking again, changed with care.

1.6: GetConfiguration answers with every key, its value and whether it is read-only.
2.0.1: GetBaseReport(FullInventory) is answered Accepted, then the device model
arrives in NotifyReport pages (`tbc` until the last); each variable's Actual
attribute is a setting, keyed "Component.Variable" (with [instance] and @evse
where the report names them), and keeps the component and variable objects the
report named so SetVariables names exactly the same thing.

A fetch replaces what was stored of the charger. A change goes out as
ChangeConfiguration / SetVariables through the ledger (an action like any other);
when the charger takes it, the stored value follows. Keys that can strand a
charger (where it connects, how it authenticates) are refused unless the change
is confirmed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, delete, select

from console.core import operations as ops
from console.core.clock import Clock
from console.core.errors import CommandRefused, ConsoleError, NotFound, ValidationFailed
from console.core.live import LiveState
from console.core.models import Action, Charger, ChargerSetting
from console.core.passwords import MASK, SECRET_KEYS
from console.core.rates import RATE_UNIT_KEYS, WATTS, charging_rate
from console.core.store import Store
from console.core.views import ConfigurationView, OperationResult, SettingView
from console.core.versions import OcppVersion

log = logging.getLogger(__name__)

Operate = Callable[..., Awaitable[OperationResult]]

# How long a 2.0.1 charger may take to send its whole report after accepting GetBaseReport.
REPORT_TIMEOUT_S = 30.0
# What a key's name says about the harm of changing it (matched on the key, or a 2.0.1 key's variable).
STRANDING: dict[str, str] = {
    "AuthorizationKey": "the charger's password: unless the console's record has the same, it cannot connect again",
    "BasicAuthPassword": "the charger's password: unless the console's record has the same, it cannot connect again",
    "SecurityProfile": "how the charger connects (Basic auth, TLS, client certificate): a profile the console does not serve strands it",
    "NetworkConfigurationPriority": "which network profile the charger connects with: a wrong one points it at no central system",
    "Identity": "the identity the charger connects as: the console knows it only by its current one",
}
# 1.6 has no standard key for it, but firmware names the central system's URL: CentralSystemURL, OcppServerUrl, CSMSUrl…
URL_KEY = re.compile(r"(central|csms|ocpp|backend|server).*(url|uri|address)", re.IGNORECASE)
URL_WARNING = "where the charger connects: a wrong URL points it at no central system"
CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
# The 1.6 schema's bounds on ChangeConfiguration; 2.0.1's attributeValue is at most 1000 characters.
KEY_MAX_16, VALUE_MAX_16, VALUE_MAX_201 = 50, 500, 1000


def stranding_warning(key: str) -> str | None:
    """Why changing `key` can leave the charger unable to reach the console; None for an ordinary key."""
    variable = key.rsplit(".", 1)[-1].split("[", 1)[0]
    for name in (key, variable):
        if name in STRANDING:
            return STRANDING[name]
    return URL_WARNING if URL_KEY.search(variable) else None


def report_key(component: dict[str, Any], variable: dict[str, Any], attribute_type: str | None = None) -> str:
    """"Component[instance]@evse/connector.Variable[instance]", and ":Type" for an attribute other than Actual."""
    key = str(component.get("name"))
    if component.get("instance"):
        key += f"[{component['instance']}]"
    evse = component.get("evse")
    if isinstance(evse, dict) and evse.get("id") is not None:
        key += f"@{evse['id']}" + (f"/{evse['connectorId']}" if evse.get("connectorId") is not None else "")
    key += f".{variable.get('name')}"
    if variable.get("instance"):
        key += f"[{variable['instance']}]"
    if attribute_type not in (None, "Actual"):
        key += f":{attribute_type}"
    return key


def report_settings(report_data: list[dict[str, Any]], at: datetime) -> list[ChargerSetting]:
    """The settings in NotifyReport pages' reportData: each variable's Actual attribute (else its first)."""
    settings: dict[str, ChargerSetting] = {}
    for item in report_data:
        component, variable = item.get("component") or {}, item.get("variable") or {}
        attributes = [a for a in item.get("variableAttribute") or [] if isinstance(a, dict)]
        if not component.get("name") or not variable.get("name") or not attributes:
            continue
        attribute = next((a for a in attributes if a.get("type", "Actual") == "Actual"), attributes[0])
        attribute_type = attribute.get("type", "Actual")
        key = report_key(component, variable, attribute_type)
        value = attribute.get("value")
        if variable["name"] in SECRET_KEYS and value is not None:
            value = MASK
        characteristics = item.get("variableCharacteristics") or {}
        settings[key] = ChargerSetting(
            charger_id="",
            key=key,
            value=value,
            readonly=attribute.get("mutability") == "ReadOnly",
            target={"component": component, "variable": variable, "attributeType": attribute_type},
            data_type=characteristics.get("dataType"),
            fetched_at=at,
        )
    return list(settings.values())


def key_settings(answer: dict[str, Any], at: datetime) -> list[ChargerSetting]:
    """The settings in a 1.6 GetConfiguration answer (values already masked by the ledger where secret)."""
    return [
        ChargerSetting(charger_id="", key=str(item["key"]), value=item.get("value"), readonly=bool(item.get("readonly")), fetched_at=at)
        for item in answer.get("configurationKey") or []
        if isinstance(item, dict) and item.get("key")
    ]


def setting_view(row: ChargerSetting) -> SettingView:
    return SettingView(
        key=row.key,
        value=row.value,
        readonly=row.readonly,
        data_type=row.data_type,
        fetched_at=row.fetched_at,
        warning=stranding_warning(row.key),
    )


@dataclass
class Report:
    """The NotifyReport pages of one GetBaseReport, as they arrive."""

    request_id: int
    pages: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    last_seq: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, data: dict[str, Any]) -> None:
        seq_no = int(data.get("seqNo") or 0)
        self.pages[seq_no] = list(data.get("reportData") or [])
        if not data.get("tbc"):
            self.last_seq = seq_no
        if self.last_seq is not None and all(n in self.pages for n in range(self.last_seq + 1)):
            self.done.set()

    def data(self) -> list[dict[str, Any]]:
        return [item for _, page in sorted(self.pages.items()) for item in page]


class ChargerSettings:
    def __init__(self, store: Store, clock: Clock, live: LiveState, operate: Operate) -> None:
        self.store = store
        self.clock = clock
        self.live = live
        self.operate = operate
        self.report_timeout_s = REPORT_TIMEOUT_S
        # The reports asked for and not yet whole, by charger and requestId.
        self._reports: dict[tuple[str, int], Report] = {}
        # Why each charger's last fetch fell short, and the keys it did not know (kept until the next fetch).
        self._problems: dict[str, str] = {}
        self._unknown: dict[str, tuple[str, ...]] = {}
        live.event_listeners.append(self._charger_event)
        # Chargers whose unit the console asked for after a refused profile (this run), and the asking.
        self._unit_asked: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # Told when a charger turns out to take amperes only (the power cap sends its limit again).
        self.rate_listeners: list[Callable[[str], None]] = []

    def load(self, session: Session) -> None:
        """At start: the charging-rate unit each charger's kept configuration says it takes."""
        rows = session.exec(
            select(ChargerSetting.charger_id, ChargerSetting.key, ChargerSetting.value).where(
                col(ChargerSetting.key).in_(RATE_UNIT_KEYS) | col(ChargerSetting.key).like("%.SupplyPhases")
            )
        ).all()
        found: dict[str, dict[str, str | None]] = {}
        for charger_id, key, value in rows:
            found.setdefault(charger_id, {})[key] = value
        for charger_id, values in found.items():
            self._learn_rate(charger_id, values)

    def _learn_rate(self, charger_id: str, values: dict[str, str | None]) -> None:
        """Take the unit (and supply phases) from a charger's configuration: amperes where it does not take watts."""
        record = self.live.record(charger_id)
        if record is None:
            return
        unit = next((values[key] for key in RATE_UNIT_KEYS if key in values), None)
        phases = next((value for key, value in sorted(values.items()) if key.endswith(".SupplyPhases")), None)
        rate = charging_rate(unit, phases, record.max_charging_power)
        if rate == WATTS:
            self.live.charging_rates.pop(charger_id, None)
        else:
            self.live.charging_rates[charger_id] = rate

    # -- learning the unit a charger takes its limits in -------------------------------------

    def profile_settled(self, action: Action) -> None:
        """The ledger's word on every action: a charging profile in watts refused by a charger whose unit is not
        known yet has the console read that unit (once per charger and run); amperes from then on where watts are not taken."""
        if action.state not in ("rejected", "failed") or action.reason not in (None, ops.CALL_ERROR):
            return
        if not _sends_watts(action.parameters) or action.charger_id in self._unit_asked:
            return
        self._unit_asked.add(action.charger_id)
        task = asyncio.create_task(self._read_unit(action.charger_id), name="read the charging rate unit")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_unit(self, charger_id: str) -> None:
        record = self.live.record(charger_id)
        if record is None:
            return
        key = RATE_UNIT_KEYS[0] if record.ocpp_version == OcppVersion.V16 else RATE_UNIT_KEYS[1]
        try:
            operation, payload = ops.get_configuration_request(record.ocpp_version, [key])
            result = await self.operate(charger_id, operation, payload, command="get_configuration")
        except ConsoleError as error:
            log.warning("reading %s of %s failed: %s", key, record.identity, error)
            return
        value = _answered_value(result.answer or {}, key) if result.state == "acknowledged" else None
        if value is None:
            return
        await self._changed(charger_id, key, value, None)
        self._learn_rate(charger_id, {key: value})
        if charger_id in self.live.charging_rates:
            for listener in self.rate_listeners:
                listener(charger_id)

    def _record(self, charger_id: str) -> Charger:
        record = self.live.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id!r}")
        return record

    # -- reads -------------------------------------------------------------------------------

    async def view(self, charger_id: str) -> ConfigurationView:
        record = self._record(charger_id)

        def read(session: Session) -> list[ChargerSetting]:
            return list(
                session.exec(select(ChargerSetting).where(ChargerSetting.charger_id == charger_id).order_by(col(ChargerSetting.key))).all()
            )

        rows = await self.store.run(read)
        return ConfigurationView(
            charger_id=charger_id,
            ocpp_version=record.ocpp_version,
            settings=tuple(setting_view(row) for row in rows),
            fetched_at=min((row.fetched_at for row in rows), default=None),
            unknown_keys=self._unknown.get(charger_id, ()),
            problem=self._problems.get(charger_id),
        )

    async def setting(self, charger_id: str, key: str) -> ChargerSetting | None:
        def read(session: Session) -> ChargerSetting | None:
            return session.exec(
                select(ChargerSetting).where(ChargerSetting.charger_id == charger_id, ChargerSetting.key == key)
            ).first()

        return await self.store.run(read)

    # -- fetching ----------------------------------------------------------------------------

    async def refresh(self, charger_id: str) -> ConfigurationView:
        """Ask the charger for its whole configuration and keep it; what fell short is the view's `problem`."""
        record = self._record(charger_id)
        if record.ocpp_version == OcppVersion.V16:
            result = await self.operate(charger_id, "GetConfiguration", {}, command="get_configuration")
            if result.state == "acknowledged" and result.answer is not None:
                self._unknown[charger_id] = tuple(str(key) for key in result.answer.get("unknownKey") or ())
                await self._replace(charger_id, key_settings(result.answer, self.clock.now()))
                self._problems.pop(charger_id, None)
            else:
                self._problems[charger_id] = _shortfall(result)
            return await self.view(charger_id)
        return await self._fetch_report(charger_id)

    async def _fetch_report(self, charger_id: str) -> ConfigurationView:
        request_id = secrets.randbelow(2**31 - 1) + 1
        report = Report(request_id)
        # Listening before asking: the first page may come right behind the answer.
        self._reports[(charger_id, request_id)] = report
        try:
            operation, payload = ops.base_report_request(request_id)
            result = await self.operate(charger_id, operation, payload, command="get_configuration")
            if result.state != "acknowledged":
                self._problems[charger_id] = _shortfall(result)
                return await self.view(charger_id)
            if result.status == "EmptyResultSet":
                report.done.set()
            try:
                await asyncio.wait_for(report.done.wait(), self.report_timeout_s)
            except TimeoutError:
                self._problems[charger_id] = (
                    f"the report was not whole after {self.report_timeout_s:g} s: "
                    f"{len(report.pages)} page(s) arrived; what came is kept"
                )
            else:
                self._problems.pop(charger_id, None)
            self._unknown.pop(charger_id, None)
            await self._replace(charger_id, report_settings(report.data(), self.clock.now()))
            return await self.view(charger_id)
        finally:
            self._reports.pop((charger_id, request_id), None)

    def _charger_event(self, charger_id: str, kind: str, data: dict[str, Any]) -> None:
        if kind != "NotifyReport":
            return
        report = self._reports.get((charger_id, int(data.get("requestId") or 0)))
        if report is not None:
            report.add(data)

    async def _replace(self, charger_id: str, settings: list[ChargerSetting]) -> None:
        self._learn_rate(charger_id, {setting.key: setting.value for setting in settings})

        def write(session: Session) -> None:
            session.exec(delete(ChargerSetting).where(col(ChargerSetting.charger_id) == charger_id))  # type: ignore[call-overload]
            for setting in settings:
                setting.charger_id = charger_id
                session.add(setting)
            session.commit()

        await self.store.run(write)

    # -- changing ----------------------------------------------------------------------------

    async def change(self, charger_id: str, key: str, value: str, confirmed: bool = False) -> OperationResult:
        """ChangeConfiguration (1.6) or SetVariables (2.0.1) of one key; the stored value follows when the charger takes it.

        A read-only key is refused before anything is sent; one that can strand the
        charger is refused unless `confirmed`, saying why (CONFIRMATION_REQUIRED).
        """
        record = self._record(charger_id)
        key = key.strip() if isinstance(key, str) else key
        if not isinstance(key, str) or not key:
            raise ValidationFailed({"key": "name the key to change"})
        if not isinstance(value, str):
            raise ValidationFailed({"value": "a configuration value is text"})
        is_16 = record.ocpp_version == OcppVersion.V16
        limit = VALUE_MAX_16 if is_16 else VALUE_MAX_201
        if len(value) > limit:
            raise ValidationFailed({"value": f"at most {limit} characters in {record.ocpp_version}"})
        if is_16 and len(key) > KEY_MAX_16:
            raise ValidationFailed({"key": f"at most {KEY_MAX_16} characters in OCPP 1.6"})
        stored = await self.setting(charger_id, key)
        if stored is not None and stored.readonly:
            raise ValidationFailed({"key": f"{key} is read-only on {record.identity}"})
        warning = stranding_warning(key)
        if warning and not confirmed:
            raise CommandRefused(
                CONFIRMATION_REQUIRED,
                f"changing {key} can strand {record.identity}: {warning}. Confirm to change it anyway.",
                field="confirm",
            )
        if is_16 or stored is None or stored.target is None:
            operation, payload = ops.set_configuration_request(record.ocpp_version, key, value)
        else:
            operation, payload = ops.set_variable_request(stored.target, value)
        result = await self.operate(charger_id, operation, payload, command="set_configuration")
        if result.state == "acknowledged":
            await self._changed(charger_id, key, value, stored)
        return result

    async def _changed(self, charger_id: str, key: str, value: str, stored: ChargerSetting | None) -> None:
        now = self.clock.now()
        kept = MASK if key.rsplit(".", 1)[-1].split("[", 1)[0] in SECRET_KEYS else value

        def write(session: Session) -> None:
            row = session.exec(
                select(ChargerSetting).where(ChargerSetting.charger_id == charger_id, ChargerSetting.key == key)
            ).first()
            if row is None:
                row = ChargerSetting(charger_id=charger_id, key=key, fetched_at=now)
            row.value = kept
            row.fetched_at = now
            session.add(row)
            session.commit()

        await self.store.run(write)


def _shortfall(result: OperationResult) -> str:
    if result.state == "rejected":
        return f"{result.operation} {result.status or 'rejected'} by {result.identity}"
    return f"{result.operation} failed: {result.detail or result.reason}"


def _sends_watts(request: dict[str, Any]) -> bool:
    """Whether a request carries a charging profile in watts (SetChargingProfile, or a remote start's)."""
    profile = request.get("csChargingProfiles") or request.get("chargingProfile") or {}
    schedules = profile.get("chargingSchedule") if isinstance(profile, dict) else None
    if isinstance(schedules, dict):
        schedules = [schedules]
    return any(isinstance(item, dict) and item.get("chargingRateUnit") == "W" for item in schedules or [])


def _answered_value(answer: dict[str, Any], key: str) -> str | None:
    """One key's value in a GetConfiguration or GetVariables answer."""
    for item in answer.get("configurationKey") or []:
        if isinstance(item, dict) and item.get("key") == key:
            return item.get("value")
    for item in answer.get("getVariableResult") or []:
        if isinstance(item, dict) and item.get("attributeStatus") == "Accepted":
            return item.get("attributeValue")
    return None
