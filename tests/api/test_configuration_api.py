"""/console/chargers/{charger_id}/configuration on a live server with a real 1.6 charger: fetched, read back, changed
with confirmation; the attach client reads the same; another organization's charger is not found."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from apitools import Api
from test_deployments import assert_error

from console.api.client import RemoteBackend
from console.core.errors import CommandRefused
from console.core.service import ConsoleService
from console.csms.server import CentralSystem

sys.path.insert(0, str(Path(__file__).parents[1] / "csms"))
from ocpp_clients import charge_point, eventually  # noqa: E402
from test_configuration import Big16  # noqa: E402


@pytest.fixture
async def central(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


async def test_configuration_is_fetched_read_and_changed_over_the_api(api: Api, central: CentralSystem) -> None:
    base = "/console/chargers/dep-a01/configuration"
    empty = await api.client.get(base, headers=api.bearer())
    assert empty.status_code == 200 and empty.json()["settings"] == []
    async with charge_point(central.url, "CP-A01", "ocpp1.6", client=Big16) as cp:
        await eventually(lambda: central.is_connected("CP-A01"))
        fetched = await api.client.post(f"{base}/refresh", headers=api.bearer())
        assert fetched.status_code == 200, fetched.text
        body = fetched.json()
        assert len(body["settings"]) == 200 and body["problem"] is None and body["fetched_at"].endswith("Z")
        url = next(item for item in body["settings"] if item["key"] == "CentralSystemURL")
        assert url["warning"] and url["readonly"] is False

        changed = await api.client.put(base, json={"key": "HeartbeatInterval", "value": "90"}, headers=api.bearer())
        assert changed.status_code == 200 and changed.json()["status"] == "Accepted"
        refused = assert_error(
            await api.client.put(base, json={"key": "CentralSystemURL", "value": "ws://x"}, headers=api.bearer()),
            422, "CONFIRMATION_REQUIRED",
        )
        assert refused["error"]["details"][0]["field"] == "confirm"
        read_only = await api.client.put(base, json={"key": "NumberOfConnectors", "value": "4"}, headers=api.bearer())
        assert read_only.status_code == 422 and read_only.json()["error"]["details"][0]["field"] == "key"
        assert cp.changes == [("HeartbeatInterval", "90")]

        remote = RemoteBackend(api.url, api.key)
        await remote.connect()
        try:
            view = await remote.charger_configuration("dep-a01")
            assert len(view.settings) == 200 and {s.key: s.value for s in view.settings}["HeartbeatInterval"] == "90"
            with pytest.raises(CommandRefused):
                await remote.change_configuration("dep-a01", "AuthorizationKey", "new-key-0000000001")
            result = await remote.change_configuration("dep-a01", "AuthorizationKey", "new-key-0000000001", confirmed=True)
            assert result.state == "acknowledged"
        finally:
            await remote.aclose()
    assert cp.changes[-1] == ("AuthorizationKey", "new-key-0000000001")
    changes = [a.parameters for a in await api.service.list_actions("dep-a01") if a.command == "set_configuration"]
    assert {"key": "AuthorizationKey", "value": "********"} in changes  # the record never holds it

    for method, path in (("get", base), ("post", f"{base}/refresh"), ("put", base)):
        answer = await api.client.request(method, path, json={"key": "K", "value": "v"} if method == "put" else None, headers=api.bearer(api.acme_key))
        assert_error(answer, 404, "NOT_FOUND")
