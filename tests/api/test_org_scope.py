"""Organization scoping: every route of the API, called with an id of another organization, answers 404.

The walk reads the server's own OpenAPI, so a route added later is walked too; a
path parameter this test does not know fails it until its ids are scoped
(`console/api/scope.py`) and named here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from apitools import Api, FakeRuntime
from fastapi.routing import APIRoute

from console.api.scope import org_scope
from console.core.views import ActionView

# Path parameters that name one of an organization's records (console/api/scope.py checks each).
ORG_BOUND = {"charger_id", "device_id", "action_id", "location_id", "token_id", "key_id", "subscription_id"}
# Not an organization's id: a transaction is looked up under its charger; an unknown identity
# belongs to no organization (only the default one decides about it).
NOT_ORG_BOUND = {"transaction_id", "identity"}
# Files: an upload is looked up under its charger; a charger's transfer URL's token and name are no
# one's id (the URL is the secret); firmware images are the depot's, kept by the default organization
# (another gets 404 from the handler), and a rolling update is seen only by the organization that owns
# all its chargers (checked by its handler, tests/api/test_files_api.py).
NOT_ORG_BOUND |= {"upload_id", "token", "name", "file_id", "rollout_id"}
# A webhook delivery is looked up under its subscription.
NOT_ORG_BOUND |= {"delivery_id"}
# A reservation and an installed charging profile are looked up under their charger.
NOT_ORG_BOUND |= {"reservation_id", "profile_id"}
# A session's connector is looked up under its charger.
NOT_ORG_BOUND |= {"connector_id"}
# Chargers' own file transfers (firmware downloads, log uploads) carry no API key: the URL is theirs alone.
KEYLESS = "/files/"


async def foreign_ids(api: Api, organization: str) -> dict[str, str]:
    """One id of each kind that belongs to `organization` ("default" or "acme")."""
    charger = "dep-a01" if organization == "default" else "dep-x01"
    action: ActionView = await api.service.send_command(charger, "charge", execution="scheduled", start="1h")
    token = await api.service.save_token({"token": f"TOKEN-{organization}"}, organization_id=f"org-{organization}")
    key = api.key if organization == "default" else api.acme_key
    hook = await api.client.post("/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=api.bearer(key))
    assert hook.status_code == 201, hook.text
    (own_key,) = [view for view in await api.service.list_api_keys(f"org-{organization}")][:1]
    return {
        "charger_id": charger,
        "device_id": charger,
        "action_id": action.id,
        "location_id": "loc-depot" if organization == "default" else "loc-acme",
        "token_id": token.id,
        "key_id": own_key.id,
        "subscription_id": hook.json()["data"]["id"],
        "delivery_id": "1",
        "reservation_id": "1",
        "profile_id": "1",
        "connector_id": "1",
        "transaction_id": "1",
        "identity": "CP-A01" if organization == "default" else "ACME-01",
        # Named in paths beside a scoped id, or no one's: any value.
        "upload_id": "upload-1",
        "token": "not-a-token",
        "name": "image.bin",
        "file_id": "file-1",
        "rollout_id": "rollout-1",
    }


def walk(openapi: dict[str, Any], ids: dict[str, str], skip_identity: bool) -> list[tuple[str, str, dict[str, str]]]:
    """(method, URL, query) of every operation that names an org-bound id in its path or query."""
    calls = []
    for path, operations in openapi["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        unknown = names - ORG_BOUND - NOT_ORG_BOUND
        assert not unknown, f"{path}: is {unknown} an organization's id? scope it in console/api/scope.py and name it here"
        if skip_identity and "identity" in names:
            continue
        url = re.sub(r"{(\w+)}", lambda match: ids[match.group(1)], path)
        for method, operation in operations.items():
            query_names = {param["name"] for param in operation.get("parameters", []) if param["in"] == "query"}
            if names & ORG_BOUND or (not skip_identity and "identity" in names):
                calls.append((method, url, {}))
            if "charger_id" in query_names:
                calls.append((method, url, {"charger_id": ids["charger_id"]}))
    return calls


@pytest.mark.parametrize(("caller", "owner"), [("acme", "default"), ("default", "acme")])
async def test_every_route_answers_404_for_another_organizations_id(
    api: Api, runtime: FakeRuntime, caller: str, owner: str
) -> None:
    ids = await foreign_ids(api, owner)
    key = api.acme_key if caller == "acme" else api.key
    openapi = (await api.client.get("/openapi.json")).json()
    # The default organization decides about unknown identities: its answer there is not about scoping.
    calls = walk(openapi, ids, skip_identity=caller == "default")
    assert len(calls) > 30
    wrong = []
    for method, url, query in calls:
        response = await api.client.request(method, url, params=query, headers=api.bearer(key), json={})
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 404 or body.get("success") is not False or body["error"]["code"] != "NOT_FOUND":
            wrong.append(f"{method.upper()} {url} {query or ''}: {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)
    # Nothing another organization asked for was done.
    assert (await api.service.get_charger(ids["charger_id"])).id == ids["charger_id"]
    assert (await api.service.get_action(ids["action_id"])).state == "scheduled"
    assert api.service.tokens.get(f"org-{owner}", ids["token_id"]).id == ids["token_id"]
    assert runtime.calls == []


def test_every_route_but_health_goes_through_the_scope(api: Api) -> None:
    """A router added without `dependencies=[Depends(org_scope)]` fails here, ids or not."""
    unscoped = [
        f"{sorted(route.methods)} {route.path}"
        for route in api.server.app.routes
        if isinstance(route, APIRoute)
        and route.path not in ("/health", "/docs", "/redoc")  # said to anyone; no organization's data
        and not route.path.startswith(KEYLESS)
        and not any(dependency.call is org_scope for dependency in route.dependant.dependencies)
    ]
    assert unscoped == []
