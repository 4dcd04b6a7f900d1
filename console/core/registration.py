"""Registration of chargers the fleet does not know: attempts, auto-registration, operator decisions."""

from __future__ import annotations

from sqlmodel import Session, col, select

from console.core.clock import Clock
from console.core.errors import NotFound
from console.core.events import EventBus, UnknownChargerSeen
from console.core.fleet import FleetService
from console.core.live import LiveState
from console.core.models import Charger, UnknownCharger
from console.core.store import Store
from console.core.views import ChargerView, UnknownChargerView


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

    async def note_attempt(self, identity: str, remote_address: str | None, offered: str | None) -> UnknownChargerView:
        """Count one connection attempt by an identity that is not in the fleet."""
        now = self.clock.now()

        def write(session: Session) -> UnknownChargerView:
            row = session.get(UnknownCharger, identity)
            if row is None:
                row = UnknownCharger(identity=identity, first_seen=now, last_seen=now)
            row.attempts += 1
            row.last_seen = now
            row.remote_address = remote_address
            row.offered = offered
            session.add(row)
            session.commit()
            return unknown_view(row)

        view = await self.store.run(write)
        self.bus.publish(UnknownChargerSeen(view))
        return view

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
        self.live.record_saved(charger)
        self.live.log(charger.identity, "event", f"registration {registration} by an operator", charger_id=charger.id)
        return self.live.view(charger.id)

    async def decide_unknown(self, identity: str, decision: str, ocpp_version: str = "OCPP1.6") -> ChargerView | None:
        """Accept an unknown identity into the fleet, or reject it for good (refused at every handshake).

        With auto-registration it may have a charger record already: that record takes the same decision.
        """

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
        self.bus.publish(UnknownChargerSeen(unknown_view(unknown)))
        if charger is None:
            return None
        self.live.record_saved(charger)
        self.live.log(identity, "event", f"registration {decision} by an operator", charger_id=charger.id)
        return self.live.view(charger.id)
