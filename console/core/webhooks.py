"""Webhook subscriptions and their delivery log, per organization; the signature every delivery carries.

A subscription names a URL, the event types it wants (the /events names) and
a secret. Each event for it becomes a delivery row before it is sent, so a
restart loses none (at least once); the API's dispatcher (api/webhooks.py)
sends them. The secret is kept in the store as given, because signing needs
it; it is shown once, when the subscription is made.

Signature: `X-Webhook-Signature: v1=<hex>`, the HMAC-SHA256 with the secret of
`<X-Webhook-Timestamp>.<body>` (the timestamp in Unix seconds, the body as
sent). A receiver recomputes it, compares in constant time, and refuses a
timestamp far from its own clock (a replayed delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from sqlmodel import Session, col, delete, select

from console.core.clock import Clock
from console.core.errors import NotFound, ValidationFailed
from console.core.models import WebhookDelivery, WebhookSubscription
from console.core.views import View

SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SECRET_PREFIX = "whsec_"
STATUSES = ("pending", "delivered", "failed")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC time (SQLite gives them back naive)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class WebhookView(View):
    id: str
    organization_id: str
    url: str
    types: list[str] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryView(View):
    id: int
    subscription_id: str
    event_id: int
    type: str
    charger_id: str | None
    status: str
    attempts: int
    last_error: str | None
    last_status_code: int | None
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


class Webhooks:
    """Subscription and delivery records; every method runs on the store thread with the caller's session.

    `organization_id` None (the CLI, run by whoever runs the store) reaches every organization's.
    """

    def __init__(self, clock: Clock, known_types: tuple[str, ...]) -> None:
        self.clock = clock
        self.known_types = known_types

    def create(
        self, session: Session, organization_id: str, url: str, types: list[str] | None = None, secret: str | None = None
    ) -> tuple[WebhookView, str]:
        problems: dict[str, str] = {}
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
            problems["url"] = "an http:// or https:// URL (at most 2,000 characters)"
        if types is not None:
            unknown = sorted(set(types) - set(self.known_types))
            if unknown or not types:
                problems["types"] = f"event types among {', '.join(self.known_types)}" + (f" (not {', '.join(unknown)[:200]})" if unknown else "")
        if secret is not None and not 16 <= len(secret) <= 200:
            problems["secret"] = "16 to 200 characters"
        if problems:
            raise ValidationFailed(problems)
        secret = secret or SECRET_PREFIX + secrets.token_urlsafe(32)
        row = WebhookSubscription(
            id=f"wh_{secrets.token_hex(6)}",
            organization_id=organization_id,
            url=url,
            secret=secret,
            types=sorted(set(types)) if types else None,
            created_at=self.clock.now(),
        )
        session.add(row)
        session.commit()
        return _subscription(row), secret

    def list(self, session: Session, organization_id: str | None = None) -> list[WebhookView]:
        query = select(WebhookSubscription).order_by(col(WebhookSubscription.created_at), col(WebhookSubscription.id))
        if organization_id is not None:
            query = query.where(WebhookSubscription.organization_id == organization_id)
        return [_subscription(row) for row in session.exec(query).all()]

    def active(self, session: Session) -> list[WebhookSubscription]:
        """Every subscription with its secret (the dispatcher's)."""
        rows = list(session.exec(select(WebhookSubscription)).all())
        session.expunge_all()
        return rows

    def _get(self, session: Session, organization_id: str | None, subscription_id: str) -> WebhookSubscription:
        row = session.get(WebhookSubscription, subscription_id)
        if row is None or (organization_id is not None and row.organization_id != organization_id):
            raise NotFound(f"no webhook subscription {subscription_id!r}")
        return row

    def delete(self, session: Session, organization_id: str | None, subscription_id: str) -> None:
        row = self._get(session, organization_id, subscription_id)
        session.exec(delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == row.id))  # type: ignore[call-overload]
        session.delete(row)
        session.commit()

    def deliveries(
        self, session: Session, organization_id: str | None, subscription_id: str, limit: int = 50, status: str | None = None
    ) -> list[DeliveryView]:
        """The subscription's deliveries, newest first."""
        self._get(session, organization_id, subscription_id)
        query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        rows = session.exec(query.order_by(col(WebhookDelivery.id).desc()).limit(limit)).all()
        return [_delivery(row) for row in rows]

    def redeliver(self, session: Session, organization_id: str | None, subscription_id: str, delivery_id: int) -> DeliveryView:
        """Send a delivery again (delivered or given up on): pending from now, its attempts counted afresh."""
        self._get(session, organization_id, subscription_id)
        row = session.get(WebhookDelivery, delivery_id)
        if row is None or row.subscription_id != subscription_id:
            raise NotFound(f"no delivery {delivery_id} of webhook subscription {subscription_id!r}")
        row.status = "pending"
        row.attempts = 0
        row.next_attempt_at = datetime.now(timezone.utc)
        session.add(row)
        session.commit()
        return _delivery(row)


def _subscription(row: WebhookSubscription) -> WebhookView:
    return WebhookView(id=row.id, organization_id=row.organization_id, url=row.url, types=row.types, created_at=row.created_at)


def _delivery(row: WebhookDelivery) -> DeliveryView:
    assert row.id is not None
    return DeliveryView(
        id=row.id,
        subscription_id=row.subscription_id,
        event_id=row.event_id,
        type=row.type,
        charger_id=row.charger_id,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        last_status_code=row.last_status_code,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )
