"""GET /events: the organization's core events as server-sent events, heartbeats, and the end of a stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from apitools import Api
from test_deployments import assert_error


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
