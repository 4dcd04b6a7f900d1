"""Reservations: a connector held for one id token until a time (ReserveNow), listed with expiry, cancelled.

The reservation's id is ours (the row's), sent as the OCPP reservationId. Each
ReserveNow and CancelReservation goes through the ledger like every other
operation; the charger's answer decides the record: accepted, or refused with
its status (Occupied, Faulted, Unavailable, Rejected). An accepted reservation
past its expiry reads as expired. The live state carries a charger's active
reservations, so the charger table and detail show the connector held.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from console.core.clock import Clock
from console.core.errors import Conflict, NotFound, ValidationFailed
from console.core.live import LiveState
from console.core.models import Charger, Reservation
from console.core.sessions import as_utc
from console.core.store import Store
from console.core.timespec import parse_time
from console.core.views import OperationResult, ReservationView, iso
from console.core.versions import OcppVersion

Operate = Callable[..., Awaitable[OperationResult]]
# 1.6 idTag and a 2.0.1 idToken: at most 20 and 36 characters.
ID_TAG_MAX = {OcppVersion.V16.value: 20}
ID_TOKEN_MAX = 36
LONGEST = timedelta(days=7)


def reserve_request(ocpp_version: str, reservation_id: int, connector_id: int, id_tag: str, expires_at: datetime) -> tuple[str, dict[str, Any]]:
    """ReserveNow of a connector (1.6; 0 is any) or EVSE (2.0.1; none is any) for a token until `expires_at`."""
    if ocpp_version == OcppVersion.V16:
        return "ReserveNow", {"connectorId": connector_id, "expiryDate": iso(expires_at), "idTag": id_tag, "reservationId": reservation_id}
    payload: dict[str, Any] = {"id": reservation_id, "expiryDateTime": iso(expires_at), "idToken": {"idToken": id_tag, "type": "Central"}}
    if connector_id:
        payload["evseId"] = connector_id
    return "ReserveNow", payload


def cancel_request(reservation_id: int) -> tuple[str, dict[str, Any]]:
    return "CancelReservation", {"reservationId": reservation_id}


def reservation_view(row: Reservation, identity: str, now: datetime) -> ReservationView:
    state = row.state
    if state == "accepted" and as_utc(row.expires_at) <= now:
        state = "expired"
    return ReservationView(
        id=row.id or 0,
        charger_id=row.charger_id,
        identity=identity,
        connector_id=row.connector_id,
        id_tag=row.id_tag,
        expires_at=as_utc(row.expires_at),
        state=state,
        detail=row.detail,
        created_at=row.created_at,
    )


class Reservations:
    def __init__(self, store: Store, clock: Clock, live: LiveState, operate: Operate) -> None:
        self.store = store
        self.clock = clock
        self.live = live
        self.operate = operate

    def load(self, session: Session) -> None:
        """At start: every charger's accepted reservations, for its live view."""
        rows = session.exec(select(Reservation).where(Reservation.state == "accepted")).all()
        for charger_id in {row.charger_id for row in rows}:
            self._show(charger_id, [row for row in rows if row.charger_id == charger_id])

    def _record(self, charger_id: str) -> Charger:
        record = self.live.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id!r}")
        return record

    def _identity(self, charger_id: str) -> str:
        record = self.live.record(charger_id)
        return record.identity if record else charger_id

    async def list(self, charger_ids: set[str] | None = None, charger_id: str | None = None, limit: int = 200) -> list[ReservationView]:
        """Newest first: one charger's, those of a set of chargers (an organization's), or all."""
        now = self.clock.now()

        def read(session: Session) -> list[Reservation]:
            query = select(Reservation)
            if charger_id is not None:
                query = query.where(Reservation.charger_id == charger_id)
            elif charger_ids is not None:
                query = query.where(col(Reservation.charger_id).in_(charger_ids))
            return list(session.exec(query.order_by(col(Reservation.id).desc()).limit(limit)).all())

        return [reservation_view(row, self._identity(row.charger_id), now) for row in await self.store.run(read)]

    async def reserve(self, charger_id: str, connector_id: int, id_tag: str, expires: str | datetime) -> ReservationView:
        """ReserveNow; the record says whether the charger took it."""
        record = self._record(charger_id)
        now = self.clock.now()
        problems: dict[str, str] = {}
        if isinstance(connector_id, bool) or not isinstance(connector_id, int) or not 0 <= connector_id <= record.number_of_connectors:
            problems["connector_id"] = f"a connector of {record.identity}: 0 (any) to {record.number_of_connectors}"
        id_tag = id_tag.strip() if isinstance(id_tag, str) else ""
        longest = ID_TAG_MAX.get(record.ocpp_version, ID_TOKEN_MAX)
        if not id_tag or len(id_tag) > longest:
            problems["id_tag"] = f"the token to hold it for, 1 to {longest} characters"
        try:
            expires_at = parse_time(expires, now).replace(microsecond=0)
        except ValueError as error:
            problems["expires_at"] = str(error)
        else:
            if expires_at <= now:
                problems["expires_at"] = "must be in the future"
            elif expires_at - now > LONGEST:
                problems["expires_at"] = "at most 7 days ahead"
        if problems:
            raise ValidationFailed(problems)

        def insert(session: Session) -> Reservation:
            row = Reservation(
                charger_id=charger_id, connector_id=connector_id, id_tag=id_tag, expires_at=expires_at, created_at=now, updated_at=now
            )
            session.add(row)
            session.commit()
            session.refresh(row)
            return row

        row = await self.store.run(insert)
        operation, payload = reserve_request(record.ocpp_version, row.id or 0, connector_id, id_tag, expires_at)
        try:
            result = await self.operate(charger_id, operation, payload, command="reserve")
        except Exception as error:
            await self._settle(row, "failed", str(error))
            raise
        if result.state == "acknowledged":
            await self._settle(row, "accepted", None)
        elif result.state == "rejected":
            await self._settle(row, "refused", result.status)
        else:
            await self._settle(row, "failed", result.detail or result.reason)
        return reservation_view(row, record.identity, self.clock.now())

    async def cancel(self, charger_id: str, reservation_id: int) -> ReservationView:
        """CancelReservation of one of the charger's accepted reservations."""
        record = self._record(charger_id)
        row = await self.store.run(lambda session: session.get(Reservation, reservation_id))
        if row is None or row.charger_id != charger_id:
            raise NotFound(f"no reservation {reservation_id} on {record.identity}")
        now = self.clock.now()
        if row.state != "accepted" or as_utc(row.expires_at) <= now:
            raise Conflict(f"reservation {reservation_id} is {reservation_view(row, record.identity, now).state}: nothing to cancel")
        operation, payload = cancel_request(reservation_id)
        result = await self.operate(charger_id, operation, payload, command="cancel_reservation")
        if result.state == "acknowledged":
            await self._settle(row, "cancelled", None)
        elif result.state == "rejected":
            # The charger holds no such reservation (it expired or was used there): ours ends too.
            await self._settle(row, "cancelled", f"the charger said {result.status}")
        else:
            raise Conflict(f"CancelReservation to {record.identity} failed: {result.detail or result.reason}")
        return reservation_view(row, record.identity, self.clock.now())

    async def _settle(self, row: Reservation, state: str, detail: str | None) -> None:
        row.state, row.detail, row.updated_at = state, detail, self.clock.now()
        snapshot = Reservation(**row.model_dump())

        def write(session: Session) -> list[Reservation]:
            session.merge(snapshot)
            session.commit()
            return list(session.exec(select(Reservation).where(Reservation.charger_id == row.charger_id, Reservation.state == "accepted")).all())

        self._show(row.charger_id, await self.store.run(write))

    def _show(self, charger_id: str, accepted: list[Reservation]) -> None:
        self.live.reservations_changed(
            charger_id,
            [(as_utc(row.expires_at), row.connector_id, f"connector {row.connector_id or 'any'} for {row.id_tag} until {iso(as_utc(row.expires_at))} (#{row.id})") for row in accepted],
        )
