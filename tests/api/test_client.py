"""The attach-mode client: every Backend method against a live server, errors mapped back, events, reconnection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from apitools import Api

from console.api.client import RemoteBackend
from console.api.server import ApiServer
from console.core.backend import Backend
from console.core.engine import CommandRefused
from console.core.errors import NotFound, Unavailable, ValidationFailed
from console.core.events import ChargerRemoved, ChargerUpdated, Notice, Subscription
from console.core.views import ChargerView


@pytest.fixture
async def remote(api: Api) -> AsyncIterator[RemoteBackend]:
    backend = RemoteBackend(api.url, api.key, reconnect_delays=(0.05, 0.1))
    await backend.connect()
    yield backend
    await backend.aclose()


def test_the_client_has_every_method_of_the_backend() -> None:
    wanted = {name for name in dir(Backend) if not name.startswith("_")}
    assert wanted <= set(dir(RemoteBackend))


async def test_reads_rebuild_the_same_views(api: Api, remote: RemoteBackend) -> None:
    assert remote.info.mode == "attached" and remote.info.read_only is False
    chargers = await remote.list_chargers()
    assert chargers == api.service.org_chargers("org-default")
    assert isinstance(chargers[0], ChargerView)
    assert await remote.get_charger("dep-a02") == await api.service.get_charger("dep-a02")
    with pytest.raises(NotFound):
        await remote.get_charger("dep-x01")  # another organization's
    assert [location.id for location in await remote.list_locations()] == ["loc-depot"]
    api.service.live.log("CP-A01", "event", "remote hello", charger_id="dep-a01")
    assert (await remote.charger_logs("dep-a01", limit=5))[-1].message == "remote hello"
    assert (await remote.fleet_logs(limit=5))[-1].message == "remote hello"
    assert await remote.list_transactions("dep-a01") == []
    assert await remote.power_history("dep-a01") == []
    assert await remote.list_unknown() == []


async def test_writes_and_their_errors(api: Api, remote: RemoteBackend, runtime) -> None:  # type: ignore[no-untyped-def]
    assert await remote.check_charger({"identity": "CP-A01"}) == await api.service.check_charger({"identity": "CP-A01"})
    with pytest.raises(ValidationFailed) as refused:
        await remote.create_charger({"identity": "", "max_charging_power": "0"})
    assert {"identity", "max_charging_power"} <= set(refused.value.problems)
    created = await remote.create_charger({"identity": "CP-NEW", "max_charging_power": "11000", "simulated": True})
    assert (await api.service.get_charger(created.id)).organization_id == "org-default"
    updated = await remote.update_charger(created.id, {"name": "New bay"})
    assert updated.name == "New bay"
    assert await remote.start_charger(created.id) == f"{created.id} started"
    assert runtime.calls == [("start", created.id)]
    with pytest.raises(Unavailable):
        await remote.start_charger("dep-a03")  # a real charger has no runtime
    await remote.delete_charger(created.id)
    with pytest.raises(NotFound):
        await api.service.get_charger(created.id)
    action = await api.service.send_command("dep-a01", "charge", start="2026-04-02T10:00:00Z")
    assert [item.id for item in await remote.list_actions("dep-a01")] == [action.id]
    assert [item.id for item in await remote.list_actions()] == [action.id]


async def test_a_refused_command_comes_back_as_command_refused(api: Api) -> None:
    from console.api.client import domain_error
    import httpx

    response = await api.client.post("/ev-charger/dep-a01", headers=api.x_api_key(), json={"command": "charge", "start": "2030-01-01T00:00:00Z"})
    error = domain_error(response)
    assert isinstance(error, CommandRefused) and error.code == "START_OUT_OF_RANGE"
    # The refused part travels in error.details, as ValidationFailed's fields do.
    assert error.field == "start"
    assert isinstance(domain_error(httpx.Response(500, text="oops")), Unavailable)


async def test_a_wrong_key_is_refused_at_connect(api: Api) -> None:
    backend = RemoteBackend(api.url, "ocpp_sk_wrong")
    with pytest.raises(Unavailable, match="refused the API key"):
        await backend.connect()
    await backend.aclose()


async def next_matching(subscription: Subscription, wanted, timeout: float = 5):  # type: ignore[no-untyped-def]
    async def scan():  # type: ignore[no-untyped-def]
        while True:
            for event in await subscription.next_batch():
                if wanted(event):
                    return event

    return await asyncio.wait_for(scan(), timeout)


async def test_events_arrive_as_the_cores_dataclasses(api: Api, remote: RemoteBackend) -> None:
    subscription = remote.subscribe()
    assert isinstance(subscription, Subscription)
    await asyncio.sleep(0.2)  # let the stream open
    await api.service.update_charger("dep-a02", {"name": "Streamed"})
    event = await next_matching(subscription, lambda event: isinstance(event, ChargerUpdated))
    assert event.charger == api.service.live.view("dep-a02")
    subscription.close()
    with pytest.raises(StopAsyncIteration):
        await subscription.next_batch()


async def test_losing_the_server_says_so_and_reconnects(api: Api, remote: RemoteBackend) -> None:
    subscription = remote.subscribe()
    await asyncio.sleep(0.2)
    port = api.server.port
    await api.server.stop()
    lost = await next_matching(subscription, lambda event: isinstance(event, Notice))
    assert lost.severity == "warning" and "lost the server" in lost.message
    with pytest.raises(Unavailable, match="cannot reach the server"):
        await remote.list_chargers()
    await api.service.update_charger("dep-a02", {"name": "Changed while away"})
    await api.service.delete_charger("dep-a03")
    # Seen before the outage, so the catch-up knows to remove it.
    subscription._known.add("dep-a03")
    api.server = ApiServer(api.service, port=port, heartbeat_s=0.2)
    await api.server.start()
    caught_up: list = []

    def reconnected(event) -> bool:  # type: ignore[no-untyped-def]
        caught_up.append(event)
        return isinstance(event, Notice) and event.message.startswith("reconnected")

    await next_matching(subscription, reconnected)
    assert ChargerRemoved("dep-a03", "dep-a03") in caught_up
    renamed = [event.charger for event in caught_up if isinstance(event, ChargerUpdated) and event.charger.id == "dep-a02"]
    assert renamed and renamed[-1].name == "Changed while away"
    subscription.close()


async def test_commands_actions_caps_and_operations(api: Api, remote: RemoteBackend) -> None:
    assert remote.charger_commands() == api.service.charger_commands()
    action = await remote.send_command("dep-a01", "charge", start="2026-04-02T10:00:00Z")
    assert action == await api.service.get_action(action.id)
    assert (await remote.get_action(action.id)).state == "scheduled"
    with pytest.raises(CommandRefused) as refused:
        await remote.send_command("dep-a01", "idle")
    assert refused.value.code == "CONFLICT"
    assert (await remote.cancel_action(action.id)).state == "cancelled"
    location = await remote.set_location_cap("loc-depot", 40.0)
    assert location.power_cap_kw == 40.0
    with pytest.raises(NotFound):
        await remote.set_location_cap("loc-acme", 40.0)
    result = await remote.reset("dep-a01")
    assert result.state == "failed" and result.reason == "offline"
    assert (await remote.unlock("dep-a01", 1)).state == "failed"
    assert (await remote.change_availability("dep-a01", 0, False)).operation == "ChangeAvailability"
