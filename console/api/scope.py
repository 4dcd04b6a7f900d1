"""Organization scoping, in one place: every id a request names is the caller's organization's, or 404.

`org_scope` is a dependency of every router: before a handler runs it checks each
id in the path (`charger_id`, `device_id`, `action_id`, `location_id`,
`token_id`) and a `charger_id` in the query against the API key's organization.
An id of another organization is answered exactly as one that does not exist
(404 NOT_FOUND in the envelope), so a handler cannot forget the check and
nothing tells one organization what another holds. A handler that needs the
record asks the scope (`org.charger(...)`), which reads it through the same check.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from console.api.auth import principal, service_of
from console.core.errors import NotFound
from console.core.keys import Principal
from console.core.models import WebhookSubscription
from console.core.service import ConsoleService
from console.core.views import ChargerView, TokenView


class OrgScope:
    """The caller's organization and the org-bound lookups: each raises NotFound for another organization's id."""

    def __init__(self, service: ConsoleService, who: Principal) -> None:
        self.service = service
        self.principal = who
        self.organization_id = who.organization_id

    def charger(self, charger_id: str) -> ChargerView:
        return self.service.org_charger(self.organization_id, charger_id)

    async def action(self, action_id: str) -> str:
        """The charger id of one of the organization's actions."""
        try:
            return self.charger(await self.service.action_charger_id(action_id)).id
        except NotFound:
            raise NotFound(f"no action {action_id!r}") from None

    async def location(self, location_id: str) -> str:
        if location_id not in await self.service.org_location_ids(self.organization_id):
            raise NotFound(f"no location {location_id!r}")
        return location_id

    def token(self, token_id: str) -> TokenView:
        return self.service.tokens.get(self.organization_id, token_id)

    async def key(self, key_id: str) -> str:
        if not any(key.id == key_id for key in await self.service.list_api_keys(self.organization_id)):
            raise NotFound(f"no key {key_id!r}")
        return key_id

    async def webhook(self, subscription_id: str) -> str:
        found = await self.service.store.run(lambda session: session.get(WebhookSubscription, subscription_id))
        if found is None or found.organization_id != self.organization_id:
            raise NotFound(f"no webhook subscription {subscription_id!r}")
        return subscription_id

    async def check(self, name: str, value: str) -> None:
        """Check one id a request names, by the name of its parameter; a name not scoped passes."""
        checker = SCOPED_IDS.get(name)
        if checker is not None:
            result = checker(self, value)
            if inspect.isawaitable(result):
                await result


# Each parameter name that carries an org-bound id, and how it is checked.
SCOPED_IDS: dict[str, Callable[[OrgScope, str], Any]] = {
    "charger_id": OrgScope.charger,
    "device_id": OrgScope.charger,
    "action_id": OrgScope.action,
    "location_id": OrgScope.location,
    "token_id": OrgScope.token,
    "key_id": OrgScope.key,
    "subscription_id": OrgScope.webhook,
}
# Query parameters that name an org-bound id (one charger's history of a fleet-wide list).
SCOPED_QUERY = ("charger_id",)


async def org_scope(request: Request, who: Principal = Depends(principal)) -> OrgScope:
    scope = OrgScope(service_of(request), who)
    for name, value in request.path_params.items():
        await scope.check(name, value)
    for name in SCOPED_QUERY:
        if (value := request.query_params.get(name)) is not None:
            await scope.check(name, value)
    return scope
