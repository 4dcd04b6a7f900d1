"""Webhooks: /webhooks (per organization, in the envelope) and the dispatcher that POSTs events to them.

The dispatcher hears every logged event from the event hub (the same events,
ids and JSON as /events), writes a delivery row for each subscription that
wants it, and sends them: signed (core/webhooks.py), one at a time per
subscription and charger so a charger's events arrive in order, retried with
exponential backoff while the receiver is down or answers other than 2xx, and
given up on (`failed`) after `max_attempts` — a manual redeliver sends one
again. A 2xx answer is the receiver's acknowledgement: at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from console.api.auth import principal, service_of
from console.api.envelope import ok
from console.api.events import EVENT_TYPES, EVERYONE, Entry, EventHub
from console.api.schemas import errors
from console.api.scope import org_scope
from console.core.keys import Principal
from console.core.models import WebhookDelivery, WebhookSubscription
from console.core.views import iso
from console.core.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, Webhooks, sign, utc

log = logging.getLogger("console.api.webhooks")

router = APIRouter(prefix="/webhooks", tags=["webhooks"], dependencies=[Depends(org_scope)])

# The event types a subscription may ask for: every /events type but OCPP frames' `log` is kept.
WEBHOOK_TYPES = EVENT_TYPES


@dataclass
class WebhookSettings:
    backoff_s: float = 2.0  # the first retry's wait; doubled each time
    backoff_max_s: float = 600.0
    max_attempts: int = 15  # about two hours of retries with the defaults, then `failed`
    timeout_s: float = 10.0
    concurrency: int = 8
    # How often subscriptions made elsewhere (the CLI) are read again, and the longest idle wait.
    refresh_s: float = 5.0
    tick_s: float = 1.0


def _now() -> datetime:
    # Deliveries keep the wall clock's time, not the console's (which a demo may run faster).
    return datetime.now(timezone.utc)


class WebhookDispatcher:
    def __init__(self, service: Any, hub: EventHub, settings: WebhookSettings | None = None) -> None:
        self.service = service
        self.hub = hub
        self.settings = settings or WebhookSettings()
        self.records = Webhooks(service.clock, WEBHOOK_TYPES)
        self._subscriptions: list[WebhookSubscription] = []
        self._refreshed = 0.0
        self._new: list[WebhookDelivery] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._idle_wait = self.settings.tick_s
        # On a cluster node: whether this node sends the deliveries now (one node does); None: it always does.
        self.leads: Callable[[], Awaitable[bool]] | None = None

    async def start(self) -> None:
        await self.refresh()
        self.hub.publish_hooks.append(self._offer)
        self._client = httpx.AsyncClient(timeout=self.settings.timeout_s, follow_redirects=False)
        self._task = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.hub.publish_hooks.remove(self._offer)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None
        if self._new:  # heard but not written yet: keep them for the next start
            with contextlib.suppress(Exception):
                await self._write_new()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def refresh(self) -> None:
        self._subscriptions = await self.service.store.run(self.records.active)
        self._refreshed = time.monotonic()
        self._wake.set()

    def _offer(self, organization_id: str, entry: Entry, data: dict[str, Any]) -> None:
        for subscription in self._subscriptions:
            if organization_id not in (subscription.organization_id, EVERYONE):
                continue
            if subscription.types is not None and entry.type not in subscription.types:
                continue
            assert entry.id is not None
            now = _now()
            body = {
                "id": entry.id,
                "type": entry.type,
                "organizationId": subscription.organization_id,
                "createdAt": iso(now),
                "data": data,
            }
            self._new.append(
                WebhookDelivery(
                    subscription_id=subscription.id,
                    event_id=entry.id,
                    type=entry.type,
                    charger_id=entry.charger_id,
                    body=json.dumps(body, separators=(",", ":")),
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            self._wake.set()

    async def _write_new(self) -> None:
        rows, self._new = self._new, []

        def write(session: Session) -> None:
            session.add_all(rows)
            session.commit()

        try:
            await self.service.store.run(write)
        except Exception:
            self._new = rows + self._new  # tried again on the next round
            raise

    async def _run(self) -> None:
        while True:
            try:
                busy = await self._round()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the store may be unavailable for a while: try again
                log.warning("webhook deliveries: %s", error)
                busy = False
            if busy:
                continue
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_wait)

    async def _round(self) -> bool:
        """Write what came, send what is due; True when there may be more to send at once."""
        if time.monotonic() - self._refreshed >= self.settings.refresh_s:
            await self.refresh()
        if self._new:
            await self._write_new()
        if self.leads is not None and not await self.leads():
            return False
        pending = await self.service.store.run(_pending)
        heads: dict[tuple[str, str | None], WebhookDelivery] = {}
        for delivery in pending:  # the oldest pending one of each subscription and charger
            heads.setdefault((delivery.subscription_id, delivery.charger_id), delivery)
        now = _now()
        due = [delivery for delivery in heads.values() if utc(delivery.next_attempt_at) <= now]
        later = [utc(delivery.next_attempt_at) for delivery in heads.values() if utc(delivery.next_attempt_at) > now]
        self._idle_wait = min([self.settings.tick_s, *((moment - now).total_seconds() for moment in later)])
        if not due:
            return False
        secrets_of = {subscription.id: subscription for subscription in self._subscriptions}
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def attempt(delivery: WebhookDelivery) -> None:
            subscription = secrets_of.get(delivery.subscription_id)
            if subscription is None:  # deleted meanwhile
                return
            async with gate:
                await self._send(subscription, delivery)

        await asyncio.gather(*(attempt(delivery) for delivery in due))
        outcomes = [delivery for delivery in due if delivery.subscription_id in secrets_of]

        def write(session: Session) -> None:
            for delivery in outcomes:
                session.merge(delivery)
            session.commit()

        await self.service.store.run(write)
        return any(delivery.status != "pending" for delivery in outcomes)

    async def _send(self, subscription: WebhookSubscription, delivery: WebhookDelivery) -> None:
        assert self._client is not None
        body = delivery.body.encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(subscription.secret, timestamp, body),
            "X-Webhook-Id": str(delivery.event_id),
            "X-Webhook-Delivery": str(delivery.id),
            "User-Agent": "ocpp-console-webhooks",
        }
        delivery.attempts += 1
        try:
            response = await self._client.post(subscription.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            delivery.last_status_code = None
            delivery.last_error = (str(error) or type(error).__name__)[:300]
        else:
            delivery.last_status_code = response.status_code
            if response.is_success:
                delivery.status = "delivered"
                delivery.delivered_at = _now()
                delivery.last_error = None
                return
            delivery.last_error = f"the receiver answered {response.status_code}"
        if delivery.attempts >= self.settings.max_attempts:
            delivery.status = "failed"
            log.warning(
                "webhook %s: gave up on delivery %s (event %s) after %d attempts: %s",
                subscription.id, delivery.id, delivery.event_id, delivery.attempts, delivery.last_error,
            )
            return
        wait = min(self.settings.backoff_max_s, self.settings.backoff_s * 2 ** (delivery.attempts - 1))
        delivery.next_attempt_at = _now() + timedelta(seconds=wait)


def _pending(session: Session) -> list[WebhookDelivery]:
    rows = list(
        session.exec(
            select(WebhookDelivery).where(WebhookDelivery.status == "pending").order_by(col(WebhookDelivery.id)).limit(5_000)
        ).all()
    )
    session.expunge_all()
    return rows


# -- the API -----------------------------------------------------------------------------------


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, examples=["https://example.com/hooks/ocpp"])
    types: list[str] | None = Field(
        default=None, max_length=len(WEBHOOK_TYPES), description=f"event types to deliver (default all): {', '.join(WEBHOOK_TYPES)}"
    )
    secret: str | None = Field(
        default=None, min_length=16, max_length=200, description="the signing secret (default: one is made and shown once)"
    )


def dispatcher_of(request: Request) -> WebhookDispatcher:
    return request.app.state.webhooks


def _subscription(view: Any, secret: str | None = None) -> dict[str, Any]:
    data = {"id": view.id, "url": view.url, "types": view.types, "createdAt": iso(view.created_at)}
    if secret is not None:
        data["secret"] = secret
    return data


def _delivery(view: Any) -> dict[str, Any]:
    return {
        "id": view.id,
        "eventId": view.event_id,
        "type": view.type,
        "chargerId": view.charger_id,
        "status": view.status,
        "attempts": view.attempts,
        "lastError": view.last_error,
        "lastStatusCode": view.last_status_code,
        "nextAttemptAt": iso(view.next_attempt_at) if view.status == "pending" else None,
        "createdAt": iso(view.created_at),
        "deliveredAt": iso(view.delivered_at),
    }


SIGNING = (
    f"Each delivery is a POST of `{{id, type, organizationId, createdAt, data}}` (`id` and `data` as on /events) with "
    f"`{TIMESTAMP_HEADER}` (Unix seconds) and `{SIGNATURE_HEADER}: v1=<hex HMAC-SHA256 of '<timestamp>.<body>' "
    "with the secret>`. A 2xx answer acknowledges it; otherwise it is retried with exponential backoff, in order per "
    "charger, and marked `failed` after the last attempt."
)


@router.post("", status_code=201, responses=errors(401, 422), summary="Subscribe a URL to the organization's events", description=SIGNING)
async def create_webhook(request: Request, body: WebhookCreate = Body(...), who: Principal = Depends(principal)) -> Any:
    dispatcher = dispatcher_of(request)
    view, secret = await service_of(request).store.run(
        lambda session: dispatcher.records.create(session, who.organization_id, body.url, body.types, body.secret)
    )
    await dispatcher.refresh()
    return ok(request, _subscription(view, secret))


@router.get("", responses=errors(401), summary="The organization's webhook subscriptions (never their secrets)")
async def list_webhooks(request: Request, who: Principal = Depends(principal)) -> Any:
    records = dispatcher_of(request).records
    views = await service_of(request).store.run(lambda session: records.list(session, who.organization_id))
    return ok(request, [_subscription(view) for view in views])


@router.delete("/{subscription_id}", status_code=204, responses=errors(401, 404), summary="End a subscription and its delivery log")
async def delete_webhook(request: Request, subscription_id: str, who: Principal = Depends(principal)) -> Response:
    dispatcher = dispatcher_of(request)
    await service_of(request).store.run(lambda session: dispatcher.records.delete(session, who.organization_id, subscription_id))
    await dispatcher.refresh()
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    responses=errors(401, 404, 422),
    summary="The subscription's delivery log, newest first: status, attempts, last error",
)
async def list_deliveries(
    request: Request,
    subscription_id: str,
    who: Principal = Depends(principal),
    limit: int = Query(50, ge=1, le=500),
    status: str | None = Query(None, pattern="^(pending|delivered|failed)$"),
) -> Any:
    records = dispatcher_of(request).records
    views = await service_of(request).store.run(
        lambda session: records.deliveries(session, who.organization_id, subscription_id, limit, status)
    )
    return ok(request, [_delivery(view) for view in views])


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    responses=errors(401, 404),
    summary="Send a delivery again, now",
)
async def redeliver(request: Request, subscription_id: str, delivery_id: int, who: Principal = Depends(principal)) -> Any:
    dispatcher = dispatcher_of(request)
    view = await service_of(request).store.run(
        lambda session: dispatcher.records.redeliver(session, who.organization_id, subscription_id, delivery_id)
    )
    dispatcher._wake.set()
    return ok(request, _delivery(view))
