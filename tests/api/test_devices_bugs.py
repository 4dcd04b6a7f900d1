"""Issue 18, the device API's `charge`/`idle`: each defect over a live server, a real central system and a real charger.

The clock is the manual one (`api.clock`): the scheduler sleeps on it, so a minute passes when a test says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from apitools import DEPOT, Api
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from test_deployments import assert_error
from test_devices import assert_envelope

from console.api.server import ApiServer
from console.core.clock import ManualClock
from console.core.models import Action
from console.core.service import ConsoleService
from console.core.store import Store
from console.csms.server import CentralSystem

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "csms"))

from ocpp_clients import charge_point, eventually  # noqa: E402

T0 = datetime(2026, 4, 2, 9, 15, tzinfo=timezone.utc)  # the manual clock's start


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


class Obliging16(ChargePoint):
    """Does what it is asked and keeps every request: (action, payload)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @on("RemoteStartTransaction")
    async def on_remote_start(self, **payload: Any) -> call_result.RemoteStartTransaction:
        self.received.append(("RemoteStartTransaction", payload))
        return call_result.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    async def on_remote_stop(self, **payload: Any) -> call_result.RemoteStopTransaction:
        self.received.append(("RemoteStopTransaction", payload))
        return call_result.RemoteStopTransaction(status="Accepted")

    @on("SetChargingProfile")
    async def on_set_profile(self, **payload: Any) -> call_result.SetChargingProfile:
        self.received.append(("SetChargingProfile", payload))
        return call_result.SetChargingProfile(status="Accepted")

    def limits_w(self) -> list[float]:
        """The limit of every charging profile received, in order."""
        return [
            payload["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"][0]["limit"]
            for action, payload in self.received
            if action == "SetChargingProfile"
        ]


@pytest.fixture
async def central(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


@contextlib.asynccontextmanager
async def online(central: CentralSystem, identity: str, status: str = "Available", boot: bool = True) -> AsyncIterator[Obliging16]:
    """A charger connected; without `boot` it comes back from a lost connection (its sessions go on)."""
    async with charge_point(central.url, identity, client=Obliging16) as cp:
        if boot:
            await cp.call(call.BootNotification(charge_point_vendor="Wallbox", charge_point_model="Pulsar Plus"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status=status))
        await eventually(lambda: central.is_connected(identity))
        yield cp


async def start_session(cp: Obliging16, service: ConsoleService, charger_id: str) -> None:
    await cp.call(call.StartTransaction(connector_id=1, id_tag="CONSOLE", meter_start=0, timestamp=at(0)))
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
    await eventually(lambda: service.live.open_transaction(charger_id, 1) is not None)


async def command(api: Api, device_id: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    return assert_envelope(await api.client.post(f"/ev-charger/{device_id}", headers=api.x_api_key(), json=body), status)


async def action_state(api: Api, action_id: str) -> dict[str, Any]:
    return assert_envelope(await api.client.get(f"/actions/{action_id}", headers=api.x_api_key()))


async def reaches(api: Api, action_id: str, *states: str) -> dict[str, Any]:
    async def done() -> bool:
        return (await action_state(api, action_id))["state"] in states

    await eventually(done, timeout=5)
    return await action_state(api, action_id)


async def advance(api: Api, seconds: float) -> None:
    api.clock.advance(seconds)
    for _ in range(20):
        await asyncio.sleep(0)


# -- queue_after with its own later start ----------------------------------------------------


async def test_a_queued_command_with_a_later_start_fires_at_its_start(api: Api, central: CentralSystem) -> None:
    async with online(central, "CP-A02") as cp:
        first = await command(api, "dep-a02", {"command": "idle", "start": at(1)})
        queued = await command(api, "dep-a02", {"command": "charge", "start": at(5), "onConflict": "queue_after"})
        assert queued["state"] == "scheduled" and queued["detail"] == f"queued after {first['id']}"
        await advance(api, 60)
        await reaches(api, first["id"], "completed")
        await advance(api, 3 * 60)
        assert (await action_state(api, queued["id"]))["state"] == "scheduled"
        # Its own start, with nothing else to wake the scheduler.
        await advance(api, 60)
        done = await reaches(api, queued["id"], "completed")
        assert [action for action, _ in cp.received] == ["RemoteStartTransaction"]
        assert done["updatedAt"] == at(5)


# -- the conflict check ------------------------------------------------------------------------


async def test_of_ten_parallel_scheduled_commands_on_one_charger_exactly_one_is_accepted(api: Api) -> None:
    responses = await asyncio.gather(
        *(
            api.client.post("/ev-charger/dep-a01", headers=api.x_api_key(), json={"command": "charge", "start": at(10 + n)})
            for n in range(10)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 9, [response.text for response in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "CONFLICT")


# -- times out of range ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "code"),
    [
        ({"start": "3000000d"}, "START_OUT_OF_RANGE"),
        ({"start": "0001-01-01T00:00:00+14:00"}, "START_OUT_OF_RANGE"),
        ({"start": "9999-12-31T23:59:59-14:00"}, "START_OUT_OF_RANGE"),
        ({"start": "99999999999999999999d"}, "START_OUT_OF_RANGE"),
        ({"start": "1h", "end": "3000000d"}, "END_OUT_OF_RANGE"),
        ({"start": "1h", "end": "0001-01-01T00:00:00+14:00"}, "END_OUT_OF_RANGE"),
    ],
)
async def test_times_beyond_the_calendar_are_refused_with_422(api: Api, times: dict[str, str], code: str) -> None:
    response = await api.client.post("/ev-charger/dep-a02", headers=api.x_api_key(), json={"command": "charge", **times})
    assert_error(response, 422, code)


# -- powerRateLimit --------------------------------------------------------------------------


async def power_rate_limit(api: Api, device_id: str) -> float:
    return assert_envelope(await api.client.get(f"/ev-charger/{device_id}", headers=api.x_api_key()))["state"]["powerRateLimit"]


async def test_power_rate_limit_is_the_limit_in_force(api: Api, central: CentralSystem) -> None:
    async with online(central, "CP-A02") as cp:
        await start_session(cp, api.service, "dep-a02")
        assert await power_rate_limit(api, "dep-a02") == 22.0
        idle = await command(api, "dep-a02", {"command": "idle"})
        await reaches(api, idle["id"], "completed")
        assert cp.limits_w() == [0.0]
        assert await power_rate_limit(api, "dep-a02") == 0.0
        capped = await command(api, "dep-a02", {"command": "charge", "parameters": {"powerLimit": 7}})
        await reaches(api, capped["id"], "completed")
        assert await power_rate_limit(api, "dep-a02") == 7.0
        lifted = await command(api, "dep-a02", {"command": "charge"})
        await reaches(api, lifted["id"], "completed")
        assert cp.limits_w() == [0.0, 7000.0, 22000.0]
        assert await power_rate_limit(api, "dep-a02") == 22.0


# -- cancelling an open window ---------------------------------------------------------------


async def test_cancelling_an_open_window_idles_the_charger_as_its_end_would(api: Api, central: CentralSystem) -> None:
    async with online(central, "CP-A02") as cp:
        await start_session(cp, api.service, "dep-a02")
        window = await command(api, "dep-a02", {"command": "charge", "start": at(1), "end": at(20)})
        await advance(api, 60)
        opened = await reaches(api, window["id"], "acknowledged")
        assert "window open until" in opened["detail"] and cp.limits_w() == [22000.0]
        cancelled = assert_envelope(await api.client.post(f"/actions/{window['id']}/cancel", headers=api.x_api_key()))
        # The session is held at 0 W (kept open, not stopped), as at the window's end.
        assert cancelled["state"] == "cancelled"
        assert cancelled["detail"] == "cancelled by an operator; window closed early: suspend with a 0 W limit: Accepted"
        assert cp.limits_w() == [22000.0, 0.0]
        assert await power_rate_limit(api, "dep-a02") == 0.0
        device = assert_envelope(await api.client.get("/ev-charger/dep-a02", headers=api.x_api_key()))
        assert device["currentSchedule"] is None
        # The window's end passes with nothing more to do.
        await advance(api, 20 * 60)
        await asyncio.sleep(0.1)
        assert cp.limits_w() == [22000.0, 0.0] and (await action_state(api, window["id"]))["state"] == "cancelled"


async def test_an_open_window_of_an_offline_charger_is_not_cancelled_without_idling_it(api: Api, central: CentralSystem) -> None:
    async with online(central, "CP-A02") as cp:
        await start_session(cp, api.service, "dep-a02")
        window = await command(api, "dep-a02", {"command": "charge", "start": at(1), "end": at(20)})
        await advance(api, 60)
        await reaches(api, window["id"], "acknowledged")
    await eventually(lambda: not central.is_connected("CP-A02"))
    response = await api.client.post(f"/actions/{window['id']}/cancel", headers=api.x_api_key())
    assert "offline" in assert_error(response, 409, "NOT_CANCELLABLE")["error"]["message"]
    assert (await action_state(api, window["id"]))["state"] == "acknowledged"


# -- deleting a charger ----------------------------------------------------------------------


async def test_deleting_a_charger_cancels_its_open_actions(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    from console.core.events import ActionChanged

    subscription = api.service.subscribe(kinds=(ActionChanged,))
    scheduled = await command(api, "dep-a02", {"command": "charge", "start": at(1)})
    response = await api.client.delete("/ocpp/chargers/dep-a02", headers=api.bearer())
    assert response.status_code == 204, response.text
    changes: list[Any] = []

    async def told() -> bool:
        changes.extend(event.action for event in await subscription.next_batch())
        return any(change.state == "cancelled" for change in changes)

    await eventually(told, timeout=5)
    last = [change for change in changes if change.id == scheduled["id"]][-1]
    assert (last.state, last.detail) == ("cancelled", "cancelled: the charger was deleted")
    logs = await api.service.fleet_logs()
    assert any(entry.message == f"charger deleted; its open actions cancelled: charge {scheduled['id']}" for entry in logs)
    # When it would have fallen due, nothing is left to run.
    await advance(api, 120)
    await asyncio.sleep(0.2)
    assert not [record for record in caplog.records if record.levelname == "ERROR"]
    assert_error(await api.client.get(f"/actions/{scheduled['id']}", headers=api.x_api_key()), 404, "NOT_FOUND")


# -- across a restart --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def console(db_url: str, clock: ManualClock, first: bool = False) -> AsyncIterator[tuple[Api, CentralSystem]]:
    """The service, its central system and its API on the store `db_url`: started, then stopped."""
    store = Store(db_url)
    service = ConsoleService(store, clock=clock, flush_interval=0.05)
    try:
        if first:
            await store.run(lambda session: (service.fleet.ensure_org(session), service.fleet.import_fleet(session, DEPOT)))
        await service.open()
        central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
        await central.start()
        _, key = await service.create_api_key("default")
        server = ApiServer(service, port=0, environment="test", heartbeat_s=0.2)
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
                yield Api(server, service, clock, server.url, key, key, client), central
        finally:
            await server.stop()
            await central.stop()
            await service.close()
    finally:
        store.close()


def crashed_with(db_url: str, *actions: Action) -> None:
    """Leave `actions` in the store as a kill -9 would have: written, and nobody left to move them on."""
    store = Store(db_url)
    try:
        store.run_sync(lambda session: ([session.add(action) for action in actions], session.commit()))
    finally:
        store.close()


async def test_a_window_that_opened_during_the_outage_runs_for_what_is_left_of_it(db_url: str) -> None:
    async with console(db_url, ManualClock(T0), first=True):
        pass
    window = Action(
        charger_id="dep-a02", command="charge", execution="windowed", state="scheduled",
        start_at=T0 + timedelta(minutes=1), end_at=T0 + timedelta(minutes=21), created_at=T0, updated_at=T0,
    )
    crashed_with(db_url, window)
    # Down from 09:15:30 to 09:21:30 UTC: the window opened 5.5 minutes ago and has 14.5 to go.
    clock = ManualClock(T0 + timedelta(minutes=6, seconds=30))
    async with console(db_url, clock) as (api, central):
        # Due, and its charger not back yet: it waits (the grace counts from the restart), not expired.
        waiting = await reaches(api, window.id, "pending", "expired")
        assert waiting["detail"] == "waiting for CP-A02 to come back (until 09:26:30 UTC)"
        async with online(central, "CP-A02", boot=False) as cp:
            opened = await reaches(api, window.id, "acknowledged")
            assert opened["detail"] == "remote start on connector 1: Accepted; window open until 09:36:00 UTC"
            assert [action for action, _ in cp.received] == ["RemoteStartTransaction"]
            await start_session(cp, api.service, "dep-a02")
            await advance(api, 14.5 * 60)
            closed = await reaches(api, window.id, "completed")
            assert closed["detail"] == "window closed; suspend with a 0 W limit: Accepted" and cp.limits_w() == [0.0]


async def test_a_window_that_ended_during_the_outage_is_closed_when_its_charger_is_back(db_url: str) -> None:
    clock = ManualClock(T0)
    async with console(db_url, clock, first=True) as (api, central):
        async with online(central, "CP-A02") as cp:
            await start_session(cp, api.service, "dep-a02")
            window = await command(api, "dep-a02", {"command": "charge", "start": at(1), "end": at(11)})
            await advance(api, 60)
            await reaches(api, window["id"], "acknowledged")
    # Down from 09:20 to 09:30, the window's end (09:26) with it; the charger kept its session.
    clock.advance(14 * 60)
    async with console(db_url, clock) as (api, central):
        await asyncio.sleep(0.2)
        pending = await action_state(api, window["id"])
        assert pending["state"] == "acknowledged", pending
        async with online(central, "CP-A02", status="Charging", boot=False) as cp:
            closed = await reaches(api, window["id"], "completed", "failed")
            assert closed["state"] == "completed" and closed["detail"] == "window closed; suspend with a 0 W limit: Accepted"
            assert cp.limits_w() == [0.0]


async def test_a_window_whose_charger_stays_away_fails_rather_than_completes(db_url: str) -> None:
    async with console(db_url, ManualClock(T0), first=True):
        pass
    window = Action(
        charger_id="dep-a02", command="charge", execution="windowed", state="acknowledged", detail="window open until 09:26:00 UTC",
        start_at=T0 + timedelta(minutes=1), end_at=T0 + timedelta(minutes=11), created_at=T0, updated_at=T0,
    )
    crashed_with(db_url, window)
    clock = ManualClock(T0 + timedelta(minutes=15))
    async with console(db_url, clock) as (api, _):
        await asyncio.sleep(0.2)
        assert (await action_state(api, window.id))["state"] == "acknowledged"
        await advance(api, 5 * 60)
        failed = await reaches(api, window.id, "completed", "failed")
        assert failed["state"] == "failed"
        assert failed["detail"] == "window closed at 09:26:00 UTC but CP-A02 was offline until 09:35:00 UTC: not idled"
        stored = await api.service.get_action(window.id)
        assert stored.reason == "offline"


async def test_an_action_in_flight_at_the_crash_ends_with_its_outcome_unknown(db_url: str) -> None:
    async with console(db_url, ManualClock(T0), first=True):
        pass
    sent = Action(
        charger_id="dep-a02", command="charge", execution="immediate", state="sent", operation="RemoteStartTransaction",
        detail="remote start on connector 1", sent_at=T0, created_at=T0, updated_at=T0,
    )
    never_sent = Action(charger_id="dep-a01", command="reset", state="pending", created_at=T0, updated_at=T0)
    crashed_with(db_url, sent, never_sent)
    async with console(db_url, ManualClock(T0 + timedelta(minutes=2))) as (api, _):
        unknown = await action_state(api, sent.id)
        assert unknown["state"] == "unknown"
        assert unknown["detail"] == (
            "outcome unknown: the console stopped after sending RemoteStartTransaction to CP-A02, before its answer; check the charger"
        )
        assert (await api.service.get_action(sent.id)).reason == "interrupted"
        # Never sent: that one did fail.
        failed = await api.service.get_action(never_sent.id)
        assert (failed.state, failed.reason) == ("failed", "interrupted")


async def test_a_window_whose_start_is_unknown_still_closes_at_its_end(db_url: str) -> None:
    async with console(db_url, ManualClock(T0), first=True):
        pass
    window = Action(
        charger_id="dep-a02", command="charge", execution="windowed", state="sent", operation="RemoteStartTransaction",
        start_at=T0 + timedelta(minutes=1), end_at=T0 + timedelta(minutes=11), sent_at=T0 + timedelta(minutes=1),
        created_at=T0, updated_at=T0,
    )
    crashed_with(db_url, window)
    async with console(db_url, ManualClock(T0 + timedelta(minutes=2))) as (api, central):
        unknown = await action_state(api, window.id)
        assert unknown["state"] == "unknown" and unknown["detail"].endswith("(the window still closes at 09:26:00 UTC)")
        async with online(central, "CP-A02", boot=False) as cp:
            # The charger had started: it says so now.
            await start_session(cp, api.service, "dep-a02")
            await advance(api, 9 * 60)
            closed = await reaches(api, window.id, "completed", "failed")
            assert closed["detail"] == "window closed; suspend with a 0 W limit: Accepted" and cp.limits_w() == [0.0]
