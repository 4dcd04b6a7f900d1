"""The depot planner at work: each location's plan kept current and carried out through the action ledger.

Needs come from the operator (the charge form, the device API), from the EV
(OCPP 2.0.1 NotifyEVChargingNeeds) or from the token's default; a session with
none gets `DEFAULT_NEED_KWH` by the end of the horizon. A location plans when
its planner is on (`LocationPlan.enabled`); it is re-planned, debounced, when a
session arrives or leaves, a need or the location's cap, tariff or base load
changes, a session draws less than planned, and at least once a slot. Each
session's share is sent as a TxProfile whose schedule periods are the plan's
slots (W), through `operate`, so each profile is an Action with its outcome;
lower first slots go out before higher ones. A charger that refuses its profile
is planned as drawing its maximum (uncontrolled) and shown as refused. While a
location plans, the power cap leaves its chargers at their max: the plan keeps
the cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlmodel import Session, select

from console.core import operations as ops
from console.core.clock import Clock
from console.core.errors import CommandRefused, ConsoleError, NotFound, ValidationFailed
from console.core.events import ChargerRemoved, ChargerUpdated, EventBus, Notice, PlanChanged
from console.core.live import LiveState
from console.core.models import ChargingNeed, IdToken, Location, LocationPlan, Transaction
from console.core.planshapes import SLOT_MINUTES, SLOTS, Plan, PlanInputError, SessionNeed, check_series, slot_prices, slot_start
from console.core.store import Store
from console.core.timespec import parse_time

log = logging.getLogger(__name__)

PLAN_PROFILE_ID = 3001
PLAN_STACK_LEVEL = 2
DEFAULT_NEED_KWH = 60.0
# A change of a period smaller than this (W) is not worth a new profile.
TOLERANCE_W = 100.0
# A session drawing this much less than planned (kW), for a slot, is planned at what it draws.
SHORT_DRAW_KW = 1.0
# What a `charge` command may carry for the planner.
NEED_PARAMETERS = ("departBy", "energyKWh", "targetSoC", "batteryKWh")

Operate = Callable[..., Awaitable[Any]]


@dataclass
class _Sent:
    start: datetime
    limits_w: list[float]

    def limit_at(self, at: datetime) -> float | None:
        index = int((at - self.start).total_seconds() // (SLOT_MINUTES * 60))
        return self.limits_w[index] if 0 <= index < len(self.limits_w) else None


def parse_time_of_day(value: str) -> time:
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


class DepotPlanner:
    def __init__(self, store: Store, live: LiveState, bus: EventBus, clock: Clock, operate: Operate,
                 is_connected: Callable[[str], bool], debounce: float = 0.3) -> None:
        self.store = store
        self.live = live
        self.bus = bus
        self.clock = clock
        self.operate = operate
        self.is_connected = is_connected
        self.debounce = debounce
        self.settings: dict[str, LocationPlan] = {}
        self.needs: dict[tuple[str, int], ChargingNeed] = {}
        self.plans: dict[str, Plan] = {}
        # What each plan's sessions show beside it (need, source, delivered, refused), by location.
        self._shown: dict[str, dict[str, dict[str, Any]]] = {}
        self._orgs: dict[str, str] = {}
        # Each location's last solve (its basis), for the next re-plan to start from.
        self._warm: dict[str, dict[str, Any]] = {}
        # The token defaults of open sessions, by transaction id: (kWh, departure, priority).
        self._token_needs: dict[int, tuple[float | None, datetime | None, int]] = {}
        self._sent: dict[str, _Sent] = {}
        self._refused: dict[str, str] = {}
        self._short: dict[str, float] = {}
        self._items: dict[str, tuple[Any, ...]] = {}
        self._dirty: set[str] = set()
        self._kick = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------

    def load(self, session: Session) -> None:
        self.settings = {row.location_id: row for row in session.exec(select(LocationPlan)).all()}
        self.needs = {(row.charger_id, row.connector_id): row for row in session.exec(select(ChargingNeed)).all()}

    async def start(self) -> None:
        await self.store.run(self.load)
        subscription = self.bus.subscribe(kinds=(ChargerUpdated, ChargerRemoved))
        self._dirty.update(location_id for location_id, row in self.settings.items() if row.enabled)
        self._kick.set()
        self._tasks = [
            asyncio.create_task(self._watch(subscription), name="planner watcher"),
            asyncio.create_task(self._plan_loop(), name="planner"),
            asyncio.create_task(self._tick(), name="planner slot tick"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def planned(self, location_id: str | None) -> bool:
        """The planner keeps this location's cap (the power cap steps aside)."""
        row = self.settings.get(location_id or "")
        return row is not None and row.enabled

    # -- what changes a plan -----------------------------------------------------------

    def mark(self, location_id: str | None) -> None:
        if location_id is not None and self.planned(location_id):
            self._dirty.add(location_id)
            self._kick.set()

    def _item(self, charger: Any) -> tuple[Any, ...]:
        sessions = tuple(
            (c.connector_id, self.live.open_transaction(charger.id, c.connector_id)) for c in charger.connectors
        )
        return (charger.location_id, charger.is_connected, sessions, charger.max_charging_power)

    async def _watch(self, subscription: Any) -> None:
        while True:
            for event in await subscription.next_batch():
                if isinstance(event, ChargerUpdated):
                    charger = event.charger
                    item = self._item(charger)
                    before = self._items.get(charger.id)
                    if before == item:
                        continue
                    self._items[charger.id] = item
                    await self._sessions_changed(charger.id, before[2] if before else (), item[2])
                    self.mark(item[0])
                    if before is not None and before[0] != item[0]:
                        self.mark(before[0])
                elif isinstance(event, ChargerRemoved):
                    before = self._items.pop(event.charger_id, None)
                    if before is not None:
                        self.mark(before[0])

    async def _sessions_changed(self, charger_id: str, before: Any, after: Any) -> None:
        """A session arrived (bind the connector's waiting need, read its token's default) or left (forget it)."""
        old, new = dict(before), dict(after)
        for connector_id, transaction_id in old.items():
            if transaction_id is not None and new.get(connector_id) != transaction_id:
                key = f"{charger_id}/{connector_id}"
                for table in (self._sent, self._refused, self._short):
                    table.pop(key, None)
                self._token_needs.pop(transaction_id, None)
                need = self.needs.get((charger_id, connector_id))
                if need is not None and need.transaction_id == transaction_id:
                    await self._delete_need(charger_id, connector_id)
        for connector_id, transaction_id in new.items():
            if transaction_id is not None and old.get(connector_id) != transaction_id:
                need = self.needs.get((charger_id, connector_id))
                if need is not None and need.transaction_id is None:
                    need.transaction_id = transaction_id
                    await self._write_need(need)
                with contextlib.suppress(Exception):  # a token default is a nicety: the session is planned anyway
                    self._token_needs[transaction_id] = await self.store.run(lambda s, t=transaction_id: self._token_need(s, charger_id, t))

    def _token_need(self, session: Session, charger_id: str, transaction_id: int) -> tuple[float | None, datetime | None, int]:
        row = session.get(Transaction, transaction_id)
        record = self.live.record(charger_id)
        if row is None or record is None:
            return None, None, 0
        location = session.get(Location, record.location_id) if record.location_id else None
        org_id = location.organization_id if location is not None else None
        token = session.exec(select(IdToken).where(IdToken.organization_id == org_id, IdToken.token == row.id_tag)).first()
        if token is None:
            return None, None, 0
        departure = None
        if token.depart_at:
            at = parse_time_of_day(token.depart_at)
            now = self.clock.now()
            departure = datetime.combine(now.date(), at, tzinfo=now.tzinfo)
            if departure <= now:
                departure += timedelta(days=1)
        return token.need_kwh, departure, token.priority

    def _org_of(self, location_id: str | None) -> str | None:
        return self._orgs.get(location_id or "")

    async def _org(self, location_id: str) -> str:
        """The organization a location belongs to (read once from the store)."""
        if location_id not in self._orgs:
            row = await self.store.run(lambda session: session.get(Location, location_id))
            if row is not None:
                self._orgs[location_id] = row.organization_id
        return self._orgs.get(location_id, "")

    async def _tick(self) -> None:
        """Once a third of a slot: re-plan (time moved on) and catch sessions drawing less than planned."""
        while True:
            await self.clock.sleep(SLOT_MINUTES * 20)
            for location_id, current in list(self.plans.items()):
                self._check_draws(current)
                self.mark(location_id)

    def _check_draws(self, current: Plan) -> None:
        index = int((self.clock.now() - current.start).total_seconds() // (current.slot_minutes * 60))
        for item in current.sessions:
            if not 0 <= index < len(item.power_kw) or item.key in self._refused:
                continue
            charger_id, connector_id = item.key.rsplit("/", 1)
            with contextlib.suppress(KeyError):
                view = self.live.view(charger_id)
                drawn = self.live._chargers[charger_id].power_w.get(int(connector_id), 0.0) / 1000  # noqa: SLF001
                if view.is_connected and item.power_kw[index] - drawn > SHORT_DRAW_KW and drawn > 0:
                    self._short[item.key] = drawn

    async def _plan_loop(self) -> None:
        while True:
            await self._kick.wait()
            await asyncio.sleep(self.debounce)
            self._kick.clear()
            for location_id in list(self._dirty):
                self._dirty.discard(location_id)
                try:
                    await self.replan(location_id)
                except Exception:  # a failed round must not stop later ones
                    log.exception("planning location %s failed", location_id)

    # -- the plan ----------------------------------------------------------------------

    def session_needs(self, location_id: str) -> tuple[list[SessionNeed], dict[str, dict[str, Any]]]:
        """The needs of the location's open sessions, and what each shows beside its plan."""
        now = self.clock.now()
        horizon = now + timedelta(minutes=SLOT_MINUTES * SLOTS)
        needs, shown = [], {}
        for charger_id in self.live.ids():
            record = self.live.record(charger_id)
            if record is None or record.location_id != location_id or not self.is_connected(record.identity):
                continue
            view = self.live.view(charger_id)
            for connector in view.connectors:
                transaction_id = self.live.open_transaction(charger_id, connector.connector_id)
                if transaction_id is None:
                    continue
                key = f"{charger_id}/{connector.connector_id}"
                delivered = (self.live.session_energy_wh(charger_id, connector.connector_id) or 0.0) / 1000
                row = self.needs.get((charger_id, connector.connector_id))
                if row is not None and row.transaction_id not in (None, transaction_id):
                    row = None
                token_kwh, token_departure, priority = self._token_needs.get(transaction_id, (None, None, 0))
                max_kw = record.max_charging_power / 1000
                if row is not None:
                    energy, departure, source = self._row_energy(row, connector.soc_percent, delivered), row.depart_by, row.source
                    if row.max_kw:
                        max_kw = min(max_kw, row.max_kw)
                elif token_kwh is not None or token_departure is not None:
                    energy, departure, source = token_kwh or DEFAULT_NEED_KWH, token_departure or horizon, "token"
                else:
                    energy, departure, source = DEFAULT_NEED_KWH, horizon, "default"
                if key in self._short:
                    max_kw = min(max_kw, self._short[key])
                needs.append(
                    SessionNeed(
                        key=key,
                        max_kw=max_kw,
                        energy_kwh=max(0.0, energy - delivered),
                        departure=departure,
                        priority=priority,
                        pinned=bool(row and row.pinned),
                        uncontrolled=key in self._refused,
                    )
                )
                shown[key] = {
                    "chargerId": charger_id,
                    "identity": record.identity,
                    "connectorId": connector.connector_id,
                    "transactionId": transaction_id,
                    "source": source,
                    "deliveredKWh": round(delivered, 3),
                    "targetKWh": round(energy, 3),
                    "pinned": bool(row and row.pinned),
                    "refused": self._refused.get(key),
                    "drawingKw": round(self.live._chargers[charger_id].power_w.get(connector.connector_id, 0.0) / 1000, 3),  # noqa: SLF001
                }
        return needs, shown

    @staticmethod
    def _row_energy(row: ChargingNeed, soc: float | None, delivered: float) -> float:
        """The session's total energy (kWh) the need asks for."""
        if row.energy_kwh is not None:
            return row.energy_kwh
        if row.target_soc is not None and row.battery_kwh:
            if soc is not None:
                return delivered + max(0.0, row.target_soc - soc) / 100 * row.battery_kwh
            return row.target_soc / 100 * row.battery_kwh
        return DEFAULT_NEED_KWH

    def compute(self, location_id: str) -> tuple[Plan, dict[str, dict[str, Any]]]:
        from console.core.planner import plan  # numpy and HiGHS load with the first plan, not with the service

        location = next((item for item in self.live.locations() if item.id == location_id), None)
        if location is None:
            raise NotFound(f"no location {location_id}")
        settings = self.settings.get(location_id)
        needs, shown = self.session_needs(location_id)
        now = self.clock.now()
        start = slot_start(now)
        base = settings.base_load_kw if settings is not None else None
        return (
            plan(
                needs,
                start,
                now=now,
                cap_kw=location.power_cap_kw,
                base_load_kw=slot_prices(base, start),
                prices=slot_prices(settings.tariff if settings is not None else None, start),
                warm=self._warm.setdefault(location_id, {}),
            ),
            shown,
        )

    async def replan(self, location_id: str) -> Plan | None:
        if not self.planned(location_id):
            self.plans.pop(location_id, None)
            return None
        current, shown = await asyncio.to_thread(self.compute, location_id)
        self.plans[location_id] = current
        self._shown[location_id] = shown
        await self._carry_out(location_id, current, shown)
        organization_id = await self._org(location_id)
        self.bus.publish(PlanChanged(location_id, organization_id, self.wire(location_id)))
        if current.misses:
            self.bus.publish(
                Notice(f"plan for {location_id}: {len(current.misses)} session(s) will miss their need", "warning")
            )
        return current

    def wire(self, location_id: str) -> dict[str, Any]:
        """The plan as the API and the UI show it: each session's plan beside its need and state."""
        current = self.plans.get(location_id)
        settings = self.settings.get(location_id)
        base = {
            "locationId": location_id,
            "enabled": bool(settings and settings.enabled),
            "tariff": settings.tariff if settings else None,
            "baseLoadKw": settings.base_load_kw if settings else None,
        }
        if current is None:
            return {**base, "plan": None}
        data = current.to_dict()
        shown = self._shown.get(location_id, {})
        for item in data["sessions"]:
            item.update(shown.get(item["key"], {}))
            item["expectedKWh"] = round(item.get("deliveredKWh", 0.0) + item["plannedKWh"], 3)
        return {**base, "plan": data}

    # -- carrying it out ---------------------------------------------------------------

    async def _carry_out(self, location_id: str, current: Plan, shown: dict[str, dict[str, Any]]) -> None:
        changes = []
        for item in current.sessions:
            if item.key in self._refused:
                continue
            limits = [round(kw * 1000, 1) for kw in item.power_kw]
            before = self._sent.get(item.key)
            if before is not None and all(
                (old := before.limit_at(current.slot_start(t))) is not None and abs(old - limit) <= TOLERANCE_W
                for t, limit in enumerate(limits)
                if current.slot_start(t) < before.start + timedelta(minutes=SLOT_MINUTES * len(before.limits_w))
            ):
                continue
            now_before = before.limit_at(current.start) if before is not None else None
            changes.append((limits[0] - (now_before if now_before is not None else 1e12), item.key, limits))
        decreases = [change for change in changes if change[0] < 0]
        increases = [change for change in changes if change[0] >= 0]
        refused = False
        for group in (decreases, increases):
            results = await asyncio.gather(*(self._send(current.start, key, limits, shown[key]) for _, key, limits in group))
            refused = refused or not all(results)
        if refused:
            self.mark(location_id)

    async def _send(self, start: datetime, key: str, limits_w: list[float], shown: dict[str, Any]) -> bool:
        """One session's TxProfile; False when the charger refused it (it is then planned around)."""
        charger_id, connector_id = shown["chargerId"], shown["connectorId"]
        record = self.live.record(charger_id)
        if record is None:
            return True
        version = record.ocpp_version
        transaction: int | str | None = shown["transactionId"]
        if not version.startswith("OCPP1"):
            transaction = self.live.transaction_reference(charger_id, connector_id)
        operation, payload = schedule_request(version, connector_id, transaction, start, limits_w)
        try:
            result = await self.operate(charger_id, operation, payload, command="plan")
        except ConsoleError as error:
            self._refused[key] = str(error)
            return False
        state = getattr(result, "state", None)
        if state == "acknowledged":
            self._sent[key] = _Sent(start, limits_w)
            return True
        if state == "rejected" or getattr(result, "reason", None) in (ops.CALL_ERROR, ops.INVALID_REQUEST):
            self._refused[key] = getattr(result, "detail", None) or "refused"
            return False
        return True  # offline or timed out: it is not drawing under our control, nor refusing; the next plan tries again

    # -- what the operator sets ----------------------------------------------------------

    async def set_settings(
        self, location_id: str, *, enabled: bool | None = None, tariff: Any = ..., base_load_kw: Any = ...
    ) -> dict[str, Any]:
        if not any(item.id == location_id for item in self.live.locations()):
            raise NotFound(f"no location {location_id}")
        row = self.settings.get(location_id)
        row = LocationPlan(location_id=location_id, updated_at=self.clock.now()) if row is None else LocationPlan(**row.model_dump())
        try:
            if tariff is not ...:
                row.tariff = None if tariff is None else list(check_series("tariff", tariff, SLOTS))
            if base_load_kw is not ...:
                row.base_load_kw = None if base_load_kw is None else list(check_series("baseLoadKw", base_load_kw, SLOTS))
        except PlanInputError as error:
            raise ValidationFailed({error.field: error.message}, "plan settings") from error
        if enabled is not None:
            row.enabled = bool(enabled)
        row.updated_at = self.clock.now()
        snapshot = LocationPlan(**row.model_dump())

        def write(session: Session) -> None:
            session.merge(snapshot)
            session.commit()

        await self.store.run(write)
        self.settings[location_id] = row
        if row.enabled:
            self.mark(location_id)
        else:
            await self._release(location_id)
        return self.wire(location_id)

    async def _release(self, location_id: str) -> None:
        """The planner was switched off: its profiles are cleared, equal shares take over."""
        self.plans.pop(location_id, None)
        for key in [key for key in self._sent if self._key_location(key) == location_id]:
            charger_id = key.rsplit("/", 1)[0]
            record = self.live.record(charger_id)
            self._sent.pop(key, None)
            if record is None:
                continue
            payload = {"id": PLAN_PROFILE_ID} if record.ocpp_version.startswith("OCPP1") else {"chargingProfileId": PLAN_PROFILE_ID}
            with contextlib.suppress(ConsoleError):
                await self.operate(charger_id, "ClearChargingProfile", payload, command="plan")
        self.bus.publish(PlanChanged(location_id, await self._org(location_id), self.wire(location_id)))

    def _key_location(self, key: str) -> str | None:
        record = self.live.record(key.rsplit("/", 1)[0])
        return record.location_id if record is not None else None

    def check_need(
        self,
        charger_id: str,
        depart_by: Any,
        energy_kwh: Any = None,
        target_soc: Any = None,
        battery_kwh: Any = None,
        *,
        prefix: str = "",
    ) -> tuple[datetime, float | None, float | None, float | None]:
        """A need as given, checked: each problem under its field (`prefix` + departBy, energyKWh, targetSoC, batteryKWh)."""
        problems: dict[str, str] = {}
        record = self.live.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id}")
        now = self.clock.now()
        departure = None
        try:
            departure = parse_time(depart_by, now) if isinstance(depart_by, (str, datetime)) else None
        except ValueError as error:
            problems[prefix + "departBy"] = str(error)
        if departure is None:
            problems.setdefault(prefix + "departBy", "must be a time: ISO 8601, or relative like 8h")
        elif departure <= now:
            problems[prefix + "departBy"] = "is in the past"
        numbers = {}
        for name, value, top in (("energyKWh", energy_kwh, None), ("targetSoC", target_soc, 100.0), ("batteryKWh", battery_kwh, None)):
            if value is None:
                numbers[name] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or (top is not None and value > top):
                problems[prefix + name] = "must be a number above 0" + (f" and at most {top:g}" if top else "")
            numbers[name] = float(value)
        if numbers["energyKWh"] is None and numbers["targetSoC"] is None:
            problems.setdefault(prefix + "energyKWh", "give energyKWh, or targetSoC with batteryKWh")
        if numbers["targetSoC"] is not None and numbers["batteryKWh"] is None:
            problems.setdefault(prefix + "batteryKWh", "targetSoC needs the battery's capacity")
        energy = numbers["energyKWh"]
        if energy is not None and numbers["batteryKWh"] is not None and energy > numbers["batteryKWh"]:
            problems.setdefault(prefix + "energyKWh", f"is above the battery's {numbers['batteryKWh']:g} kWh")
        if energy is not None and departure is not None and departure > now:
            most = record.max_charging_power / 1000 * (departure - now).total_seconds() / 3600
            if energy > most:
                problems.setdefault(prefix + "energyKWh", f"is above what the charger can deliver before departure ({most:.1f} kWh)")
        if problems:
            raise ValidationFailed(problems, "charging need")
        assert departure is not None
        return departure, energy, numbers["targetSoC"], numbers["batteryKWh"]

    async def set_need(
        self,
        charger_id: str,
        connector_id: int,
        depart_by: Any,
        energy_kwh: Any = None,
        target_soc: Any = None,
        battery_kwh: Any = None,
        *,
        source: str = "operator",
        max_kw: float | None = None,
        pinned: bool | None = None,
        prefix: str = "",
    ) -> ChargingNeed:
        departure, energy, soc, battery = self.check_need(charger_id, depart_by, energy_kwh, target_soc, battery_kwh, prefix=prefix)
        record = self.live.record(charger_id)
        assert record is not None
        if not 1 <= connector_id <= record.number_of_connectors:
            raise ValidationFailed({prefix + "connectorId": f"must be a connector from 1 to {record.number_of_connectors}"}, "charging need")
        before = self.needs.get((charger_id, connector_id))
        need = ChargingNeed(
            charger_id=charger_id,
            connector_id=connector_id,
            transaction_id=self.live.open_transaction(charger_id, connector_id),
            depart_by=departure,
            energy_kwh=energy,
            target_soc=soc,
            battery_kwh=battery,
            max_kw=max_kw if max_kw is not None else (before.max_kw if before else None),
            source=source,
            pinned=bool(pinned) if pinned is not None else bool(before and before.pinned),
            updated_at=self.clock.now(),
        )
        await self._write_need(need)
        self.needs[(charger_id, connector_id)] = need
        self._changed(charger_id)
        return need

    async def pin(self, charger_id: str, connector_id: int, pinned: bool) -> None:
        """Charge the session at full power now (pinned), or back to the plan."""
        transaction_id = self.live.open_transaction(charger_id, connector_id)
        if transaction_id is None:
            raise ValidationFailed({"connectorId": "has no session to pin"}, "pin")
        need = self.needs.get((charger_id, connector_id))
        if need is None or need.transaction_id not in (None, transaction_id):
            now = self.clock.now()
            need = ChargingNeed(
                charger_id=charger_id, connector_id=connector_id, transaction_id=transaction_id,
                depart_by=now + timedelta(minutes=SLOT_MINUTES * SLOTS), energy_kwh=DEFAULT_NEED_KWH, source="default",
                updated_at=now,
            )
        else:
            need = ChargingNeed(**need.model_dump())
        need.pinned = pinned
        need.updated_at = self.clock.now()
        await self._write_need(need)
        self.needs[(charger_id, connector_id)] = need
        self._changed(charger_id)

    def _changed(self, charger_id: str) -> None:
        record = self.live.record(charger_id)
        if record is not None:
            self.mark(record.location_id)

    async def ev_needs(self, charger_id: str, evse_id: int, needs: dict[str, Any]) -> str:
        """NotifyEVChargingNeeds: the EV's departure, energy and maximum, kept as the session's need.

        Answers Accepted when a plan (a profile) follows, Rejected when it cannot be
        taken or the location does not plan (no smart charging there).
        """
        departure = _as_time(needs.get("departureTime"))
        ac, dc = needs.get("acChargingParameters") or {}, needs.get("dcChargingParameters") or {}
        record = self.live.record(charger_id)
        if record is None or departure is None or departure <= self.clock.now():
            return "Rejected"
        energy_wh = ac.get("energyAmount", dc.get("energyAmount"))
        max_w = dc.get("evMaxPower")
        if max_w is None and ac.get("evMaxCurrent") is not None:
            max_w = ac["evMaxCurrent"] * 230 * 3
        capacity = dc.get("evEnergyCapacity")
        energy_kwh = energy_wh / 1000 if energy_wh else None
        target = dc.get("fullSoC") if energy_kwh is None and capacity else None
        if energy_kwh is None and target is None:
            return "Rejected"
        max_kw = max_w / 1000 if max_w else None
        battery = capacity / 1000 if capacity else None
        if energy_kwh is not None:
            # What cannot be delivered before departure is planned as far as it goes, and shown as a miss.
            most = record.max_charging_power / 1000 * (departure - self.clock.now()).total_seconds() / 3600
            energy_kwh = round(min(energy_kwh, most * 0.999, battery or energy_kwh), 3)
        try:
            await self.set_need(charger_id, evse_id, departure, energy_kwh, target, battery, source="ev", max_kw=max_kw)
        except ValidationFailed as error:
            log.info("EV charging needs from %s not taken: %s", charger_id, error)
            return "Rejected"
        return "Accepted" if self.planned(record.location_id) else "Rejected"

    async def set_token_need(self, org_id: str, token_id: str, need_kwh: Any, depart_at: Any, priority: Any) -> dict[str, Any]:
        problems = {}
        if need_kwh is not None and (isinstance(need_kwh, bool) or not isinstance(need_kwh, (int, float)) or not need_kwh > 0):
            problems["needKWh"] = "must be a number above 0"
        if depart_at is not None:
            try:
                parse_time_of_day(str(depart_at))
            except ValueError:
                problems["departAt"] = "must be HH:MM (UTC)"
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
            problems["priority"] = "must be a whole number"
        if problems:
            raise ValidationFailed(problems, "token need")

        def write(session: Session) -> dict[str, Any]:
            row = session.get(IdToken, token_id)
            if row is None or row.organization_id != org_id:
                raise NotFound(f"no token {token_id}")
            row.need_kwh = None if need_kwh is None else float(need_kwh)
            row.depart_at = depart_at
            row.priority = int(priority or 0)
            session.add(row)
            session.commit()
            return {"id": row.id, "token": row.token, "needKWh": row.need_kwh, "departAt": row.depart_at, "priority": row.priority}

        return await self.store.run(write)

    async def _write_need(self, need: ChargingNeed) -> None:
        snapshot = ChargingNeed(**need.model_dump())

        def write(session: Session) -> None:
            session.merge(snapshot)
            session.commit()

        await self.store.run(write)

    async def _delete_need(self, charger_id: str, connector_id: int) -> None:
        self.needs.pop((charger_id, connector_id), None)

        def write(session: Session) -> None:
            row = session.get(ChargingNeed, (charger_id, connector_id))
            if row is not None:
                session.delete(row)
                session.commit()

        await self.store.run(write)

    def command_need(self, charger_id: str, command: str, parameters: dict[str, Any] | None) -> dict[str, Any] | None:
        """The need a `charge` command carries (departBy, energyKWh or targetSoC with batteryKWh), checked before it is sent."""
        parameters = parameters or {}
        if command != "charge" or not any(name in parameters for name in NEED_PARAMETERS):
            return None
        given = {
            "depart_by": parameters.get("departBy"),
            "energy_kwh": parameters.get("energyKWh"),
            "target_soc": parameters.get("targetSoC"),
            "battery_kwh": parameters.get("batteryKWh"),
        }
        try:
            self.check_need(charger_id, **given, prefix="parameters.")
        except ValidationFailed as error:
            field, message = next(iter(error.problems.items()))
            raise CommandRefused("INVALID_PARAMETERS", f"{field.removeprefix('parameters.')} {message}", field=field) from error
        return {"charger_id": charger_id, "connector_id": int(parameters.get("connectorId") or 1), **given}

    def need_of(self, charger_id: str, connector_id: int) -> ChargingNeed | None:
        return self.needs.get((charger_id, connector_id))


def _as_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def schedule_request(
    ocpp_version: str, connector_id: int, transaction: int | str | None, start: datetime, limits_w: list[float]
) -> tuple[str, dict[str, Any]]:
    """SetChargingProfile: a TxProfile from `start` whose periods are the plan's slots (equal neighbours merged)."""
    profile = ops.charging_profile(
        ocpp_version, PLAN_PROFILE_ID, PLAN_STACK_LEVEL, ops.TX_PROFILE, limits_w[0] if limits_w else 0.0,
        start=start.isoformat().replace("+00:00", "Z"), transaction=transaction,
    )
    periods = []
    for index, limit in enumerate(limits_w):
        if not periods or periods[-1]["limit"] != limit:
            periods.append({"startPeriod": index * SLOT_MINUTES * 60, "limit": limit})
    schedule = profile["chargingSchedule"]
    target = schedule if isinstance(schedule, dict) else schedule[0]
    target["chargingSchedulePeriod"] = periods or [{"startPeriod": 0, "limit": 0.0}]
    target["duration"] = len(limits_w) * SLOT_MINUTES * 60
    return ops.set_profile_request(ocpp_version, connector_id, profile)

