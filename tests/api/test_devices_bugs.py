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

import pytest
from apitools import Api
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from test_deployments import assert_error
from test_devices import assert_envelope

from console.core.service import ConsoleService
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
async def online(central: CentralSystem, identity: str, status: str = "Available") -> AsyncIterator[Obliging16]:
    async with charge_point(central.url, identity, client=Obliging16) as cp:
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
