"""GET /events: the core's events for the caller's organization, as server-sent events.

Each stream is one core subscription, filtered to the organization's chargers;
a comment line every `heartbeat_s` keeps proxies from closing it. The stream
ends when the client goes or the server stops (`Streams.close_all`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from console.api.auth import principal, service_of
from console.api.schemas import errors
from console.api.scope import org_scope
from console.api.wire import encode_event, sse_message
from console.core.events import (
    ActionChanged,
    ChargerAlert,
    ChargerRemoved,
    ChargerUpdated,
    LogAppended,
    Notice,
    StoreHealth,
    Subscription,
    UnknownChargerSeen,
)
from console.core.fleet import DEFAULT_ORG
from console.core.keys import Principal

router = APIRouter(tags=["events"], dependencies=[Depends(org_scope)])


class Streams:
    """The open event streams, so a stopping server can end them instead of waiting on them."""

    def __init__(self) -> None:
        self._open: set[Subscription] = set()
        self.closed = False

    def add(self, subscription: Subscription) -> None:
        self._open.add(subscription)

    def remove(self, subscription: Subscription) -> None:
        self._open.discard(subscription)

    def close_all(self) -> None:
        self.closed = True
        for subscription in list(self._open):
            subscription.close()
        self._open.clear()


class OrgFilter:
    """Which events an organization may see; it learns its chargers as they come and go."""

    def __init__(self, organization_id: str, charger_ids: set[str]) -> None:
        self.organization_id = organization_id
        self.charger_ids = charger_ids

    def allows(self, event: Any) -> bool:
        if isinstance(event, ChargerUpdated):
            mine = event.charger.organization_id == self.organization_id
            if mine:
                self.charger_ids.add(event.charger.id)
            else:
                self.charger_ids.discard(event.charger.id)
            return mine
        if isinstance(event, ChargerRemoved):
            if event.charger_id in self.charger_ids:
                self.charger_ids.discard(event.charger_id)
                return True
            return False
        if isinstance(event, LogAppended):
            return event.entry.charger_id in self.charger_ids
        if isinstance(event, ActionChanged):
            return event.charger_id in self.charger_ids
        if isinstance(event, Notice):
            return event.charger_id is None or event.charger_id in self.charger_ids
        if isinstance(event, ChargerAlert):
            return event.event.charger_id in self.charger_ids
        if isinstance(event, UnknownChargerSeen):
            return self.organization_id == f"org-{DEFAULT_ORG}"
        if isinstance(event, StoreHealth):  # the whole server's: every organization is told
            return True
        return False


async def _stream(request: Request, subscription: Subscription, only: OrgFilter, heartbeat_s: float) -> AsyncIterator[str]:
    streams: Streams = request.app.state.streams
    streams.add(subscription)
    batch: asyncio.Task[list[Any]] | None = None
    try:
        yield ": connected\n\n"
        while True:
            batch = batch or asyncio.ensure_future(subscription.next_batch())
            done, _ = await asyncio.wait({batch}, timeout=heartbeat_s)
            if not done:
                yield ": keep-alive\n\n"
                continue
            try:
                events = batch.result()
            except StopAsyncIteration:
                return
            batch = None
            chunk = []
            for event in events:
                encoded = encode_event(event) if only.allows(event) else None
                if encoded is not None:
                    chunk.append(sse_message(*encoded))
            if chunk:
                yield "".join(chunk)
    finally:
        if batch is not None:
            batch.cancel()
            with contextlib.suppress(BaseException):
                await batch
        subscription.close()
        streams.remove(subscription)


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}, **errors(401)},
    summary="The organization's events as server-sent events",
    description=(
        "Events: `charger` (a charger's full view), `charger_removed` ({charger_id, identity}), `log` (a log line), "
        "`action` ({charger_id, action}), `notice` ({message, severity, charger_id}), `alert` (a charger event that "
        "matters: a connector gone Faulted, a security event, an alerting NotifyEvent; as in "
        "/ocpp/chargers/{id}/events), `unknown` (an identity not in the fleet; default organization only), "
        "`store` ({state, reason, queued, dropped}: the store stopped taking writes, or takes them again). "
        "A comment line is sent every 15 s while nothing happens."
    ),
)
async def events(request: Request, who: Principal = Depends(principal)) -> StreamingResponse:
    service = service_of(request)
    # Subscribe before reading the charger list, so nothing in between is lost.
    subscription = service.subscribe()
    only = OrgFilter(who.organization_id, {view.id for view in service.org_chargers(who.organization_id)})
    if request.app.state.streams.closed:
        subscription.close()
    return StreamingResponse(
        _stream(request, subscription, only, request.app.state.heartbeat_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
