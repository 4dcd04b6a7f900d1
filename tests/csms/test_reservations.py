"""Reservations with a real 1.6 charger and a 2.0.1 station: created (ReserveNow), listed with expiry, shown on the
charger, cancelled (CancelReservation); one the charger refuses is recorded so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Client16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as Client201
from ocpp.v201 import call_result as result201

from console.core.errors import Conflict, ValidationFailed
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import charge_point


class Reserving16(Client16):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reserved: dict[int, dict[str, Any]] = {}

    @on("ReserveNow")
    def reserve_now(self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, **_: Any) -> result16.ReserveNow:
        if connector_id == 2:
            return result16.ReserveNow(status="Occupied")
        self.reserved[reservation_id] = {"connector_id": connector_id, "expiry_date": expiry_date, "id_tag": id_tag}
        return result16.ReserveNow(status="Accepted")

    @on("CancelReservation")
    def cancel_reservation(self, reservation_id: int) -> result16.CancelReservation:
        return result16.CancelReservation(status="Accepted" if self.reserved.pop(reservation_id, None) else "Rejected")


async def test_a_16_connector_is_reserved_listed_shown_and_cancelled(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "RES-16", "number_of_connectors": 2})
    async with charge_point(central_system.url, "RES-16", client=Reserving16) as cp:
        held = await service.reserve(charger.id, 1, "VAN-1", "30m")
        assert (held.state, held.connector_id, held.id_tag) == ("accepted", 1, "VAN-1")
        assert held.expires_at == service.clock.now() + timedelta(minutes=30)
        assert cp.reserved == {held.id: {"connector_id": 1, "expiry_date": held.expires_at.isoformat().replace("+00:00", "Z"), "id_tag": "VAN-1"}}
        view = await service.get_charger(charger.id)
        assert view.reservations == (f"connector 1 for VAN-1 until {held.expires_at.isoformat().replace('+00:00', 'Z')} (#{held.id})",)

        refused = await service.reserve(charger.id, 2, "VAN-2", "1h")
        assert (refused.state, refused.detail) == ("refused", "Occupied")
        with pytest.raises(ValidationFailed) as bad:
            await service.reserve(charger.id, 3, "", "yesterday")
        assert set(bad.value.problems) == {"connector_id", "id_tag", "expires_at"}

        assert [item.state for item in await service.list_reservations(charger.id)] == ["refused", "accepted"]
        cancelled = await service.cancel_reservation(charger.id, held.id)
        assert cancelled.state == "cancelled" and cp.reserved == {}
        assert (await service.get_charger(charger.id)).reservations == ()
        with pytest.raises(Conflict):
            await service.cancel_reservation(charger.id, held.id)
        commands = [action.command for action in await service.list_actions(charger.id)]
        assert sorted(commands) == ["cancel_reservation", "reserve", "reserve"]


async def test_an_accepted_reservation_past_its_expiry_reads_expired(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "RES-EXP"})
    async with charge_point(central_system.url, "RES-EXP", client=Reserving16):
        held = await service.reserve(charger.id, 1, "VAN-1", "5m")
    service.clock.advance(6 * 60)  # type: ignore[attr-defined]
    (later,) = await service.list_reservations(charger.id)
    assert (later.id, later.state) == (held.id, "expired")
    assert (await service.get_charger(charger.id)).reservations == ()


class Reserving201(Client201):
    requests: list[dict[str, Any]]

    @on("ReserveNow")
    def reserve_now(self, **request: Any) -> result201.ReserveNow:
        self.requests = [*getattr(self, "requests", []), request]
        return result201.ReserveNow(status="Accepted")


async def test_a_201_evse_is_reserved_for_a_central_token(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "RES-201", "ocpp_version": "OCPP2.0.1"})
    async with charge_point(central_system.url, "RES-201", "ocpp2.0.1", client=Reserving201) as cs:
        held = await service.reserve(charger.id, 1, "VAN-9", "2026-04-02T12:00:00Z")
    assert held.state == "accepted"
    (request,) = cs.requests
    assert request == {"id": held.id, "expiry_date_time": "2026-04-02T12:00:00Z", "id_token": {"id_token": "VAN-9", "type": "Central"}, "evse_id": 1}
