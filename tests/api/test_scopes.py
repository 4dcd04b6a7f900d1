"""Keys with scopes over a live server: 403 without the scope, expiry, last use, list and revoke by an admin key, the key on each action."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from alembic import command
from apitools import Api
from sqlalchemy import create_engine
from test_deployments import assert_error
from test_devices import assert_envelope

from console.core.store import Store
from console.migrations import config

SCHEDULED = {"command": "charge", "start": "2026-04-02T10:00:00Z"}


async def test_a_key_without_the_scope_gets_the_seeds_403(api: Api) -> None:
    _, reader = await api.service.create_api_key("default", scopes=["read"])
    _, operator = await api.service.create_api_key("default", scopes=["read", "operate"])
    _, admin_only = await api.service.create_api_key("default", scopes=["admin"])
    # read: everything that reads, nothing that writes.
    assert_envelope(await api.client.get("/ev-charger", headers=api.x_api_key(reader)))
    assert (await api.client.get("/ocpp/chargers", headers=api.bearer(reader))).status_code == 200
    body = assert_error(await api.client.post("/ev-charger/dep-a01", headers=api.x_api_key(reader), json=SCHEDULED), 403, "FORBIDDEN")
    assert "operate" in body["error"]["message"]
    assert_error(await api.client.post("/ocpp/chargers/CP-A01/start", headers=api.bearer(reader)), 403, "FORBIDDEN")
    assert_error(await api.client.post("/ocpp/chargers", headers=api.bearer(reader), json={"identity": "CP-NEW"}), 403, "FORBIDDEN")
    # operate: commands and the runtime, not the fleet, the caps or the keys.
    assert_envelope(await api.client.post("/ev-charger/dep-a01", headers=api.x_api_key(operator), json=SCHEDULED), 201)
    assert (await api.client.post("/ocpp/chargers/CP-A01/start", headers=api.bearer(operator))).status_code == 200
    assert_error(await api.client.delete("/ocpp/chargers/dep-a02", headers=api.bearer(operator)), 403, "FORBIDDEN")
    assert_error(
        await api.client.put("/console/locations/loc-depot/cap", headers=api.bearer(operator), json={"power_cap_kw": 50}),
        403,
        "FORBIDDEN",
    )
    assert_error(await api.client.get("/keys", headers=api.bearer(operator)), 403, "FORBIDDEN")
    assert_error(await api.client.post("/tokens", headers=api.bearer(operator), json={"token": "AB12"}), 403, "FORBIDDEN")
    # Scopes do not imply each other: admin alone does not read.
    assert_error(await api.client.get("/ev-charger", headers=api.x_api_key(admin_only)), 403, "FORBIDDEN")
    assert_envelope(await api.client.get("/keys", headers=api.bearer(admin_only)))
    # Nothing was done by the refused requests.
    assert api.service.live.record("dep-a02") is not None


async def test_an_expired_key_is_refused(api: Api) -> None:
    _, key = await api.service.create_api_key("default", expires_at=api.clock.now() + timedelta(hours=1))
    assert (await api.client.get("/ev-charger", headers=api.x_api_key(key))).status_code == 200
    api.clock.advance(3600)
    assert_error(await api.client.get("/ev-charger", headers=api.x_api_key(key)), 401, "UNAUTHORIZED")


async def test_admin_lists_creates_and_revokes_its_organizations_keys(api: Api) -> None:
    listed = assert_envelope(await api.client.get("/keys", headers=api.bearer()))
    assert listed["pagination"]["total"] == 1 and listed["items"][0]["scopes"] == ["read", "operate", "admin"]
    assert "key" not in listed["items"][0]
    # Its last use is kept (within a minute), written with the next batch.
    await api.service.writer.flush()
    listed = assert_envelope(await api.client.get("/keys", headers=api.bearer()))
    assert listed["items"][0]["lastUsedAt"] == "2026-04-02T09:15:00Z"
    response = await api.client.post(
        "/keys", headers=api.bearer(), json={"label": "ci", "scopes": ["read"], "expiresAt": "2026-05-01T00:00:00Z"}
    )
    created = assert_envelope(response, 201)
    assert created["key"].startswith("ocpp_sk_") and created["scopes"] == ["read"] and created["expiresAt"] == "2026-05-01T00:00:00Z"
    assert response.headers["Location"] == f"/keys/{created['id']}"
    assert (await api.client.get("/ev-charger", headers=api.x_api_key(created["key"]))).status_code == 200
    assert_error(await api.client.post("/keys", headers=api.bearer(), json={"scopes": ["root"]}), 422, "VALIDATION_ERROR")
    assert_error(await api.client.post("/keys", headers=api.bearer(), json={"scopes": []}), 422, "VALIDATION_ERROR")
    past = assert_error(await api.client.post("/keys", headers=api.bearer(), json={"expiresAt": "2026-04-01T00:00:00"}), 422, "VALIDATION_ERROR")
    assert past["error"]["details"] == [{"field": "expiresAt", "message": "must be in the future"}]  # a time without a zone is UTC
    # Another organization's admin does not see or revoke it.
    acme = assert_envelope(await api.client.get("/keys", headers=api.bearer(api.acme_key)))
    assert created["id"] not in {item["id"] for item in acme["items"]}
    assert_error(await api.client.delete(f"/keys/{created['id']}", headers=api.bearer(api.acme_key)), 404, "NOT_FOUND")
    revoked = assert_envelope(await api.client.delete(f"/keys/{created['id']}", headers=api.bearer()))
    assert revoked["revokedAt"] is not None
    assert_error(await api.client.get("/ev-charger", headers=api.x_api_key(created["key"])), 401, "UNAUTHORIZED")


async def test_every_action_records_the_key_that_asked(api: Api) -> None:
    view, operator = await api.service.create_api_key("default", scopes=["read", "operate"])
    action = assert_envelope(await api.client.post("/ev-charger/dep-a01", headers=api.x_api_key(operator), json=SCHEDULED), 201)
    assert action["keyId"] == view.id and operator not in str(action)
    assert assert_envelope(await api.client.get(action["links"]["self"], headers=api.x_api_key()))["keyId"] == view.id
    await api.client.post("/ocpp/chargers/CP-A02/start", headers=api.bearer(operator))
    history = (await api.client.get("/console/actions", headers=api.bearer())).json()
    assert {(item["command"], item["key_id"]) for item in history} == {("charge", view.id), ("start", view.id)}
    # The console's own operator (no key) leaves none.
    api.clock.advance(1)
    await api.service.start_charger("dep-a01")
    (latest, *_) = await api.service.list_actions("dep-a01")
    assert latest.command == "start" and latest.key_id is None


def test_keys_made_before_scopes_keep_every_scope(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(config(connection), "0005")
    engine.dispose()
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("INSERT INTO organization VALUES ('org-default', 'default', '2026-04-01 08:00:00.000000')")
        connection.execute(
            "INSERT INTO apikey (id, organization_id, key_hash, prefix, created_at) "
            "VALUES ('key_old', 'org-default', 'abc', 'ocpp_sk_old', '2026-04-01 08:00:00.000000')"
        )
    store = Store(f"sqlite:///{path}")
    try:
        from console.core.keys import ApiKeys
        from console.core.clock import SystemClock

        (old,) = store.run_sync(ApiKeys(SystemClock()).list)
        assert old.scopes == ("read", "operate", "admin") and old.expires_at is None and old.last_used_at is None
    finally:
        store.close()


async def test_keys_create_with_scopes_and_an_expiry_from_the_cli(tmp_path: Path) -> None:
    import os

    from test_serve_api import run

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "OCPP_CONSOLE_DB": db}
    code, key, _ = await run("keys", "create", "--org", "default", "--scopes", "read,operate", "--expires", "30d", env=env)
    assert code == 0 and key.strip().startswith("ocpp_sk_")
    code, listed, _ = await run("keys", "list", env=env)
    assert code == 0 and "\tread,operate\tactive until " in listed and "\tnever used" in listed
    code, _, err = await run("keys", "create", "--scopes", "root", env=env)
    assert code == 2 and "unknown scope root" in err
    code, _, err = await run("keys", "create", "--expires", "someday", env=env)
    assert code == 2 and "someday" in err
