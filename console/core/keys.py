"""REST API keys: each belongs to one organization, is shown once, and is stored only as a hash.

A key is 32 random bytes, so a plain SHA-256 is enough to keep it safe at rest
(no salt or stretching is needed for a secret nobody chose) and lets a request
find its key by an indexed lookup. Revoking marks the row; the next request
with that key is refused, since every request checks the store.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from console.core.clock import Clock
from console.core.errors import NotFound, ValidationFailed
from console.core.models import ApiKey, Organization
from console.core.views import View

KEY_PREFIX = "ocpp_sk_"
PREFIX_SHOWN = len(KEY_PREFIX) + 6
ORG_NAME_MAX = 64


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKeyView(View):
    id: str
    organization_id: str
    organization: str
    prefix: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is: the key and the organization it acts for."""

    key_id: str
    organization_id: str
    organization: str


class ApiKeys:
    """Key records; every method runs on the store thread with the caller's session."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def create(self, session: Session, organization: Organization, label: str | None = None) -> tuple[ApiKeyView, str]:
        """A new key for the organization; returns its record and the key itself (never stored)."""
        if label is not None and len(label) > 100:
            raise ValidationFailed({"label": "at most 100 characters"})
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKey(
            id=f"key_{secrets.token_hex(6)}",
            organization_id=organization.id,
            key_hash=hash_key(key),
            prefix=key[:PREFIX_SHOWN],
            label=label,
            created_at=self.clock.now(),
        )
        session.add(row)
        session.commit()
        return _view(row, organization.name), key

    def verify(self, session: Session, key: str) -> Principal | None:
        """The key's principal, or None when the key is unknown or revoked."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        row = session.exec(
            select(ApiKey, Organization)
            .join(Organization, col(Organization.id) == col(ApiKey.organization_id))
            .where(ApiKey.key_hash == hash_key(key), col(ApiKey.revoked_at).is_(None))
        ).first()
        if row is None:
            return None
        api_key, organization = row
        return Principal(key_id=api_key.id, organization_id=organization.id, organization=organization.name)

    def revoke(self, session: Session, key_id: str) -> ApiKeyView:
        row = session.get(ApiKey, key_id)
        if row is None:
            raise NotFound(f"no API key {key_id!r}")
        if row.revoked_at is None:
            row.revoked_at = self.clock.now()
            session.add(row)
            session.commit()
        organization = session.get(Organization, row.organization_id)
        return _view(row, organization.name if organization else row.organization_id)

    def list(self, session: Session) -> list[ApiKeyView]:
        rows = session.exec(
            select(ApiKey, Organization)
            .join(Organization, col(Organization.id) == col(ApiKey.organization_id))
            .order_by(col(ApiKey.created_at), col(ApiKey.id))
        ).all()
        return [_view(api_key, organization.name) for api_key, organization in rows]


def org_name_problem(name: str) -> str | None:
    if not name or not name.strip():
        return "an organization needs a name"
    if len(name) > ORG_NAME_MAX:
        return f"at most {ORG_NAME_MAX} characters"
    return None


def _view(row: ApiKey, organization: str) -> ApiKeyView:
    return ApiKeyView(
        id=row.id,
        organization_id=row.organization_id,
        organization=organization,
        prefix=row.prefix,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
