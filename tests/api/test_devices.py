"""The EV charger device API (second seed) over a live server: envelope, shapes, paging, commands and their errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from apitools import Api
from seeds import SEED_DEVICE, SEED_LIST_DATA_KEYS, SEED_META, SEED_PAGINATION, same_shape
from test_deployments import assert_error

from console.core.service import ConsoleService

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "csms"))


def assert_envelope(response, status: int = 200) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "data", "meta"} and body["success"] is True
    assert set(body["meta"]) == set(SEED_META)
    assert re.fullmatch(r"req_\w+", body["meta"]["requestId"]) and body["meta"]["timestamp"].endswith("Z")
    return body["data"]


async def test_the_seeds_list_request_gets_the_seeds_shape(api: Api) -> None:
    data = assert_envelope(await api.client.get("/ev-charger", headers=api.x_api_key()))
    assert set(data) == SEED_LIST_DATA_KEYS
    assert set(data["pagination"]) == set(SEED_PAGINATION)
    assert data["pagination"] == {"limit": 10, "offset": 0, "total": 3, "hasMore": False}
    for item in data["items"]:
        seed = {**SEED_DEVICE, "lastAction": None} if item["lastAction"] is None else SEED_DEVICE
        assert same_shape(item, seed) == []
    first = data["items"][0]
    assert first["id"] == "dep-a01" and first["vendor"] == "Wallbox"
    assert first["metadata"] == {"model": "Pulsar Plus", "source": "cache"}
    assert first["state"]["powerRateLimit"] == 22.0 and first["state"]["isConnected"] is False
    assert first["conflictStrategies"] == ["cancel_and_replace", "queue_after"]
    assert set(first["commands"]) == {"charge", "idle"}


async def test_the_seeds_curl_example_runs_unchanged_but_for_the_host(api: Api) -> None:
    if shutil.which("curl") is None:
        pytest.skip("no curl")
    command = ["curl", "--silent", "--request", "GET", "--url", f"{api.url}/ev-charger", "--header", f"x-api-key: {api.key}"]
    import asyncio

    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    out, _ = await process.communicate()
    import json

    body = json.loads(out)
    assert body["success"] is True and len(body["data"]["items"]) == 3


async def test_pagination_edges(api: Api) -> None:
    for limit in (0, 51, -1, "ten"):
        assert_error(await api.client.get("/ev-charger", params={"limit": limit}, headers=api.x_api_key()), 422, "VALIDATION_ERROR")
    assert_error(await api.client.get("/ev-charger", params={"offset": -1}, headers=api.x_api_key()), 422, "VALIDATION_ERROR")
    page = assert_envelope(await api.client.get("/ev-charger", params={"limit": 2}, headers=api.x_api_key()))
    assert [item["id"] for item in page["items"]] == ["dep-a01", "dep-a02"]
    assert page["pagination"] == {"limit": 2, "offset": 0, "total": 3, "hasMore": True}
    last = assert_envelope(await api.client.get("/ev-charger", params={"limit": 2, "offset": 2}, headers=api.x_api_key()))
    assert [item["id"] for item in last["items"]] == ["dep-a03"] and last["pagination"]["hasMore"] is False
    past = assert_envelope(await api.client.get("/ev-charger", params={"offset": 99}, headers=api.x_api_key()))
    assert past["items"] == [] and past["pagination"] == {"limit": 10, "offset": 99, "total": 3, "hasMore": False}
    edge = assert_envelope(await api.client.get("/ev-charger", params={"limit": 50}, headers=api.x_api_key()))
    assert edge["pagination"]["limit"] == 50


async def test_user_id_filters_within_the_organization(api: Api) -> None:
    mine = assert_envelope(await api.client.get("/ev-charger", params={"userId": "user_abc123"}, headers=api.x_api_key()))
    assert [item["id"] for item in mine["items"]] == ["dep-a01"] and mine["pagination"]["total"] == 1
    theirs = assert_envelope(await api.client.get("/ev-charger", params={"userId": "user_abc123"}, headers=api.x_api_key(api.acme_key)))
    assert [item["id"] for item in theirs["items"]] == ["dep-x01"]


async def test_one_device_and_scoping(api: Api) -> None:
    device = assert_envelope(await api.client.get("/ev-charger/dep-a03", headers=api.x_api_key()))
    assert same_shape(device, {**SEED_DEVICE, "lastAction": None}) == []
    assert device["state"]["powerRateLimit"] == 11.0
    assert_error(await api.client.get("/ev-charger/dep-a03", headers=api.x_api_key(api.acme_key)), 404, "NOT_FOUND")
    assert_error(await api.client.get("/ev-charger/dep-a03"), 401, "UNAUTHORIZED")
    response = await api.client.post("/ev-charger/dep-a03", headers=api.x_api_key(api.acme_key), json={"command": "charge"})
    assert_error(response, 404, "NOT_FOUND")


async def test_a_command_becomes_an_action(api: Api) -> None:
    response = await api.client.post(
        "/ev-charger/dep-a01", headers=api.x_api_key(), json={"command": "charge", "start": "2026-04-02T10:00:00Z"}
    )
    action = assert_envelope(response, 201)
    assert set(action) >= {"id", "command", "state", "createdAt", "updatedAt", "links"}
    assert action["state"] == "scheduled" and action["execution"] == "scheduled"
    assert action["links"] == {"self": f"/actions/{action['id']}"} and response.headers["Location"] == action["links"]["self"]
    fetched = assert_envelope(await api.client.get(action["links"]["self"], headers=api.x_api_key()))
    assert fetched["id"] == action["id"]
    device = assert_envelope(await api.client.get("/ev-charger/dep-a01", headers=api.x_api_key()))
    assert device["lastAction"]["id"] == action["id"] and same_shape(device, SEED_DEVICE) == []
    assert device["currentSchedule"]["actionId"] == action["id"] and device["currentSchedule"]["start"] == "2026-04-02T10:00:00Z"
    # Another organization cannot see or cancel it.
    assert_error(await api.client.get(action["links"]["self"], headers=api.x_api_key(api.acme_key)), 404, "NOT_FOUND")
    assert_error(await api.client.post(f"/actions/{action['id']}/cancel", headers=api.x_api_key(api.acme_key)), 404, "NOT_FOUND")
    # A second command meets the first.
    second = await api.client.post("/ev-charger/dep-a01", headers=api.x_api_key(), json={"command": "idle"})
    assert "onConflict" in assert_error(second, 409, "CONFLICT")["error"]["message"]
    replaced = await api.client.post(
        "/ev-charger/dep-a01",
        headers=api.x_api_key(),
        json={"command": "idle", "start": "2026-04-02T11:00:00Z", "onConflict": "cancel_and_replace"},
    )
    replacement = assert_envelope(replaced, 201)
    first = assert_envelope(await api.client.get(f"/actions/{action['id']}", headers=api.x_api_key()))
    assert first["state"] == "cancelled"
    cancelled = assert_envelope(await api.client.post(f"/actions/{replacement['id']}/cancel", headers=api.x_api_key()))
    assert cancelled["state"] == "cancelled"
    assert_error(await api.client.post(f"/actions/{replacement['id']}/cancel", headers=api.x_api_key()), 409, "NOT_CANCELLABLE")
    assert_error(await api.client.get("/actions/action_nope", headers=api.x_api_key()), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"command": "dance"}, "INVALID_COMMAND"),
        ({"command": "charge", "start": "2030-01-01T00:00:00Z"}, "START_OUT_OF_RANGE"),
        ({"command": "charge", "start": "2026-04-02T12:00:00Z", "end": "2026-04-02T11:00:00Z"}, "END_BEFORE_START"),
        ({"command": "charge", "start": "2026-04-02T12:00:00Z", "end": "2026-06-02T11:00:00Z"}, "END_OUT_OF_RANGE"),
        ({"command": "charge", "execution": "windowed"}, "START_REQUIRED"),
        ({"command": "charge", "execution": "windowed", "start": "2026-04-02T12:00:00Z"}, "END_REQUIRED"),
        ({"command": "idle", "execution": "windowed", "start": "2026-04-02T12:00:00Z"}, "EXECUTION_NOT_SUPPORTED"),
        ({"command": "charge", "start": "someday"}, "INVALID_TIME"),
        ({"command": "charge", "parameters": {"powerLimit": 500}}, "INVALID_PARAMETERS"),
        ({"command": "charge", "onConflict": "shove"}, "INVALID_CONFLICT_STRATEGY"),
        ({"command": "charge", "start": "2026-04-02T12:00:00Z", "end": "2026-04-02T13:00:00Z", "execution": "immediate"}, "INVALID_EXECUTION"),
    ],
)
async def test_refused_commands_carry_the_engines_code(api: Api, body: dict, code: str) -> None:
    response = await api.client.post("/ev-charger/dep-a02", headers=api.x_api_key(), json=body)
    assert_error(response, 422, code)


async def test_malformed_command_bodies_are_422(api: Api) -> None:
    headers = {**api.x_api_key(), "Content-Type": "application/json"}
    for content in [b"{", b"[1]", b"{}", b'{"command": 7}', b'{"command": "charge", "parameters": []}', b'{"command": "charge", "extra": 1}']:
        response = await api.client.post("/ev-charger/dep-a02", headers=headers, content=content)
        assert assert_error(response, 422, "VALIDATION_ERROR")["error"]["details"]


async def test_live_state_from_a_real_central_system(api: Api, service: ConsoleService) -> None:
    from ocpp.v16 import call
    from ocpp_clients import charge_point, eventually

    from console.csms.server import CentralSystem

    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    try:
        async with charge_point(central.url, "CP-A02") as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Wallbox", charge_point_model="Pulsar Plus"))
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
            await eventually(lambda: service.live.view("dep-a02").is_connected)
            device = assert_envelope(await api.client.get("/ev-charger/dep-a02", headers=api.x_api_key()))
            assert device["state"]["isConnected"] is True and device["metadata"]["source"] == "live"
            assert device["sync"]["available"] is True and device["sync"]["lastPulledAt"].endswith("Z")
            health = assert_envelope(await api.client.get("/health", headers=api.x_api_key()))
            assert health["counts"]["connected"] == 1
    finally:
        await central.stop()
