"""Webhooks against a real local receiver (a tiny ASGI app on uvicorn, port 0): signed deliveries, in order per
charger, retried with backoff while the receiver is down, a delivery log per subscription and a manual redeliver.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from apitools import Api, load
from test_deployments import assert_error

from console.api.server import ApiServer
from console.api.webhooks import WebhookSettings
from console.core.service import ConsoleService

QUICK = WebhookSettings(backoff_s=0.05, backoff_max_s=0.2, max_attempts=4, timeout_s=2, refresh_s=0.2, tick_s=0.05)


class Receiver:
    """Records each POST (headers, body); answers `down` with 503 (or is not listening at all)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.refused = 0
        self.down = False
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.down:
            self.refused += 1
            status = 503
        else:
            self.received.append(({k.decode(): v.decode() for k, v in scope["headers"]}, body))
            status = 204
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def start(self) -> None:
        self.server = uvicorn.Server(uvicorn.Config(self, log_config=None, lifespan="off", access_log=False))
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await self.task
            self.server = self.task = None

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    yield found
    await found.stop()
    found.sock.close()


@pytest.fixture
async def hooked(service: ConsoleService) -> AsyncIterator[Api]:
    load(service)
    _, key = await service.create_api_key("default")
    _, acme_key = await service.create_api_key("acme")
    server = ApiServer(service, port=0, environment="test", heartbeat_s=0.2, webhooks=QUICK)
    await server.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        yield Api(server, service, service.clock, server.url, key, acme_key, client)  # type: ignore[arg-type]
    await server.stop()


async def eventually(condition: Any, timeout: float = 8) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def subscribe(api: Api, url: str, **fields: Any) -> dict[str, Any]:
    response = await api.client.post("/webhooks", headers=api.x_api_key(), json={"url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def deliveries(api: Api, subscription_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await api.client.get(f"/webhooks/{subscription_id}/deliveries", headers=api.x_api_key(), params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_events_are_delivered_signed_and_in_order_per_charger(hooked: Api, receiver: Receiver) -> None:
    hook = await subscribe(hooked, receiver.url, types=["charger"])
    assert hook["secret"].startswith("whsec_") and hook["types"] == ["charger"]
    names = ["A1", "A2", "A3"]
    for name in names:
        await hooked.service.update_charger("dep-a01", {"name": name})
        await hooked.service.update_charger("dep-a02", {"name": f"{name}-two"})
    await hooked.service.update_charger("dep-x01", {"name": "Acme's"})  # another organization's
    await eventually(lambda: len(receiver.received) >= 6)
    await asyncio.sleep(0.2)
    events = receiver.events()
    assert len(events) == 6 and all(event["type"] == "charger" for event in events)
    assert [event["data"]["name"] for event in events if event["data"]["id"] == "dep-a01"] == names
    assert [event["data"]["name"] for event in events if event["data"]["id"] == "dep-a02"] == [f"{n}-two" for n in names]
    for headers, body in receiver.received:
        timestamp = headers["x-webhook-timestamp"]
        expected = hmac.new(hook["secret"].encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-webhook-signature"], f"v1={expected}")
        assert headers["x-webhook-id"] == str(json.loads(body)["id"])
    # The same ids as /events, and a delivery log that says each went through once.
    log = await deliveries(hooked, hook["id"])
    assert len(log) == 6 and {item["status"] for item in log} == {"delivered"} and {item["attempts"] for item in log} == {1}
    assert sorted(item["eventId"] for item in log) == sorted(event["id"] for event in events)


async def test_a_receiver_that_is_down_for_a_while_gets_everything_in_order(hooked: Api, receiver: Receiver) -> None:
    hook = await subscribe(hooked, receiver.url, types=["charger"])
    receiver.down = True
    for name in ["B1", "B2", "B3"]:
        await hooked.service.update_charger("dep-a01", {"name": name})
    await eventually(lambda: receiver.refused >= 2)
    # Retried, with backoff, one at a time: only the oldest is tried while it fails.
    log = await deliveries(hooked, hook["id"])
    assert {item["status"] for item in log} == {"pending"}
    oldest = min(log, key=lambda item: item["id"])
    assert oldest["attempts"] >= 2 and oldest["lastStatusCode"] == 503 and "503" in oldest["lastError"]
    assert all(item["attempts"] == 0 for item in log if item is not oldest)
    receiver.down = False
    await eventually(lambda: len(receiver.received) >= 3)
    assert [event["data"]["name"] for event in receiver.events()] == ["B1", "B2", "B3"]
    log = await deliveries(hooked, hook["id"])
    assert {item["status"] for item in log} == {"delivered"} and max(item["attempts"] for item in log) >= 3


async def test_a_receiver_not_listening_is_given_up_on_and_a_delivery_can_be_sent_again(hooked: Api) -> None:
    gone = Receiver()  # its port is taken but nothing answers yet: connections are refused
    gone.sock.close()
    hook = await subscribe(hooked, gone.url, types=["charger"])
    await hooked.service.update_charger("dep-a01", {"name": "C1"})

    async def failed() -> list[dict[str, Any]]:
        while True:
            log = await deliveries(hooked, hook["id"], status="failed")
            if log:
                return log
            await asyncio.sleep(0.05)

    (given_up,) = await asyncio.wait_for(failed(), 8)
    assert given_up["attempts"] == QUICK.max_attempts and given_up["lastError"] and given_up["lastStatusCode"] is None
    # The receiver comes up on that port; an operator sends the delivery again.
    back = Receiver()
    back.sock.close()
    back.sock = socket.create_server(("127.0.0.1", int(gone.url.split(":")[2].split("/")[0])))
    await back.start()
    try:
        response = await hooked.client.post(
            f"/webhooks/{hook['id']}/deliveries/{given_up['id']}/redeliver", headers=hooked.x_api_key()
        )
        assert response.status_code == 202 and response.json()["data"]["status"] == "pending"
        await eventually(lambda: len(back.received) == 1)
        assert back.events()[0]["data"]["name"] == "C1"
        (done,) = await deliveries(hooked, hook["id"])
        assert done["status"] == "delivered" and done["attempts"] == 1
    finally:
        await back.stop()
        back.sock.close()


async def test_subscriptions_belong_to_their_organization_and_are_checked(hooked: Api, receiver: Receiver) -> None:
    hook = await subscribe(hooked, receiver.url)
    listed = (await hooked.client.get("/webhooks", headers=hooked.x_api_key())).json()["data"]
    assert [item["id"] for item in listed] == [hook["id"]] and "secret" not in listed[0]
    acme = hooked.x_api_key(hooked.acme_key)
    assert (await hooked.client.get("/webhooks", headers=acme)).json()["data"] == []
    assert_error(await hooked.client.get(f"/webhooks/{hook['id']}/deliveries", headers=acme), 404, "NOT_FOUND")
    assert_error(await hooked.client.delete(f"/webhooks/{hook['id']}", headers=acme), 404, "NOT_FOUND")
    bad = await hooked.client.post(
        "/webhooks", headers=hooked.x_api_key(), json={"url": "ftp://example.com", "types": ["charger", "nope"], "secret": "short"}
    )
    fields = {item["field"] for item in assert_error(bad, 422, "VALIDATION_ERROR")["error"]["details"]}
    assert "secret" in fields
    bad = await hooked.client.post("/webhooks", headers=hooked.x_api_key(), json={"url": "ftp://example.com", "types": ["nope"]})
    fields = {item["field"] for item in assert_error(bad, 422, "VALIDATION_ERROR")["error"]["details"]}
    assert fields == {"url", "types"}
    assert (await hooked.client.delete(f"/webhooks/{hook['id']}", headers=hooked.x_api_key())).status_code == 204
    await hooked.service.update_charger("dep-a01", {"name": "After the end"})
    await asyncio.sleep(0.3)
    assert all(event["data"].get("name") != "After the end" for event in receiver.events())


async def test_deliveries_written_before_a_stop_are_sent_after_a_restart(service: ConsoleService, receiver: Receiver) -> None:
    load(service)
    _, key = await service.create_api_key("default")
    first = ApiServer(service, port=0, environment="test", webhooks=QUICK)
    await first.start()
    async with httpx.AsyncClient(base_url=first.url, timeout=5) as client:
        response = await client.post("/webhooks", headers={"x-api-key": key}, json={"url": receiver.url, "types": ["charger"]})
        hook = response.json()["data"]
    receiver.down = True
    await service.update_charger("dep-a01", {"name": "Kept"})
    await eventually(lambda: receiver.refused >= 1)
    await first.stop()
    receiver.down = False
    second = ApiServer(service, port=0, environment="test", webhooks=QUICK)
    await second.start()
    try:
        await eventually(lambda: len(receiver.received) == 1)
        assert receiver.events()[0]["data"]["name"] == "Kept"
        assert receiver.events()[0]["organizationId"] == "org-default" and hook["id"]
    finally:
        with contextlib.suppress(Exception):
            await second.stop()


async def test_the_cli_manages_subscriptions_a_running_server_delivers(
    hooked: Api, receiver: Receiver, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from console.cli import main

    said: list[str] = []

    def cli(*words: str) -> str:
        assert main(["webhooks", *words, "--db", db_url]) == 0
        out, err = capsys.readouterr()
        said.append(err)
        return out

    created = await asyncio.to_thread(cli, "create", receiver.url, "--types", "charger")
    hook_id = created.split("\t")[0]
    assert hook_id.startswith("wh_") and "signing secret: whsec_" in said[-1]
    assert hook_id in await asyncio.to_thread(cli, "list")
    dispatcher = hooked.server.app.state.webhooks  # the running server reads subscriptions again every refresh_s
    await eventually(lambda: any(subscription.id == hook_id for subscription in dispatcher._subscriptions))
    await hooked.service.update_charger("dep-a01", {"name": "Via the CLI"})
    await eventually(lambda: any(event["data"]["name"] == "Via the CLI" for event in receiver.events()))
    log = await asyncio.to_thread(cli, "deliveries", hook_id)
    delivery_id = log.split("\t")[0]
    assert "delivered" in log
    assert "pending again" in await asyncio.to_thread(cli, "redeliver", hook_id, delivery_id)
    await eventually(lambda: sum(event["data"]["name"] == "Via the CLI" for event in receiver.events()) == 2)
    assert f"deleted {hook_id}" in await asyncio.to_thread(cli, "delete", hook_id)
    assert hook_id not in await asyncio.to_thread(cli, "list")
