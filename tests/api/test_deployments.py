"""The charger deployment API (first seed) over a live server: shapes, auth, scoping, paging, errors."""

from __future__ import annotations

import pytest

from apitools import Api
from seeds import SEED_CHARGER

pytestmark = pytest.mark.stores("sqlite", "postgresql")


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code, body
    assert set(body["meta"]) == {"requestId", "environment", "timestamp", "latencyMs"}
    return body


async def test_get_charger_answers_the_seeds_object(api: Api) -> None:
    response = await api.client.get("/ocpp/chargers/dep-a01", headers=api.bearer())
    assert response.status_code == 200
    charger = response.json()
    assert set(charger) == set(SEED_CHARGER)
    assert charger["identity"] == "CP-A01" and charger["max_charging_power"] == 22000
    assert charger["created_at"] == "2026-04-01T08:00:00Z"


async def test_list_is_the_organizations_chargers_paged(api: Api) -> None:
    response = await api.client.get("/ocpp/chargers", headers=api.bearer())
    assert [item["id"] for item in response.json()] == ["dep-a01", "dep-a02", "dep-a03"]
    assert response.headers["X-Total-Count"] == "3"
    page = await api.client.get("/ocpp/chargers", params={"limit": 2, "offset": 1}, headers=api.bearer())
    assert [item["id"] for item in page.json()] == ["dep-a02", "dep-a03"]
    past = await api.client.get("/ocpp/chargers", params={"offset": 10}, headers=api.bearer())
    assert past.json() == [] and past.headers["X-Total-Count"] == "3"
    acme = await api.client.get("/ocpp/chargers", headers=api.bearer(api.acme_key))
    assert [item["id"] for item in acme.json()] == ["dep-x01", "dep-x02"]
    assert_error(await api.client.get("/ocpp/chargers", params={"limit": 501}, headers=api.bearer()), 422, "VALIDATION_ERROR")


async def test_a_missing_wrong_or_revoked_key_is_401(api: Api) -> None:
    assert_error(await api.client.get("/ocpp/chargers"), 401, "UNAUTHORIZED")
    assert_error(await api.client.get("/ocpp/chargers", headers=api.bearer("ocpp_sk_nope")), 401, "UNAUTHORIZED")
    assert_error(await api.client.get("/ocpp/chargers", headers={"Authorization": "Basic eDp5"}), 401, "UNAUTHORIZED")
    view, key = await api.service.create_api_key("acme")
    assert (await api.client.get("/ocpp/chargers", headers=api.bearer(key))).status_code == 200
    await api.service.revoke_api_key(view.id)
    assert_error(await api.client.get("/ocpp/chargers", headers=api.bearer(key)), 401, "UNAUTHORIZED")
    assert (await api.client.get("/ocpp/chargers", headers=api.bearer(api.acme_key))).status_code == 200


async def test_another_organizations_charger_is_404_everywhere(api: Api) -> None:
    other = api.bearer(api.acme_key)
    for method, path in [
        ("GET", "/ocpp/chargers/dep-a01"),
        ("PUT", "/ocpp/chargers/dep-a01"),
        ("DELETE", "/ocpp/chargers/dep-a01"),
        ("GET", "/ocpp/chargers/dep-a01/provisioning"),
        ("POST", "/ocpp/chargers/dep-a01/start"),
        ("POST", "/ocpp/chargers/dep-a01/stop"),
        ("POST", "/ocpp/chargers/dep-a01/restart"),
        ("GET", "/ocpp/chargers/dep-a01/logs"),
    ]:
        body = {"name": "mine now"} if method == "PUT" else None
        response = await api.client.request(method, path, headers=other, json=body)
        assert_error(response, 404, "NOT_FOUND")
    assert (await api.service.get_charger("dep-a01")).name == "Bay CP-A01"
    assert api.server.app.state.service.runtime.calls == []


async def test_create_update_delete(api: Api) -> None:
    created = await api.client.post(
        "/ocpp/chargers",
        headers=api.bearer(api.acme_key),
        json={"identity": "ACME-03", "name": "Bay 3", "max_charging_power": 11000, "location_id": "loc-acme"},
    )
    assert created.status_code == 201, created.text
    charger = created.json()
    assert set(charger) == set(SEED_CHARGER) and charger["id"].startswith("dep-")
    assert (await api.service.get_charger(charger["id"])).organization_id == "org-acme"
    updated = await api.client.put(f"/ocpp/chargers/{charger['id']}", headers=api.bearer(api.acme_key), json={"name": "Bay three"})
    assert updated.json()["name"] == "Bay three" and updated.json()["max_charging_power"] == 11000
    # The object as read may be sent back whole.
    again = await api.client.put(f"/ocpp/chargers/{charger['id']}", headers=api.bearer(api.acme_key), json=updated.json())
    assert again.status_code == 200, again.text
    deleted = await api.client.delete(f"/ocpp/chargers/{charger['id']}", headers=api.bearer(api.acme_key))
    assert deleted.status_code == 204
    assert_error(await api.client.get(f"/ocpp/chargers/{charger['id']}", headers=api.bearer(api.acme_key)), 404, "NOT_FOUND")


async def test_bad_fields_are_422_listing_each_field(api: Api) -> None:
    response = await api.client.post(
        "/ocpp/chargers", headers=api.bearer(), json={"identity": "CP-A01", "max_charging_power": -5, "ocpp_version": "OCPP9"}
    )
    fields = {item["field"] for item in assert_error(response, 422, "VALIDATION_ERROR")["error"]["details"]}
    assert {"identity", "max_charging_power", "ocpp_version"} <= fields
    # Another organization's location does not exist for this key.
    response = await api.client.post("/ocpp/chargers", headers=api.bearer(), json={"identity": "CP-NEW", "location_id": "loc-acme"})
    assert [item["field"] for item in assert_error(response, 422, "VALIDATION_ERROR")["error"]["details"]] == ["location_id"]
    response = await api.client.put("/ocpp/chargers/dep-a01", headers=api.bearer(), json={"location_id": "loc-acme"})
    assert_error(response, 422, "VALIDATION_ERROR")
    assert (await api.service.get_charger("dep-a01")).location_id == "loc-depot"


async def test_malformed_bodies_and_wrong_types_are_422_in_the_envelope(api: Api) -> None:
    headers = {**api.bearer(), "Content-Type": "application/json"}
    for content in [b"{", b"[]", b"null", b'"text"', b"\xff\xfe", b'{"identity": 5, "number_of_connectors": "many"}', b'{"colour": "red"}']:
        response = await api.client.post("/ocpp/chargers", headers=headers, content=content)
        body = assert_error(response, 422, "VALIDATION_ERROR")
        assert body["error"]["details"], body
    response = await api.client.post("/ocpp/chargers", headers=api.bearer(), content=b"identity=x")
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_provisioning(api: Api) -> None:
    response = await api.client.get("/ocpp/chargers/dep-a01/provisioning", headers=api.bearer())
    assert response.status_code == 200
    report = response.json()
    assert report["charger_id"] == "dep-a01" and report["status"] == "created" and report["registration"] == "accepted"
    assert report["is_connected"] is False


async def test_start_stop_restart_say_what_happened(api: Api, runtime) -> None:  # type: ignore[no-untyped-def]
    for command in ("start", "stop", "restart"):
        response = await api.client.post(f"/ocpp/chargers/dep-a01/{command}", headers=api.bearer())
        assert response.status_code == 200, response.text
        assert response.json()["message"] == f"dep-a01 {command}ed".replace("stoped", "stopped")
        assert response.json()["command"] == command
    assert runtime.calls == [("start", "dep-a01"), ("stop", "dep-a01"), ("restart", "dep-a01")]
    # A real charger has no runtime, and restarting it needs it online.
    assert_error(await api.client.post("/ocpp/chargers/dep-a03/start", headers=api.bearer()), 409, "UNAVAILABLE")
    assert_error(await api.client.post("/ocpp/chargers/dep-a03/restart", headers=api.bearer()), 409, "UNAVAILABLE")


async def test_logs_are_paged_newest_first(api: Api) -> None:
    for number in range(5):
        api.service.live.log("CP-A02", "event", f"line {number}", charger_id="dep-a02")
    response = await api.client.get("/ocpp/chargers/dep-a02/logs", params={"limit": 2}, headers=api.bearer())
    first = response.json()
    assert [line["message"] for line in first] == ["line 4", "line 3"]
    cursor = response.headers["X-Next-Before"]
    assert cursor == str(first[-1]["id"])
    rest = await api.client.get("/ocpp/chargers/dep-a02/logs", params={"limit": 500, "before": cursor}, headers=api.bearer())
    assert [line["message"] for line in rest.json()] == ["line 2", "line 1", "line 0"]
    assert "X-Next-Before" not in rest.headers
    assert_error(await api.client.get("/ocpp/chargers/dep-a02/logs", params={"limit": 501}, headers=api.bearer()), 422, "VALIDATION_ERROR")
    assert_error(await api.client.get("/ocpp/chargers/dep-a02/logs", params={"limit": 0}, headers=api.bearer()), 422, "VALIDATION_ERROR")
    assert_error(await api.client.get("/ocpp/chargers/dep-a02/logs", params={"before": "x"}, headers=api.bearer()), 422, "VALIDATION_ERROR")


async def test_unknown_paths_and_methods_answer_in_the_envelope(api: Api) -> None:
    assert_error(await api.client.get("/nowhere", headers=api.bearer()), 404, "NOT_FOUND")
    assert_error(await api.client.patch("/ocpp/chargers/dep-a01", headers=api.bearer()), 405, "METHOD_NOT_ALLOWED")


async def test_health_needs_no_key_and_says_only_whether_the_server_is_up(api: Api) -> None:
    response = await api.client.get("/health")
    assert response.status_code == 200
    assert response.json()["data"] == {"status": "degraded"}  # this fixture runs no OCPP server
    assert response.json()["meta"]["environment"] == "test"
    # With a key: the store, the listener and the organization's own counts.
    health = (await api.client.get("/health", headers=api.bearer())).json()["data"]
    assert health["store"]["reachable"] is True
    assert health["counts"] == {"chargers": 3, "connected": 0}
    assert (await api.client.get("/health", headers=api.bearer(api.acme_key))).json()["data"]["counts"] == {"chargers": 2, "connected": 0}


async def test_openapi_is_served(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    assert {"/ocpp/chargers", "/ev-charger", "/actions/{action_id}/cancel", "/events", "/health"} <= set(spec["paths"])
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
