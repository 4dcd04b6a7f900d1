"""Registration of chargers the fleet does not know: attempts, auto-registration, operator decisions."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from console.core.clock import Clock
from console.core.errors import NotFound
from console.core.events import EventBus, UnknownChargerSeen
from console.core.fleet import FleetService
from console.core.live import LiveState
from console.core.models import Charger, UnknownAttempt, UnknownCharger
from console.core.store import Store
from console.core.views import ChargerView, UnknownChargerView
from console.core.versions import OcppVersion


UNKNOWN_TABLE: Table = UnknownCharger.__table__  # type: ignore[attr-defined]
ATTEMPT_TABLE: Table = UnknownAttempt.__table__  # type: ignore[attr-defined]
# Identities whose counts are kept in memory (the latest seen), for the view an attempt publishes.
SEEN_KEPT = 10_000


def unknown_view(row: UnknownCharger) -> UnknownChargerView:
    return UnknownChargerView(
        identity=row.identity,
        attempts=row.attempts,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        remote_address=row.remote_address,
        offered=row.offered,
        decision=row.decision,
    )


class Registrations:
    def __init__(self, store: Store, clock: Clock, bus: EventBus, fleet: FleetService, live: LiveState) -> None:
        self.store = store
        self.clock = clock
        self.bus = bus
        self.fleet = fleet
        self.live = live
        self._decisions: dict[str, str] = {}
        self._seen: OrderedDict[str, UnknownChargerView] = OrderedDict()
        # Attempts not written yet: per identity (count, first, last, address, subprotocols), per identity and hour.
        self._lock = threading.Lock()
        self._attempts: dict[str, tuple[int, datetime, datetime, str | None, str | None]] = {}
        self._hourly: dict[tuple[str, datetime], int] = {}
        self._scheduled = False
        # Whether the last attempt noted was its identity's first in its hour (the rest are counted, not logged).
        self.first_this_hour = True
        # Told (identity, decision) of an operator's decision taken here (a cluster tells the other nodes).
        self.decision_listeners: list[Callable[[str, str], None]] = []

    def load(self, session: Session) -> None:
        """At start: the decisions taken, and the identities seen last (their counts), so an attempt is never a read."""
        self._decisions = dict(
            session.exec(select(UnknownCharger.identity, UnknownCharger.decision).where(UnknownCharger.decision != "pending")).all()
        )
        rows = session.exec(select(UnknownCharger).order_by(col(UnknownCharger.last_seen).desc()).limit(SEEN_KEPT)).all()
        for row in reversed(rows):
            self._seen[row.identity] = unknown_view(row)

    async def note_attempt(self, identity: str, remote_address: str | None, offered: str | None) -> UnknownChargerView:
        """Count one connection attempt by an identity that is not in the fleet.

        Counted in memory and written with the writer's next batch (per identity, and per identity and hour),
        not a committed row per attempt: a scanner or a misconfigured fleet trying hundreds of times a second
        must not hold the chargers' own writes back.
        """
        now = self.clock.now()
        hour = now.replace(minute=0, second=0, microsecond=0)
        seen = self._seen.pop(identity, None)
        self.first_this_hour = seen is None or seen.last_seen.replace(minute=0, second=0, microsecond=0) != hour
        view = UnknownChargerView(
            identity=identity,
            attempts=(seen.attempts if seen is not None else 0) + 1,
            first_seen=seen.first_seen if seen is not None else now,
            last_seen=now,
            remote_address=remote_address,
            offered=offered,
            decision=self._decisions.get(identity, "pending"),
        )
        self._seen[identity] = view
        if len(self._seen) > SEEN_KEPT:
            del self._seen[next(iter(self._seen))]
        with self._lock:
            counted = self._attempts.get(identity)
            self._attempts[identity] = (
                (counted[0] + 1, counted[1], now, remote_address, offered) if counted is not None
                else (1, now, now, remote_address, offered)
            )
            self._hourly[(identity, hour)] = self._hourly.get((identity, hour), 0) + 1
            if not self._scheduled:
                self._scheduled = True
                self.live.writer.call(self._write_attempts)
        self.bus.publish(UnknownChargerSeen(view))
        return view

    def _write_attempts(self, session: Session) -> None:
        """The attempts counted since the last batch, added to the store's counts (on the store thread)."""
        with self._lock:
            attempts, self._attempts = self._attempts, {}
            hourly, self._hourly = self._hourly, {}
            self._scheduled = False
        try:
            add_counts(
                session, UNKNOWN_TABLE, ("identity",),
                [
                    {"identity": identity, "attempts": count, "first_seen": first, "last_seen": last,
                     "remote_address": remote, "offered": offered, "decision": "pending"}
                    for identity, (count, first, last, remote, offered) in attempts.items()
                ],
                ("last_seen", "remote_address", "offered"),
            )
            add_counts(
                session, ATTEMPT_TABLE, ("identity", "hour"),
                [{"identity": identity, "hour": hour, "attempts": count} for (identity, hour), count in hourly.items()],
                (),
            )
            session.commit()
        except Exception:
            session.rollback()
            with self._lock:  # kept for the writer's retry, with what came meanwhile
                for identity, (count, first, last, remote, offered) in attempts.items():
                    newer = self._attempts.get(identity)
                    self._attempts[identity] = (
                        (count + newer[0], first, newer[2], newer[3], newer[4]) if newer is not None
                        else (count, first, last, remote, offered)
                    )
                for key, count in hourly.items():
                    self._hourly[key] = self._hourly.get(key, 0) + count
            raise

    async def auto_register(self, identity: str, ocpp_version: str) -> Charger:
        """Create a charger for an unknown identity, Pending until an operator decides."""

        def write(session: Session) -> Charger:
            charger = self.fleet.create(
                session, {"identity": identity, "ocpp_version": ocpp_version, "simulated": False}
            )
            charger.registration = "pending"
            session.add(charger)
            session.commit()
            return charger

        charger = await self.store.run(write)
        self.live.record_saved(charger)
        self.live.log(identity, "event", "auto-registered: Pending until an operator accepts it", charger_id=charger.id)
        return charger

    async def list_unknown(self) -> list[UnknownChargerView]:
        await self.live.writer.flush()  # the attempts counted so far

        def read(session: Session) -> list[UnknownChargerView]:
            rows = session.exec(select(UnknownCharger).order_by(col(UnknownCharger.last_seen).desc())).all()
            return [unknown_view(row) for row in rows]

        return await self.store.run(read)

    async def decide(self, charger_id: str, registration: str) -> ChargerView:
        """Accept or reject a charger that registered itself.

        An accepted one hears so at its next boot; a rejected one is refused at every handshake (the service
        closes its connection now).
        """

        def write(session: Session) -> Charger:
            charger = self.fleet.get(session, charger_id)
            charger.registration = registration
            charger.updated_at = self.clock.now()
            session.add(charger)
            unknown = session.get(UnknownCharger, charger.identity)
            if unknown is not None:
                unknown.decision = registration
                session.add(unknown)
            session.commit()
            return charger

        charger = await self.store.run(write)
        self._decided(charger.identity, registration)
        self.live.record_saved(charger)
        self.live.log(charger.identity, "event", f"registration {registration} by an operator", charger_id=charger.id)
        return self.live.view(charger.id)

    async def decide_unknown(self, identity: str, decision: str, ocpp_version: str = OcppVersion.V16) -> ChargerView | None:
        """Accept an unknown identity into the fleet, or reject it for good (refused at every handshake).

        With auto-registration it may have a charger record already: that record takes the same decision.
        """
        await self.live.writer.flush()  # its attempts so far: its row

        def write(session: Session) -> tuple[UnknownCharger, Charger | None]:
            unknown = session.get(UnknownCharger, identity)
            if unknown is None:
                raise NotFound(f"no unknown charger {identity!r}")
            unknown.decision = decision
            session.add(unknown)
            charger = session.exec(select(Charger).where(Charger.identity == identity)).first()
            if charger is None and decision == "accepted":
                charger = self.fleet.create(
                    session, {"identity": identity, "ocpp_version": ocpp_version, "simulated": False}
                )
            if charger is not None:
                charger.registration = decision
                charger.updated_at = self.clock.now()
                session.add(charger)
            session.commit()
            return unknown, charger

        unknown, charger = await self.store.run(write)
        self._decided(identity, decision)
        self.bus.publish(UnknownChargerSeen(unknown_view(unknown)))
        if charger is None:
            return None
        self.live.record_saved(charger)
        self.live.log(identity, "event", f"registration {decision} by an operator", charger_id=charger.id)
        return self.live.view(charger.id)

    def _decided(self, identity: str, decision: str) -> None:
        for listener in self.decision_listeners:
            listener(identity, decision)
        self.decided_elsewhere(identity, decision)

    def decided_elsewhere(self, identity: str, decision: str) -> None:
        """An operator's decision on an identity, taken here or (a cluster) on another node."""
        self._decisions[identity] = decision
        seen = self._seen.get(identity)
        if seen is not None:
            self._seen[identity] = replace(seen, decision=decision)


def add_counts(session: Session, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]], latest: tuple[str, ...]) -> None:
    """Insert `rows`, or add their `attempts` to the row with the same `keys` and take their `latest` columns."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite if dialect == "sqlite" else postgresql).insert(table)
        changes = {"attempts": table.c.attempts + insert.excluded.attempts, **{name: insert.excluded[name] for name in latest}}
        session.execute(insert.on_conflict_do_update(index_elements=keys, set_=changes), rows)
        return
    for row in rows:
        where = [table.c[name] == row[name] for name in keys]
        changes = {"attempts": table.c.attempts + row["attempts"], **{name: row[name] for name in latest}}
        if session.execute(update(table).where(*where).values(changes)).rowcount == 0:  # type: ignore[attr-defined]
            session.execute(table.insert().values(row))
