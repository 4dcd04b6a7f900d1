"""/tokens on a live server: CRUD per organization in the envelope, pages, 404/409/422, CSV import whole or not at all,
and the local list of a real 1.6 charger pushed and read back."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from apitools import Api
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from test_deployments import assert_error

from console.core.service import ConsoleService
from console.csms.server import CentralSystem

sys.path.insert(0, str(Path(__file__).parents[1] / "csms"))
from ocpp_clients import charge_point, eventually  # noqa: E402  (the real OCPP clients of tests/csms)


def ok(response, status: int = 200) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True and set(body["meta"]) == {"requestId", "environment", "timestamp", "latencyMs"}
    return body["data"]


async def test_tokens_are_created_read_updated_paged_and_deleted(api: Api) -> None:
    created = ok(
        await api.client.post(
            "/tokens",
            json={"token": "04A2B3C4", "parentId": "FLEET-A", "expiresAt": "2027-01-31T00:00:00Z", "label": "Van 12",
                  "locationIds": ["loc-depot"]},
            headers=api.x_api_key(),
        ),
        201,
    )
    assert created["id"].startswith("tok_") and created["type"] == "ISO14443" and created["status"] == "Accepted"
    assert (created["expiresAt"], created["locationIds"], created["label"]) == ("2027-01-31T00:00:00Z", ["loc-depot"], "Van 12")
    token_id = created["id"]
    assert ok(await api.client.get(f"/tokens/{token_id}", headers=api.bearer())) == created

    changed = ok(await api.client.put(f"/tokens/{token_id}", json={"status": "Blocked"}, headers=api.bearer()))
    assert changed["status"] == "Blocked" and changed["label"] == "Van 12"  # only what was sent changes

    for number in range(5):
        ok(await api.client.post("/tokens", json={"token": f"CARD-{number}"}, headers=api.bearer()), 201)
    response = await api.client.get("/tokens", params={"limit": 2, "offset": 2}, headers=api.bearer())
    page = ok(response)
    assert response.headers["X-Total-Count"] == "6"
    assert [item["token"] for item in page["items"]] == ["CARD-1", "CARD-2"]  # by token: 04A2B3C4, CARD-0, then these
    assert page["pagination"] == {"limit": 2, "offset": 2, "total": 6, "hasMore": True}
    blocked = ok(await api.client.get("/tokens", params={"status": "Blocked"}, headers=api.bearer()))
    assert [item["id"] for item in blocked["items"]] == [token_id]

    response = await api.client.delete(f"/tokens/{token_id}", headers=api.bearer())
    assert response.status_code == 204
    assert_error(await api.client.get(f"/tokens/{token_id}", headers=api.bearer()), 404, "NOT_FOUND")


async def test_tokens_belong_to_their_organization(api: Api) -> None:
    mine = ok(await api.client.post("/tokens", json={"token": "CARD-1"}, headers=api.bearer()), 201)
    assert_error(await api.client.get(f"/tokens/{mine['id']}", headers=api.bearer(api.acme_key)), 404, "NOT_FOUND")
    assert_error(await api.client.put(f"/tokens/{mine['id']}", json={"label": "x"}, headers=api.bearer(api.acme_key)), 404, "NOT_FOUND")
    assert_error(await api.client.delete(f"/tokens/{mine['id']}", headers=api.bearer(api.acme_key)), 404, "NOT_FOUND")
    assert ok(await api.client.get("/tokens", headers=api.bearer(api.acme_key)))["items"] == []
    # The same token in another organization is another token; a location of another organization is no location.
    ok(await api.client.post("/tokens", json={"token": "CARD-1"}, headers=api.bearer(api.acme_key)), 201)
    body = assert_error(
        await api.client.post("/tokens", json={"token": "CARD-2", "locationIds": ["loc-depot"]}, headers=api.bearer(api.acme_key)),
        422, "VALIDATION_ERROR",
    )
    assert body["error"]["details"] == [{"field": "location_ids", "message": "no location 'loc-depot'"}]


async def test_bad_tokens_are_refused_in_the_envelope(api: Api) -> None:
    ok(await api.client.post("/tokens", json={"token": "CARD-1"}, headers=api.bearer()), 201)
    assert_error(await api.client.post("/tokens", json={"token": "card-1"}, headers=api.bearer()), 409, "CONFLICT")
    body = assert_error(
        await api.client.post("/tokens", json={"token": "", "type": "Barcode", "status": "Lost"}, headers=api.bearer()),
        422, "VALIDATION_ERROR",
    )
    assert {detail["field"] for detail in body["error"]["details"]} == {"token", "type", "status"}
    assert_error(await api.client.post("/tokens", json={"token": "A", "colour": "red"}, headers=api.bearer()), 422, "VALIDATION_ERROR")
    assert_error(await api.client.get("/tokens", headers={}), 401, "UNAUTHORIZED")


async def test_a_token_file_is_imported_whole_or_not_at_all(api: Api) -> None:
    bad = "token,status,label\nGOOD-1,Accepted,Van 1\nBAD-1,Lost,\n,Accepted,no token\n"
    body = assert_error(
        await api.client.post("/tokens/import", content=bad, headers={**api.bearer(), "Content-Type": "text/csv"}),
        422, "IMPORT_REFUSED",
    )
    assert [detail["field"] for detail in body["error"]["details"]] == ["row 2 (BAD-1).status", "row 3.token"]
    assert ok(await api.client.get("/tokens", headers=api.bearer()))["items"] == []
    good = "token,status,label\nGOOD-1,Accepted,Van 1\nGOOD-2,Blocked,Van 2\n"
    imported = ok(await api.client.post("/tokens/import", content=good, headers={**api.bearer(), "Content-Type": "text/csv"}))
    assert imported == {"imported": 2}


class LocalListCharger(ChargePoint):
    """A real 1.6 charger (the `ocpp` package's client) that keeps a local list and its version."""

    version = 0
    entries: dict[str, str] = {}

    @on(Action.send_local_list)
    def on_send_local_list(self, list_version: int, update_type: str, local_authorization_list: list | None = None) -> call_result.SendLocalList:
        if update_type == "Full":
            self.entries = {}
        for entry in local_authorization_list or []:
            if "id_tag_info" in entry:
                self.entries[entry["id_tag"]] = entry["id_tag_info"]["status"]
            else:
                self.entries.pop(entry["id_tag"], None)
        self.version = list_version
        return call_result.SendLocalList(status="Accepted")

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self) -> call_result.GetLocalListVersion:
        return call_result.GetLocalListVersion(list_version=self.version)


@pytest.fixture
async def central(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


async def test_a_chargers_local_list_is_pushed_and_its_version_shown(api: Api, central: CentralSystem) -> None:
    ok(await api.client.post("/tokens", json={"token": "CARD-1"}, headers=api.bearer()), 201)
    async with charge_point(central.url, "CP-A01", "ocpp1.6", client=LocalListCharger) as cp:
        await eventually(lambda: central.is_connected("CP-A01"))
        lists = {item["chargerId"]: item for item in ok(await api.client.get("/tokens/local-lists", headers=api.bearer()))}
        assert (lists["dep-a01"]["version"], lists["dep-a01"]["current"]) == (0, False)
        pushed = ok(await api.client.post("/tokens/local-lists/dep-a01", headers=api.bearer()))
        assert (pushed["version"], pushed["entries"], pushed["current"]) == (1, 1, True)
        assert (cp.version, cp.entries) == (1, {"CARD-1": "Accepted"})
    assert_error(await api.client.post("/tokens/local-lists/dep-x01", headers=api.bearer()), 404, "NOT_FOUND")


async def test_attach_mode_reads_and_writes_the_tokens(api: Api) -> None:
    from console.api.client import RemoteBackend
    from console.core.errors import ConsoleError, ValidationFailed

    remote = RemoteBackend(api.url, api.key, reconnect_delays=(0.05, 0.1))
    await remote.connect()
    try:
        created = await remote.save_token({"token": "CARD-1", "label": "Van 1", "expires_at": "2027-01-31T00:00:00Z"})
        assert (created.token, created.label, created.expires_at.year) == ("CARD-1", "Van 1", 2027)
        blocked = await remote.save_token({"status": "Blocked"}, created.id)
        assert blocked.status == "Blocked" and blocked.label == "Van 1"
        with pytest.raises(ValidationFailed) as refused:
            await remote.save_token({"token": "CARD-2", "type": "Barcode"})
        assert set(refused.value.problems) == {"type"}
        with pytest.raises(ConsoleError) as bad_file:
            await remote.import_token_file("token,status\nCARD-3,Lost\n")
        assert "row 1 (CARD-3): status" in str(bad_file.value)
        assert await remote.import_token_file("token,label\nCARD-3,Van 3\n") == 1
        assert [(token.token, token.label) for token in await remote.list_tokens()] == [("CARD-1", "Van 1"), ("CARD-3", "Van 3")]
        await remote.delete_token(created.id)
        assert [token.token for token in await remote.list_tokens()] == ["CARD-3"]
    finally:
        await remote.aclose()
