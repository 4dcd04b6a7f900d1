"""Idempotency-Key on POST over a live server: a retry gets the first answer and creates nothing new."""

from __future__ import annotations

import asyncio

from apitools import Api
from test_deployments import assert_error
from test_devices import assert_envelope

CHARGE = {"command": "charge", "start": "2026-04-02T10:00:00Z", "onConflict": "queue_after"}


async def actions_of(api: Api, charger_id: str) -> list[str]:
    return [action.id for action in await api.service.list_actions(charger_id)]


async def test_a_retry_with_the_same_key_gets_the_first_answer(api: Api) -> None:
    headers = {**api.x_api_key(), "Idempotency-Key": "retry-1"}
    first = await api.client.post("/ev-charger/dep-a01", headers=headers, json=CHARGE)
    again = await api.client.post("/ev-charger/dep-a01", headers=headers, json=CHARGE)
    action = assert_envelope(first, 201)
    assert assert_envelope(again, 201) == action and again.json()["meta"] == first.json()["meta"]
    assert again.headers["Location"] == first.headers["Location"] == f"/actions/{action['id']}"
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.headers["X-Request-Id"] != first.headers["X-Request-Id"]
    assert await actions_of(api, "dep-a01") == [action["id"]]
    # Without a key a retry is a second command (queued after the first).
    await api.client.post("/ev-charger/dep-a01", headers=api.x_api_key(), json=CHARGE)
    assert len(await actions_of(api, "dep-a01")) == 2


async def test_the_same_key_with_another_body_is_a_422(api: Api) -> None:
    headers = {**api.x_api_key(), "Idempotency-Key": "retry-2"}
    assert_envelope(await api.client.post("/ev-charger/dep-a01", headers=headers, json=CHARGE), 201)
    other = {**CHARGE, "start": "2026-04-02T11:00:00Z"}
    body = assert_error(await api.client.post("/ev-charger/dep-a01", headers=headers, json=other), 422, "IDEMPOTENCY_KEY_REUSED")
    assert body["error"]["details"] == [{"field": "Idempotency-Key", "message": "used with another request"}]
    assert_error(await api.client.post("/ev-charger/dep-a02", headers=headers, json=CHARGE), 422, "IDEMPOTENCY_KEY_REUSED")
    assert len(await actions_of(api, "dep-a01")) == 1 and await actions_of(api, "dep-a02") == []
    for bad in ("", "has space", "x" * 256):
        assert_error(
            await api.client.post("/ev-charger/dep-a02", headers={**api.x_api_key(), "Idempotency-Key": bad}, json=CHARGE),
            422,
            "VALIDATION_ERROR",
        )
    assert await actions_of(api, "dep-a02") == []


async def test_a_key_is_kept_for_a_day_and_per_api_key(api: Api) -> None:
    headers = {"Idempotency-Key": "daily"}
    charge = {**CHARGE, "start": "2026-04-05T10:00:00Z"}  # still ahead a day later
    first = assert_envelope(await api.client.post("/ev-charger/dep-a01", headers={**api.x_api_key(), **headers}, json=charge), 201)
    _, other_key = await api.service.create_api_key("default")
    second = assert_envelope(await api.client.post("/ev-charger/dep-a01", headers={**api.x_api_key(other_key), **headers}, json=charge), 201)
    assert second["id"] != first["id"]
    api.clock.advance(24 * 3600)
    third = assert_envelope(await api.client.post("/ev-charger/dep-a01", headers={**api.x_api_key(), **headers}, json=charge), 201)
    assert third["id"] not in (first["id"], second["id"])


async def test_retries_at_once_run_once_and_a_revoked_key_replays_nothing(api: Api, runtime) -> None:  # type: ignore[no-untyped-def]
    view, key = await api.service.create_api_key("default", scopes=["read", "operate"])
    headers = {**api.bearer(key), "Idempotency-Key": "storm"}
    answers = await asyncio.gather(*(api.client.post("/ocpp/chargers/CP-A02/start", headers=headers) for _ in range(5)))
    assert {answer.status_code for answer in answers} == {200}
    assert runtime.calls == [("start", "dep-a02")] and len(await actions_of(api, "dep-a02")) == 1
    await api.service.revoke_api_key(view.id)
    assert_error(await api.client.post("/ocpp/chargers/CP-A02/start", headers=headers), 401, "UNAUTHORIZED")


async def test_a_failed_answer_is_not_kept(api: Api) -> None:
    headers = {**api.x_api_key(), "Idempotency-Key": "again"}
    assert_error(await api.client.post("/ev-charger/dep-a01", headers=headers, json={**CHARGE, "start": "2020-01-01T00:00:00Z"}), 422, "START_OUT_OF_RANGE")
    assert_envelope(await api.client.post("/ev-charger/dep-a01", headers=headers, json=CHARGE), 201)
