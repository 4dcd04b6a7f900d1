"""REST API keys: each belongs to one organization, is shown once, and is stored only as a hash.

A key is 32 random bytes, so a plain SHA-256 is enough to keep it safe at rest
(no salt or stretching is needed for a secret nobody chose) and lets a request
find its key by an indexed lookup. Revoking marks the row; the next request
with that key is refused, since every request checks the store, as it is past
its expiry. Each key has scopes: `read`, `operate` (commands to chargers, the
runtime, simulator controls), `admin` (the fleet, keys, power caps, tokens).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlmodel import Session, col, select

from console.core.clock import Clock
from console.core.errors import NotFound, ValidationFailed
from console.core.models import ApiKey, Organization
from console.core.views import View

KEY_PREFIX = "ocpp_sk_"
PREFIX_SHOWN = len(KEY_PREFIX) + 6
ORG_NAME_MAX = 64
SCOPES = ("read", "operate", "admin")
# A key's last-used time is written again once it is older than this (not once per request).
LAST_USED_GRAIN = timedelta(minutes=1)


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
    scopes: tuple[str, ...] = SCOPES
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is: the key, the organization it acts for, and what it may do."""

    key_id: str
    organization_id: str
    organization: str
    scopes: tuple[str, ...] = SCOPES
    # Its last-used time needs writing (it is unset or older than LAST_USED_GRAIN).
    stale_use: bool = False

    def may(self, scope: str) -> bool:
        return scope in self.scopes


def parse_scopes(scopes: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Scopes in their fixed order, from a list or a comma/space-separated text; every scope when None."""
    if scopes is None:
        return SCOPES
    names = scopes.replace(",", " ").split() if isinstance(scopes, str) else list(scopes)
    unknown = sorted({str(name) for name in names} - set(SCOPES))
    if unknown:
        raise ValidationFailed({"scopes": f"unknown scope {', '.join(unknown)}; one or more of {', '.join(SCOPES)}"})
    if not names:
        raise ValidationFailed({"scopes": f"at least one of {', '.join(SCOPES)}"})
    return tuple(scope for scope in SCOPES if scope in names)


class ApiKeys:
    """Key records; every method runs on the store thread with the caller's session."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def create(
        self,
        session: Session,
        organization: Organization,
        label: str | None = None,
        scopes: tuple[str, ...] = SCOPES,
        expires_at: datetime | None = None,
    ) -> tuple[ApiKeyView, str]:
        """A new key for the organization; returns its record and the key itself (never stored)."""
        if label is not None and len(label) > 100:
            raise ValidationFailed({"label": "at most 100 characters"})
        scopes = parse_scopes(scopes)
        if expires_at is not None:
            expires_at = _aware(expires_at)
            if expires_at <= self.clock.now():
                raise ValidationFailed({"expires_at": "must be in the future"})
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKey(
            id=f"key_{secrets.token_hex(6)}",
            organization_id=organization.id,
            key_hash=hash_key(key),
            prefix=key[:PREFIX_SHOWN],
            label=label,
            created_at=self.clock.now(),
            scopes=" ".join(scopes),
            expires_at=expires_at,
        )
        session.add(row)
        session.commit()
        return _view(row, organization.name), key

    def verify(self, session: Session, key: str) -> Principal | None:
        """The key's principal, or None when the key is unknown, revoked or expired."""
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
        now = self.clock.now()
        if api_key.expires_at is not None and _aware(api_key.expires_at) <= now:
            return None
        last = api_key.last_used_at
        return Principal(
            key_id=api_key.id,
            organization_id=organization.id,
            organization=organization.name,
            scopes=parse_scopes(api_key.scopes),
            stale_use=last is None or now - _aware(last) >= LAST_USED_GRAIN,
        )

    def used(self, session: Session, key_id: str) -> None:
        """Note that a request came with the key now."""
        row = session.get(ApiKey, key_id)
        if row is not None:
            row.last_used_at = self.clock.now()
            session.add(row)
            session.commit()

    def revoke(self, session: Session, key_id: str, organization_id: str | None = None) -> ApiKeyView:
        """End a key at once; with `organization_id`, only one of that organization's."""
        row = session.get(ApiKey, key_id)
        if row is None or (organization_id is not None and row.organization_id != organization_id):
            raise NotFound(f"no API key {key_id!r}")
        if row.revoked_at is None:
            row.revoked_at = self.clock.now()
            session.add(row)
            session.commit()
        organization = session.get(Organization, row.organization_id)
        return _view(row, organization.name if organization else row.organization_id)

    def list(self, session: Session, organization_id: str | None = None) -> list[ApiKeyView]:
        """Every key, or one organization's, oldest first."""
        query = select(ApiKey, Organization).join(Organization, col(Organization.id) == col(ApiKey.organization_id))
        if organization_id is not None:
            query = query.where(ApiKey.organization_id == organization_id)
        rows = session.exec(query.order_by(col(ApiKey.created_at), col(ApiKey.id))).all()
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
        scopes=parse_scopes(row.scopes),
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )


def _aware(moment: datetime) -> datetime:
    # SQLite gives times back without their zone; the store keeps them in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
