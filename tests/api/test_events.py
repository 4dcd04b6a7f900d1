"""GET /events: the organization's core events as server-sent events, heartbeats, and the end of a stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from apitools import Api
from test_deployments import assert_error

from console.api.server import ApiServer


async def sse(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, Any]]:
    """(event name, data) per event, ("comment", text) per comment line."""
    name = "message"
    async for line in lines:
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            yield name, json.loads(line[5:])
            name = "message"


async def collect(api: Api, key: str, until: Any, act: Any) -> list[tuple[str, Any]]:
    """The events up to the first for which `until(name, data)` is true."""
    seen: list[tuple[str, Any]] = []
    async with api.client.stream("GET", "/events", headers=api.bearer(key)) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = sse(response.aiter_lines())
        assert await anext(events) == ("comment", "connected")
        await act()

        async def read() -> None:
            async for name, data in events:
                seen.append((name, data))
                if until(name, data):
                    return

        await asyncio.wait_for(read(), 5)
    return seen


async def test_events_carry_the_organizations_changes_only(api: Api) -> None:
    async def act() -> None:
        await api.service.update_charger("dep-x01", {"name": "Acme one"})  # not this organization's
        await api.service.update_charger("dep-a01", {"name": "Renamed"})
        await api.service.send_command("dep-a01", "charge", start="2026-04-02T10:00:00Z")
        api.service.live.log("CP-A01", "event", "hello", charger_id="dep-a01")

    seen = await collect(api, api.key, lambda name, data: name == "log" and data["message"] == "hello", act)
    chargers = [data for name, data in seen if name == "charger"]
    assert chargers and {item["id"] for item in chargers} == {"dep-a01"}
    assert chargers[0]["name"] == "Renamed" and chargers[0]["organization_id"] == "org-default"
    actions = [data for name, data in seen if name == "action"]
    assert actions and actions[0]["charger_id"] == "dep-a01" and actions[0]["action"]["state"] == "scheduled"
    assert {data["charger_id"] for name, data in seen if name == "log"} == {"dep-a01"}


async def test_another_organization_sees_its_own_and_removals(api: Api) -> None:
    async def act() -> None:
        await api.service.update_charger("dep-a01", {"name": "Not yours"})
        await api.service.delete_charger("dep-x02")

    seen = await collect(api, api.acme_key, lambda name, data: name == "charger_removed", act)
    assert ("charger_removed", {"charger_id": "dep-x02", "identity": "ACME-02"}) in seen
    assert all(data.get("id") != "dep-a01" for name, data in seen if name == "charger")


async def test_a_quiet_stream_gets_heartbeats(api: Api) -> None:
    async with api.client.stream("GET", "/events", headers=api.x_api_key()) as response:
        events = sse(response.aiter_lines())
        assert await anext(events) == ("comment", "connected")
        assert await asyncio.wait_for(anext(events), 2) == ("comment", "keep-alive")


async def test_events_need_a_key(api: Api) -> None:
    assert_error(await api.client.get("/events"), 401, "UNAUTHORIZED")


async def test_a_client_that_leaves_is_unsubscribed_and_the_server_stops_with_streams_open(api: Api) -> None:
    hub = api.server.app.state.events
    async with api.client.stream("GET", "/events", headers=api.x_api_key()) as response:
        await anext(response.aiter_lines())
        assert hub.open_streams() == 1
    for _ in range(100):
        if hub.open_streams() == 0:
            break
        await asyncio.sleep(0.02)
    assert hub.open_streams() == 0
    # A stream still open when the server stops ends instead of holding the stop up.
    async with api.client.stream("GET", "/events", headers=api.x_api_key()) as response:
        lines = response.aiter_lines()
        await anext(lines)
        await asyncio.wait_for(api.server.stop(), 3)
        rest = [line async for line in lines]
        assert all(not line.startswith("event:") for line in rest)


async def read_events(response: Any, count: int, timeout: float = 5) -> list[tuple[int | None, str, Any]]:
    """(id, event name, data) of the next `count` events (comments skipped)."""
    found: list[tuple[int | None, str, Any]] = []
    event_id, name = None, "message"
    if not hasattr(response, "lines"):
        response.lines = response.aiter_lines()
    lines = response.lines

    async def read() -> None:
        nonlocal event_id, name
        async for line in lines:
            if line.startswith("id:"):
                event_id = int(line[3:])
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                found.append((event_id, name, json.loads(line[5:])))
                event_id, name = None, "message"
                if len(found) == count:
                    return

    await asyncio.wait_for(read(), timeout)
    return found


async def renamed(api: Api, charger_id: str, *names: str) -> None:
    for name in names:
        await api.service.update_charger(charger_id, {"name": name})


async def test_events_have_ids_and_a_stream_that_comes_back_gets_what_it_missed(api: Api) -> None:
    async with api.client.stream("GET", "/events", headers=api.bearer(), params={"types": "charger"}) as response:
        await renamed(api, "dep-a01", "One", "Two")
        (first, _, one), (second, _, two) = await read_events(response, 2)
    assert one["name"] == "One" and two["name"] == "Two" and first is not None and second is not None and second > first
    # While nobody listens: two more changes, one of another organization.
    await renamed(api, "dep-a01", "Three")
    await renamed(api, "dep-x01", "Not yours")
    await renamed(api, "dep-a02", "Four")
    headers = {**api.bearer(), "Last-Event-ID": str(first)}
    async with api.client.stream("GET", "/events", headers=headers, params={"types": "charger"}) as response:
        replayed = await read_events(response, 3)
        assert [data["name"] for _, _, data in replayed] == ["Two", "Three", "Four"]
        assert replayed[0][0] == second and [id for id, _, _ in replayed] == sorted(id for id, _, _ in replayed)
        # Then live, as ever.
        await renamed(api, "dep-a01", "Five")
        ((live_id, _, live),) = await read_events(response, 1)
        assert live["name"] == "Five" and live_id > replayed[-1][0]


async def test_the_event_log_is_durable_and_bounded_and_a_gap_is_announced(api: Api) -> None:
    async with api.client.stream("GET", "/events", headers=api.bearer(), params={"types": "charger"}) as response:
        await renamed(api, "dep-a01", "Early")
        ((early, _, _),) = await read_events(response, 1)
    await renamed(api, "dep-a01", "Later")
    await api.service.writer.flush()
    # A new server over the same store (a restart): the log is in the store, not in memory.
    await api.server.stop()
    server = ApiServer(api.service, port=0, environment="test", heartbeat_s=0.2)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            headers = {**api.bearer(), "Last-Event-ID": str(early)}
            async with client.stream("GET", "/events", headers=headers, params={"types": "charger"}) as response:
                ((later_id, name, data),) = await read_events(response, 1)
                assert name == "charger" and data["name"] == "Later" and later_id > early
            # Keep only the newest event: from `early` on, what is no longer kept is announced first.
            hub = server.app.state.events
            hub.settings.max_events = 1
            await hub.prune()
            async with client.stream("GET", "/events", headers=headers, params={"types": "charger"}) as response:
                (gap, *rest) = await read_events(response, 1)
                assert gap[1] == "gap" and gap[0] is None
                assert gap[2]["lastEventId"] == early and gap[2]["firstAvailable"] > early + 1
            # An id this log never gave (another store, a restored backup) is a gap too.
            headers = {**api.bearer(), "Last-Event-ID": "999999"}
            async with client.stream("GET", "/events", headers=headers) as response:
                ((_, name, data),) = await read_events(response, 1)
                assert name == "gap" and data["reason"] == "unknown id"
    finally:
        await server.stop()


async def test_streams_filter_by_charger_and_type(api: Api) -> None:
    params = {"chargerId": "dep-a02", "types": "charger,action"}
    async with api.client.stream("GET", "/events", headers=api.bearer(), params=params) as response:
        await renamed(api, "dep-a01", "Not this one")
        api.service.live.log("CP-A02", "event", "a log line is not asked for", charger_id="dep-a02")
        await renamed(api, "dep-a02", "This one")
        await api.service.send_command("dep-a02", "charge", start="2026-04-02T10:00:00Z")
        seen = await read_events(response, 1)
        while seen[-1][1] != "action":
            seen += await read_events(response, 1)
    assert {name for _, name, _ in seen} == {"charger", "action"}
    assert seen[0][2]["name"] == "This one" and seen[-1][2]["charger_id"] == "dep-a02"
    assert all(data.get("id", data.get("charger_id")) == "dep-a02" for _, _, data in seen)
    # A charger of another organization is not found; an unknown type is named.
    assert_error(await api.client.get("/events", headers=api.bearer(), params={"chargerId": "dep-x01"}), 404, "NOT_FOUND")
    refused = assert_error(await api.client.get("/events", headers=api.bearer(), params={"types": "charger,bogus"}), 422, "VALIDATION_ERROR")
    assert "bogus" in refused["error"]["message"]
    assert_error(await api.client.get("/events", headers={**api.bearer(), "Last-Event-ID": "abc"}), 422, "VALIDATION_ERROR")
