"""The API's surface: control endpoints by identity, filters and unknown parameters, public transactions, the contract."""

from __future__ import annotations

from apitools import Api
from test_deployments import assert_error


async def test_control_endpoints_take_the_charger_identity(api: Api, runtime) -> None:  # type: ignore[no-untyped-def]
    for command in ("start", "stop", "restart"):
        response = await api.client.post(f"/ocpp/chargers/CP-A01/{command}", headers=api.bearer())
        assert response.status_code == 200, response.text
        assert (response.json()["charger_id"], response.json()["identity"]) == ("dep-a01", "CP-A01")
    # The internal id still works; another organization's identity is not found.
    assert (await api.client.post("/ocpp/chargers/dep-a01/start", headers=api.bearer())).status_code == 200
    assert runtime.calls == [("start", "dep-a01"), ("stop", "dep-a01"), ("restart", "dep-a01"), ("start", "dep-a01")]
    assert_error(await api.client.post("/ocpp/chargers/ACME-01/start", headers=api.bearer()), 404, "NOT_FOUND")
    assert_error(await api.client.post("/ocpp/chargers/NOPE/stop", headers=api.bearer()), 404, "NOT_FOUND")


async def test_unknown_query_parameters_are_a_422(api: Api) -> None:
    body = assert_error(await api.client.get("/ocpp/chargers?limt=5", headers=api.bearer()), 422, "VALIDATION_ERROR")
    assert body["error"]["details"] == [{"field": "limt", "message": "unknown query parameter"}]
    assert "limit" in body["error"]["message"]
    assert_error(await api.client.get("/ev-charger?userid=user_abc123", headers=api.x_api_key()), 422, "VALIDATION_ERROR")
    assert_error(await api.client.post("/ocpp/chargers/CP-A01/start?force=1", headers=api.bearer()), 422, "VALIDATION_ERROR")
    assert_error(await api.client.get("/console/info?x=1", headers=api.bearer()), 422, "VALIDATION_ERROR")
    # Declared ones still work, and /health takes none.
    assert (await api.client.get("/ocpp/chargers?limit=1&offset=1", headers=api.bearer())).status_code == 200
    assert_error(await api.client.get("/health?verbose=1"), 422, "VALIDATION_ERROR")


async def test_charger_list_filters_by_location_and_status(api: Api) -> None:
    async def identities(query: str) -> tuple[list[str], str]:
        response = await api.client.get(f"/ocpp/chargers?{query}", headers=api.bearer())
        assert response.status_code == 200, response.text
        return [item["identity"] for item in response.json()], response.headers["X-Total-Count"]

    assert await identities("location_id=loc-depot") == (["CP-A01", "CP-A02"], "2")
    assert await identities("location_id=loc-acme") == ([], "0")  # another organization's location
    assert await identities("status=offline&limit=1") == (["CP-A01"], "3")
    assert await identities("status=charging") == ([], "0")
    assert_error(await api.client.get("/ocpp/chargers?status=asleep", headers=api.bearer()), 422, "VALIDATION_ERROR")


def test_the_enums_are_the_cores_names() -> None:
    from typing import get_args

    from console.api.schemas import ActionState, ChargerStatus, Command, Execution, OnConflict
    from console.core.engine import COMMANDS, CONFLICT_STRATEGIES, TERMINAL
    from console.core.live import STATUS_PRIORITY

    assert set(get_args(ChargerStatus)) == {"offline", *STATUS_PRIORITY}
    assert set(get_args(Command)) == set(COMMANDS) and list(get_args(OnConflict)) == CONFLICT_STRATEGIES
    assert set(get_args(Execution)) == {execution for spec in COMMANDS.values() for execution in spec["execution"]}
    assert set(TERMINAL) < set(get_args(ActionState))


async def test_transactions_in_the_public_api(api: Api) -> None:
    from datetime import timedelta

    live, now = api.service.live, api.clock.now()
    energy = "Energy.Active.Import.Register"
    first = await live.transaction_started("dep-a01", 1, "TAG-1", 1_000, now)
    await live.transaction_stopped(
        "dep-a01", first, 3_000, now + timedelta(minutes=5), "Local",
        samples=[(now, energy, None, "Wh", 1_000.0), (now + timedelta(minutes=5), energy, None, "Wh", 3_000.0)],
    )
    second = await live.transaction_started("dep-a01", 1, "TAG-2", 3_000, now + timedelta(minutes=10))
    await api.service.writer.flush()
    response = await api.client.get("/ocpp/chargers/CP-A01/transactions?limit=1", headers=api.bearer())
    assert response.status_code == 200 and response.headers["X-Total-Count"] == "2"
    assert [item["id"] for item in response.json()] == [second]
    older = (await api.client.get("/ocpp/chargers/dep-a01/transactions?offset=1", headers=api.bearer())).json()
    assert [(item["id"], item["energy_kwh"]) for item in older] == [(first, 2.0)]
    one = await api.client.get(f"/transactions/{first}", headers=api.bearer())
    assert one.status_code == 200
    assert one.json()["transaction"]["id"] == first and [v["value"] for v in one.json()["meter_values"]] == [1000.0, 3000.0]
    exported = await api.client.get(f"/transactions/{first}/meter-values.csv", headers=api.bearer())
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.splitlines()
    assert lines[0] == "transaction_id,charger_id,identity,at,connector_id,measurand,phase,unit,value"
    assert lines[1:] == [
        f"{first},dep-a01,CP-A01,2026-04-02T09:15:00Z,1,{energy},,Wh,1000.0",
        f"{first},dep-a01,CP-A01,2026-04-02T09:20:00Z,1,{energy},,Wh,3000.0",
    ]
    # Another organization sees none of it.
    assert_error(await api.client.get(f"/transactions/{first}", headers=api.bearer(api.acme_key)), 404, "NOT_FOUND")
    assert_error(await api.client.get(f"/transactions/{first}/meter-values.csv", headers=api.bearer(api.acme_key)), 404, "NOT_FOUND")
    assert_error(await api.client.get("/ocpp/chargers/CP-A01/transactions", headers=api.bearer(api.acme_key)), 404, "NOT_FOUND")
    assert_error(await api.client.get("/transactions/999999", headers=api.bearer()), 404, "NOT_FOUND")


async def test_the_openapi_contract(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    operations = {
        operation["operationId"]: (method, path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    # Stable operationIds: the route's tag and function.
    assert {"chargers_start", "ev_charger_send_command", "ev_charger_list_actions", "keys_revoke_key"} <= set(operations)
    for operation_id, (method, path, operation) in operations.items():
        responses = operation["responses"]
        assert {"422", "500"} <= set(responses), operation_id
        if operation.get("security"):
            assert {"401", "403"} <= set(responses), operation_id
        for code, response in responses.items():
            assert "X-Request-Id" in response["headers"], (operation_id, code)
            if code[0] in "45":
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
        if method == "post":
            assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation["parameters"]), operation_id
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    components = schema["components"]["schemas"]
    command = components["CommandRequest"]["properties"]
    assert command["command"]["enum"] == ["charge", "idle"]
    assert command["execution"]["enum"] == ["immediate", "scheduled", "windowed", None]
    assert command["onConflict"]["enum"] == ["cancel_and_replace", "queue_after", None]
    assert "acknowledged" in components["DeviceAction"]["properties"]["state"]["enum"]
    assert "charging" in components["DeviceState"]["properties"]["status"]["enum"]
    status = next(p for p in operations["chargers_list_chargers"][2]["parameters"] if p["name"] == "status")
    assert "offline" in str(status["schema"])


async def test_the_declared_headers_are_sent(api: Api) -> None:
    from console.api.contract import SUCCESS_HEADERS

    created = await api.client.post("/ev-charger/dep-a01", headers=api.x_api_key(), json={"command": "charge", "start": "2026-04-02T10:00:00Z"})
    api.service.live.log("CP-A02", "event", "a line", charger_id="dep-a02")
    await api.service.writer.flush()
    calls = {
        "chargers_list_chargers": api.client.get("/ocpp/chargers", headers=api.bearer()),
        "chargers_events": api.client.get("/ocpp/chargers/dep-a01/events", headers=api.bearer()),
        "chargers_logs": api.client.get("/ocpp/chargers/dep-a02/logs?limit=1", headers=api.bearer()),
        "ev_charger_list_actions": api.client.get("/actions", headers=api.bearer()),
        "keys_list_keys": api.client.get("/keys", headers=api.bearer()),
        "keys_create_key": api.client.post("/keys", headers=api.bearer(), json={}),
        "tokens_list_tokens": api.client.get("/tokens", headers=api.bearer()),
        "tokens_create_token": api.client.post("/tokens", headers=api.bearer(), json={"token": "AB12"}),
        "transactions_list_transactions": api.client.get("/ocpp/chargers/CP-A01/transactions", headers=api.bearer()),
    }
    answers = {"ev_charger_send_command": created}
    for operation_id, call in calls.items():
        answers[operation_id] = await call
    assert set(answers) == set(SUCCESS_HEADERS)
    for operation_id, response in answers.items():
        assert response.status_code in (200, 201), (operation_id, response.text)
        for name in ("X-Request-Id", *SUCCESS_HEADERS[operation_id]):
            assert name in response.headers, (operation_id, name)


async def test_the_api_docs_need_no_cdn(api: Api) -> None:
    import re

    for page in ("/docs", "/redoc"):
        html = (await api.client.get(page)).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets and all(asset.startswith("/") for asset in assets), (page, assets)
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html
        for asset in assets:
            response = await api.client.get(asset)
            assert response.status_code == 200 and len(response.content) > 1000, asset
    swagger = (await api.client.get("/docs")).text
    assert "/openapi.json" in swagger


async def test_the_python_client_drives_the_api(api: Api, runtime) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import pytest

    from console.api.rest_client import ApiClient, ApiError

    def script() -> None:
        with ApiClient(api.url, api.key) as client:
            assert [c["identity"] for c in client.chargers(location_id="loc-depot")] == ["CP-A01", "CP-A02"]
            action = client.command("dep-a01", "charge", start="2026-04-02T10:00:00Z", idempotency_key="once")
            assert client.command("dep-a01", "charge", start="2026-04-02T10:00:00Z", idempotency_key="once") == action
            assert client.start("CP-A02")["identity"] == "CP-A02"
            assert sorted(item["command"] for item in client.actions()) == ["charge", "start"]
            assert client.action(action["id"])["id"] == action["id"]
            assert client.cancel(action["id"])["state"] == "cancelled"
            created = client.create_key(label="script", scopes=["read"])
            assert created["key"] and client.revoke_key(created["id"])["revokedAt"]
            with pytest.raises(ApiError) as refused:
                client.charger("dep-x01")
            assert refused.value.status == 404 and refused.value.code == "NOT_FOUND" and refused.value.request_id

    await asyncio.to_thread(script)
    assert runtime.calls == [("start", "dep-a02")]
