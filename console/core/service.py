"""The console service: the single facade every front end uses (the `Backend`)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from console.core.clock import Clock, SystemClock
from console.core.errors import NotFound, Unavailable
from console.core.events import ActionChanged, EventBus, Notice, Subscription
from console.core.fleet import DEFAULT_ORG, FleetService
from console.core.live import LiveState, log_view, summarize_action
from console.core.models import Action, Charger, LogEntry
from console.core.ports import ChargerGateway, RuntimeControl
from console.core.queries import Queries
from console.core.registration import Registrations
from console.core.store import Store
from console.core.views import (
    ActionView,
    BackendInfo,
    ChargerView,
    LocationView,
    LogView,
    PowerSample,
    TransactionView,
    UnknownChargerView,
)
from console.core.writer import BatchWriter

log = logging.getLogger(__name__)


class ConsoleService:
    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        bus: EventBus | None = None,
        ocpp_url: str = "",
        read_only: bool = False,
        flush_interval: float = 0.5,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.bus = bus or EventBus()
        self.writer = BatchWriter(store, interval=flush_interval)
        self.fleet = FleetService(store, self.clock)
        self.live = LiveState(store, self.bus, self.clock, self.writer)
        self.registrations = Registrations(store, self.clock, self.bus, self.fleet, self.live)
        self.queries = Queries(store, self.live)
        self.runtime: RuntimeControl | None = None
        self.gateway: ChargerGateway | None = None
        self._info = BackendInfo(
            mode="embedded", ocpp_url=ocpp_url, store=store.display_url, read_only=read_only
        )

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        await self.store.run(self._load)
        self.writer.start()

    def _load(self, session: Session) -> None:
        self.fleet.ensure_org(session, DEFAULT_ORG)
        self.live.load(session)

    async def close(self) -> None:
        await self.writer.stop()

    def attach(self, *, runtime: RuntimeControl | None = None, gateway: ChargerGateway | None = None) -> None:
        if runtime is not None:
            self.runtime = runtime
        if gateway is not None:
            self.gateway = gateway

    def set_ocpp_url(self, url: str) -> None:
        self._info = BackendInfo(
            mode=self._info.mode, ocpp_url=url, store=self._info.store, read_only=self._info.read_only
        )

    @property
    def info(self) -> BackendInfo:
        return self._info

    async def import_if_empty(self, path: Path) -> int:
        """First run: an empty store gets the sample fleet. Returns chargers imported."""
        data = json.loads(path.read_text())

        def work(session: Session) -> int:
            if self.fleet.count(session):
                return 0
            _, chargers = self.fleet.import_fleet(session, data)
            self.live.load(session)
            return chargers

        imported = await self.store.run(work)
        if imported:
            self.bus.publish(Notice(f"First run: imported {imported} chargers from {path.name}"))
        return imported

    # -- reads -----------------------------------------------------------------------

    async def list_chargers(self) -> list[ChargerView]:
        return sorted(self.live.views(), key=lambda view: view.identity)

    async def get_charger(self, charger_id: str) -> ChargerView:
        if self.live.record(charger_id) is None:
            raise NotFound(f"no charger {charger_id!r}")
        return self.live.view(charger_id)

    async def list_locations(self) -> list[LocationView]:
        return self.live.locations()

    async def charger_logs(self, charger_id: str, limit: int = 200) -> list[LogView]:
        await self.writer.flush()

        def read(session: Session) -> list[LogView]:
            rows = session.exec(
                select(LogEntry)
                .where(LogEntry.charger_id == charger_id)
                .order_by(col(LogEntry.id).desc())
                .limit(limit)
            ).all()
            return [log_view(row) for row in reversed(rows)]

        return await self.store.run(read)

    async def list_actions(self, charger_id: str | None = None, limit: int = 200) -> list[ActionView]:
        """Newest first: one charger's history, or the fleet's when no charger is given."""
        await self.writer.flush()
        return await self.queries.actions(charger_id, limit)

    async def list_transactions(self, charger_id: str, limit: int = 100) -> list[TransactionView]:
        self._charger(charger_id)
        return await self.queries.transactions(charger_id, limit)

    async def fleet_logs(self, limit: int = 500) -> list[LogView]:
        """The whole fleet's latest log lines, oldest first."""
        await self.writer.flush()
        return await self.queries.logs(limit)

    async def power_history(self, charger_id: str, minutes: int = 15) -> list[PowerSample]:
        self._charger(charger_id)
        await self.writer.flush()
        return await self.queries.power_history(charger_id, self.clock.now() - timedelta(minutes=minutes))

    def subscribe(self) -> Subscription:
        return self.bus.subscribe()

    # -- fleet writes ----------------------------------------------------------------

    def _writable(self) -> None:
        if self._info.read_only:
            raise Unavailable("the console is read-only")

    async def check_charger(self, fields: dict[str, Any], charger_id: str | None = None) -> dict[str, str]:
        def work(session: Session) -> dict[str, str]:
            return self.fleet.check(session, fields, charger_id)[1]

        return await self.store.run(work)

    async def create_charger(self, fields: dict[str, Any]) -> ChargerView:
        self._writable()
        charger = await self.store.run(lambda session: self.fleet.create(session, fields))
        self.live.record_saved(charger)
        self.live.log(charger.identity, "event", "charger created", charger_id=charger.id)
        return self.live.view(charger.id)

    async def update_charger(self, charger_id: str, fields: dict[str, Any]) -> ChargerView:
        self._writable()
        charger = await self.store.run(lambda session: self.fleet.update(session, charger_id, fields))
        self.live.record_saved(charger)
        self.live.log(charger.identity, "event", "charger updated", charger_id=charger.id)
        return self.live.view(charger.id)

    async def delete_charger(self, charger_id: str) -> None:
        self._writable()
        record = self.live.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id!r}")
        if record.simulated and self.runtime is not None:
            await self.runtime.stop(charger_id)
        await self.writer.flush()
        charger = await self.store.run(lambda session: self.fleet.delete(session, charger_id))
        self.live.record_removed(charger)

    # -- registration ----------------------------------------------------------------

    async def list_unknown(self) -> list[UnknownChargerView]:
        return await self.registrations.list_unknown()

    async def accept_charger(self, charger_id: str) -> ChargerView:
        self._writable()
        return await self.registrations.decide(charger_id, "accepted")

    async def reject_charger(self, charger_id: str) -> ChargerView:
        self._writable()
        return await self.registrations.decide(charger_id, "rejected")

    async def accept_unknown(self, identity: str, ocpp_version: str = "OCPP1.6") -> ChargerView:
        self._writable()
        view = await self.registrations.decide_unknown(identity, "accepted", ocpp_version)
        assert view is not None
        return view

    async def reject_unknown(self, identity: str) -> None:
        self._writable()
        await self.registrations.decide_unknown(identity, "rejected")

    # -- runtime ---------------------------------------------------------------------

    def _charger(self, charger_id: str) -> Charger:
        record = self.live.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id!r}")
        return record

    async def start_charger(self, charger_id: str) -> str:
        return await self._runtime_command(charger_id, "start")

    async def stop_charger(self, charger_id: str) -> str:
        return await self._runtime_command(charger_id, "stop")

    async def restart_charger(self, charger_id: str) -> str:
        record = self._charger(charger_id)
        if record.simulated:
            return await self._runtime_command(charger_id, "restart")
        # A real charger has no runtime of ours: restart means an OCPP Reset.
        return await self.ocpp_call(charger_id, "Reset", {"type": "Soft"}, command="restart")

    async def _runtime_command(self, charger_id: str, command: str) -> str:
        self._writable()
        record = self._charger(charger_id)
        if not record.simulated:
            raise Unavailable(f"{record.identity} is a real charger: there is no runtime to {command}")
        if self.runtime is None:
            raise Unavailable("simulated chargers are not running in this process")
        action = await self._new_action(charger_id, command, {})
        try:
            outcome = await getattr(self.runtime, command)(charger_id)
        except Exception as error:
            await self._finish_action(action, "failed", str(error))
            raise
        await self._finish_action(action, "completed", outcome)
        return outcome

    async def ocpp_call(
        self, charger_id: str, operation: str, payload: dict[str, Any], command: str | None = None
    ) -> str:
        """Send one OCPP operation to a charger, recorded as an action."""
        self._writable()
        record = self._charger(charger_id)
        action = await self._new_action(charger_id, command or operation, {"operation": operation, **payload})
        if self.gateway is None or not self.gateway.is_connected(record.identity):
            await self._finish_action(action, "failed", "offline: the charger is not connected")
            raise Unavailable(f"{record.identity} is offline")
        await self._finish_action(action, "sent", None)
        try:
            answer = await self.gateway.call(record.identity, operation, payload)
        except Exception as error:
            await self._finish_action(action, "failed", f"{type(error).__name__}: {error}")
            raise Unavailable(f"{operation} to {record.identity} failed: {error}") from error
        status = str(answer.get("status", "Accepted"))
        state = "acknowledged" if status == "Accepted" else "rejected"
        await self._finish_action(action, state, f"{operation}: {status}")
        return f"{operation} {status.lower()} by {record.identity}"

    # -- actions ---------------------------------------------------------------------

    async def _new_action(self, charger_id: str, command: str, parameters: dict[str, Any]) -> Action:
        now = self.clock.now()
        action = Action(
            charger_id=charger_id,
            command=command,
            parameters=parameters,
            state="pending",
            created_at=now,
            updated_at=now,
        )

        def write(session: Session) -> Action:
            session.add(action)
            session.commit()
            return action

        await self.store.run(write)
        self._announce(action)
        return action

    async def _finish_action(self, action: Action, state: str, detail: str | None) -> None:
        action.state = state
        action.detail = detail
        action.updated_at = self.clock.now()
        snapshot = Action(**action.model_dump())

        def write(session: Session) -> None:
            session.merge(snapshot)
            session.commit()

        await self.store.run(write)
        self._announce(action)

    def _announce(self, action: Action) -> None:
        summary = summarize_action(action)
        self.live.action_changed(action.charger_id, summary)
        self.bus.publish(ActionChanged(action.charger_id, summary))
