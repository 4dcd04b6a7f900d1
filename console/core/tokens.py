"""Id tokens: who may charge. A registry per organization, kept in memory for the chargers' questions
(Authorize, StartTransaction, TransactionEvent are answered from it without touching the store) and
written through the store; local authorization lists built from it and pushed per charger.

Validation reports every bad field by name, and a token file is checked whole before a row is written.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlmodel import Session, col, select

from console.core.clock import Clock
from console.core.errors import Conflict, ImportRefused, NotFound, ValidationFailed
from console.core.events import EventBus, Notice
from console.core.models import Charger, IdToken, LocalAuthList, Location, Transaction
from console.core.sessions import as_utc
from console.core.views import TOKEN_STATUSES as STATUSES
from console.core.views import TOKEN_TYPES, LocalListView, TokenView, View, iso  # noqa: F401  (LocalListView: re-exported)
from console.core.versions import OcppVersion

# 2.0.1's idToken is at most 36 characters; a 1.6 idTag at most 20 (longer tokens never reach a 1.6 charger).
TOKEN_MAX = 36
ID_TAG_MAX = 20
LABEL_MAX = 100
# What a token the registry does not hold gets.
ACCEPT, REJECT = "accept", "reject"
UNKNOWN_POLICIES = (ACCEPT, REJECT)
TOKEN_FIELDS = ("token", "type", "status", "expires_at", "parent_id", "label", "location_ids")
CSV_COLUMNS = TOKEN_FIELDS


def new_token_id() -> str:
    return f"tok_{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class Authorization:
    """The answer to a charger presenting a token: status, expiry, parent (1.6) or group (2.0.1) id."""

    status: str
    expires_at: datetime | None = None
    parent_id: str | None = None
    label: str | None = None
    known: bool = True

    def id_tag_info(self) -> dict[str, Any]:
        """1.6 idTagInfo (Accepted, Blocked, Expired, Invalid; 1.6 has no 'not at this location')."""
        status = "Invalid" if self.status == "NotAtThisLocation" else self.status
        info: dict[str, Any] = {"status": status}
        if self.expires_at is not None:
            info["expiryDate"] = iso(self.expires_at)
        if self.parent_id and len(self.parent_id) <= ID_TAG_MAX:
            info["parentIdTag"] = self.parent_id
        return info

    def id_token_info(self) -> dict[str, Any]:
        """2.0.1 idTokenInfo, the group as a Central token."""
        info: dict[str, Any] = {"status": self.status}
        if self.expires_at is not None:
            info["cacheExpiryDateTime"] = iso(self.expires_at)
        if self.parent_id:
            info["groupIdToken"] = {"idToken": self.parent_id, "type": "Central"}
        return info


@dataclass(frozen=True, slots=True)
class BlockedSession(View):
    """A session running on a token that was just blocked."""

    charger_id: str
    identity: str
    connector_id: int
    transaction_id: int
    token: str


def parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def clean_token_fields(
    fields: dict[str, Any], *, partial: bool, location_ids: Iterable[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(the fields as stored, every problem by field name)."""
    clean: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name in fields:
        if name not in TOKEN_FIELDS:
            problems[name] = f"unknown field; valid: {', '.join(TOKEN_FIELDS)}"

    def text(name: str, limit: int) -> str | None:
        value = fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            problems[name] = "must be text"
            return None
        if len(value.strip()) > limit:
            problems[name] = f"at most {limit} characters"
        return value.strip()

    if "token" in fields or not partial:
        token = text("token", TOKEN_MAX)
        if token is None and "token" not in problems:
            problems["token"] = "required"
        elif token is not None and not token.isprintable():
            problems["token"] = "printable characters only"
        clean["token"] = token
    if "type" in fields or not partial:
        kind = fields.get("type") or "ISO14443"
        if kind not in TOKEN_TYPES:
            problems["type"] = f"{kind!r} is not a token type; valid: {', '.join(TOKEN_TYPES)}"
        clean["type"] = kind
    if "status" in fields or not partial:
        status = fields.get("status") or "Accepted"
        if status not in STATUSES:
            problems["status"] = f"{status!r} is not a status; valid: {', '.join(STATUSES)}"
        clean["status"] = status
    if "expires_at" in fields:
        value = fields["expires_at"]
        if value is None or (isinstance(value, str) and not value.strip()):
            clean["expires_at"] = None
        else:
            try:
                clean["expires_at"] = parse_time(value)
            except (TypeError, ValueError):
                problems["expires_at"] = "must be an ISO 8601 time, e.g. 2027-01-31T00:00:00Z"
    if "parent_id" in fields:
        clean["parent_id"] = text("parent_id", TOKEN_MAX)
    if "label" in fields:
        clean["label"] = text("label", LABEL_MAX)
    if "location_ids" in fields:
        value = fields["location_ids"]
        if isinstance(value, str):
            value = [part.strip() for part in value.replace(";", " ").split() if part.strip()]
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            problems["location_ids"] = "must be a list of location ids"
        else:
            known = set(location_ids)
            missing = [item for item in value if item not in known]
            if missing:
                problems["location_ids"] = f"no location {', '.join(repr(item) for item in missing)}"
            clean["location_ids"] = list(dict.fromkeys(value))
    return clean, problems


def read_csv(text: str) -> list[dict[str, Any]]:
    """The rows of a token file (a header line naming the columns of CSV_COLUMNS); every row a dict."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if "token" not in header or unknown:
        raise ImportRefused(
            [("file", "header", f"the first line names the columns: token and any of {', '.join(CSV_COLUMNS[1:])}"
              + (f" (unknown: {', '.join(unknown)})" if unknown else ""))]
        )
    rows = []
    for row in reader:
        if None in row:
            row = {**row, "(extra)": row.pop(None)}  # type: ignore[call-overload]
        rows.append({name: value for name, value in row.items() if name == "(extra)" or value not in (None, "")})
    return rows


def write_csv(tokens: Iterable[TokenView]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for token in tokens:
        writer.writerow(
            [token.token, token.type, token.status, iso(token.expires_at) or "", token.parent_id or "", token.label or "",
             " ".join(token.location_ids)]
        )
    return out.getvalue()


def token_view(row: IdToken) -> TokenView:
    return TokenView(
        id=row.id,
        token=row.token,
        type=row.type,
        status=row.status,
        expires_at=as_utc(row.expires_at) if row.expires_at else None,
        parent_id=row.parent_id,
        label=row.label,
        location_ids=list(row.location_ids or []),
        created_at=as_utc(row.created_at) if row.created_at else None,
        updated_at=as_utc(row.updated_at) if row.updated_at else None,
    )


def check_token_rows(
    session: Session, org_id: str, rows: Any, more_locations: Iterable[str] = ()
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """Rows of a token file or a fleet file's tokens, checked: (the rows as stored, every problem by row)."""
    if not isinstance(rows, list):
        return [], [("tokens", "(list)", "must be a list of tokens")]
    locations = [*session.exec(select(Location.id).where(Location.organization_id == org_id)).all(), *more_locations]
    problems: list[tuple[str, str, str]] = []
    clean_rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], str] = {}
    for index, raw in enumerate(rows):
        subject = f"row {index + 1}"
        if not isinstance(raw, dict):
            problems.append((subject, "(row)", "must be an object"))
            continue
        if "(extra)" in raw:
            problems.append((subject, "(row)", "more values than columns"))
        fields = {name: value for name, value in raw.items() if name not in ("id", "created_at", "updated_at", "(extra)")}
        clean, field_problems = clean_token_fields(fields, partial=False, location_ids=locations)
        if isinstance(fields.get("token"), str) and fields["token"].strip():
            subject = f"{subject} ({fields['token'].strip()})"
        problems.extend((subject, name, message) for name, message in field_problems.items())
        if field_problems:
            continue
        key = (clean["token"].casefold(), clean["type"])
        if key in seen:
            problems.append((subject, "token", f"{clean['token']!r} ({clean['type']}) is also in {seen[key]}"))
            continue
        seen[key] = f"row {index + 1}"
        clean_rows.append(clean)
    return clean_rows, problems


def write_token_rows(session: Session, org_id: str, rows: list[dict[str, Any]], now: datetime) -> list[IdToken]:
    """Write checked rows in the caller's transaction (not committed): new tokens added, held ones (same token and type) changed."""
    held = {
        (row.token.casefold(), row.type): row
        for row in session.exec(select(IdToken).where(IdToken.organization_id == org_id)).all()
    }
    written = []
    for clean in rows:
        row = held.get((clean["token"].casefold(), clean["type"]))
        if row is None:
            row = IdToken(id=new_token_id(), organization_id=org_id, created_at=now, updated_at=now, **clean)
        else:
            for name, value in clean.items():
                setattr(row, name, value)
            row.updated_at = now
        session.add(row)
        written.append(row)
    return written


def import_token_rows(session: Session, org_id: str, rows: Any, now: datetime) -> list[IdToken]:
    """A token file, whole or not at all: ImportRefused lists every bad row. Not committed."""
    clean_rows, problems = check_token_rows(session, org_id, rows)
    if problems:
        raise ImportRefused(problems, "token file")
    return write_token_rows(session, org_id, clean_rows, now)


def export_tokens(session: Session, org_id: str) -> list[dict[str, Any]]:
    """An organization's tokens as a fleet file holds them."""
    rows = session.exec(select(IdToken).where(IdToken.organization_id == org_id).order_by(IdToken.token, IdToken.type)).all()
    return [
        {
            "token": view.token,
            "type": view.type,
            "status": view.status,
            "expires_at": iso(view.expires_at),
            "parent_id": view.parent_id,
            "label": view.label,
            "location_ids": view.location_ids,
        }
        for view in map(token_view, rows)
    ]


class TokenRegistry:
    """Every organization's tokens, in memory; changes are written through the store first."""

    def __init__(self, store: Any, clock: Clock, bus: EventBus) -> None:
        self.store = store
        self.clock = clock
        self.bus = bus
        # What an unknown token gets: accept (a lab's default) or reject (`serve` with real chargers).
        self.unknown = ACCEPT
        self._tokens: dict[str, TokenView] = {}
        self._org_of: dict[str, str] = {}
        # (organization id, token casefolded) -> the token ids holding it (one per type).
        self._index: dict[tuple[str, str], list[str]] = {}

    # -- memory ----------------------------------------------------------------------

    def load(self, session: Session) -> None:
        self._tokens.clear()
        self._org_of.clear()
        self._index.clear()
        for row in session.exec(select(IdToken)).all():
            self._keep(row.organization_id, token_view(row))

    def _keep(self, org_id: str, view: TokenView) -> None:
        self._drop(view.id)
        self._tokens[view.id] = view
        self._org_of[view.id] = org_id
        self._index.setdefault((org_id, view.token.casefold()), []).append(view.id)

    def _drop(self, token_id: str) -> None:
        old = self._tokens.pop(token_id, None)
        if old is None:
            return
        key = (self._org_of.pop(token_id), old.token.casefold())
        ids = [other for other in self._index.get(key, []) if other != token_id]
        if ids:
            self._index[key] = ids
        else:
            self._index.pop(key, None)

    def find(self, org_id: str, token: str, kind: str | None = None) -> TokenView | None:
        """The token as held; `kind` None (a 1.6 idTag) matches any type."""
        for token_id in self._index.get((org_id, token.casefold()), []):
            view = self._tokens[token_id]
            if kind is None or view.type == kind:
                return view
        return None

    def label(self, org_id: str, token: str | None) -> str | None:
        view = self.find(org_id, token) if token else None
        return view.label if view else None

    def authorize(self, org_id: str, token: str, kind: str | None = None, location_id: str | None = None) -> Authorization:
        """What a charger of `org_id` at `location_id` is told about `token` (of 2.0.1 type `kind`)."""
        view = self.find(org_id, token, kind)
        if view is None:
            return Authorization("Accepted" if self.unknown == ACCEPT else "Invalid", known=False)
        status = view.status
        if status == "Accepted" and view.expires_at is not None and view.expires_at <= self.clock.now():
            status = "Expired"
        elif status == "Accepted" and view.location_ids and location_id not in view.location_ids:
            status = "NotAtThisLocation"
        return Authorization(status, view.expires_at, view.parent_id, view.label)

    def local_entries(self, org_id: str, location_id: str | None, ocpp_version: str) -> dict[str, dict[str, Any]]:
        """A charger's local authorization list as it should be now: one entry per token it may see, by key."""
        entries: dict[str, dict[str, Any]] = {}
        for token_id, view in self._tokens.items():
            if self._org_of[token_id] != org_id or (view.location_ids and location_id not in view.location_ids):
                continue
            verdict = self.authorize(org_id, view.token, view.type, location_id)
            if ocpp_version == OcppVersion.V16:
                if len(view.token) > ID_TAG_MAX:
                    continue
                entries[view.token] = {"idTag": view.token, "idTagInfo": verdict.id_tag_info()}
            else:
                entries[f"{view.type}:{view.token}"] = {
                    "idToken": {"idToken": view.token, "type": view.type},
                    "idTokenInfo": verdict.id_token_info(),
                }
        return entries

    # -- records ---------------------------------------------------------------------

    def org_tokens(self, org_id: str) -> list[TokenView]:
        return sorted(
            (view for token_id, view in self._tokens.items() if self._org_of[token_id] == org_id),
            key=lambda view: (view.token.casefold(), view.type),
        )

    def page(
        self, org_id: str, limit: int = 50, offset: int = 0, status: str | None = None, search: str | None = None
    ) -> tuple[list[TokenView], int]:
        """One page of an organization's tokens by token, and how many there are."""
        tokens = self.org_tokens(org_id)
        if status:
            tokens = [view for view in tokens if view.status == status]
        if search:
            needle = search.casefold()
            tokens = [view for view in tokens if needle in view.token.casefold() or needle in (view.label or "").casefold()]
        return tokens[offset : offset + limit], len(tokens)

    def get(self, org_id: str, token_id: str) -> TokenView:
        view = self._tokens.get(token_id)
        if view is None or self._org_of[token_id] != org_id:
            raise NotFound(f"no token {token_id!r}")
        return view

    def _check(
        self, session: Session, org_id: str, fields: dict[str, Any], token_id: str | None = None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        locations = session.exec(select(Location.id).where(Location.organization_id == org_id)).all()
        return clean_token_fields(fields, partial=token_id is not None, location_ids=locations)

    def _taken(self, org_id: str, token: str, kind: str, token_id: str | None) -> str | None:
        held = self.find(org_id, token, kind)
        if held is not None and held.id != token_id:
            return f"{token!r} ({kind}) is already a token ({held.id})"
        return None

    async def create(self, org_id: str, fields: dict[str, Any]) -> TokenView:
        def write(session: Session) -> IdToken:
            clean, problems = self._check(session, org_id, fields)
            if problems:
                raise ValidationFailed(problems)
            taken = self._taken(org_id, clean["token"], clean["type"], None)
            if taken:
                raise Conflict(taken)
            now = self.clock.now()
            row = IdToken(id=new_token_id(), organization_id=org_id, created_at=now, updated_at=now, **clean)
            session.add(row)
            session.commit()
            return row

        row = await self.store.run(write)
        view = token_view(row)
        self._keep(org_id, view)
        return view

    async def update(self, org_id: str, token_id: str, fields: dict[str, Any]) -> TokenView:
        old = self.get(org_id, token_id)

        def write(session: Session) -> IdToken:
            clean, problems = self._check(session, org_id, fields, token_id)
            if problems:
                raise ValidationFailed(problems)
            taken = self._taken(org_id, clean.get("token", old.token), clean.get("type", old.type), token_id)
            if taken:
                raise Conflict(taken)
            row = session.get(IdToken, token_id)
            if row is None:
                raise NotFound(f"no token {token_id!r}")
            for name, value in clean.items():
                setattr(row, name, value)
            row.updated_at = self.clock.now()
            session.add(row)
            session.commit()
            return row

        view = token_view(await self.store.run(write))
        self._keep(org_id, view)
        return view

    async def delete(self, org_id: str, token_id: str) -> TokenView:
        view = self.get(org_id, token_id)

        def write(session: Session) -> None:
            row = session.get(IdToken, token_id)
            if row is not None:
                session.delete(row)
                session.commit()

        await self.store.run(write)
        self._drop(token_id)
        return view

    async def import_rows(self, org_id: str, rows: list[Any]) -> int:
        """Import token rows whole or not at all (ImportRefused lists every bad row). Returns rows written."""

        def write(session: Session) -> list[IdToken]:
            written = import_token_rows(session, org_id, rows, self.clock.now())
            session.commit()
            return written

        written = await self.store.run(write)
        for row in written:
            self._keep(org_id, token_view(row))
        return len(written)

    async def sessions_on(self, org_id: str, token: str) -> list[BlockedSession]:
        """The running sessions started with `token` on the organization's chargers."""

        def read(session: Session) -> list[BlockedSession]:
            rows = session.exec(
                select(Transaction, Charger)
                .join(Charger, col(Charger.id) == col(Transaction.charger_id))
                .where(Charger.organization_id == org_id, col(Transaction.stopped_at).is_(None))
            ).all()
            return [
                BlockedSession(charger.id, charger.identity, tx.connector_id, tx.id or 0, tx.id_tag)
                for tx, charger in rows
                if tx.id_tag.casefold() == token.casefold()
            ]

        return await self.store.run(read)

    def report_blocked(self, sessions: list[BlockedSession], stopping: bool) -> None:
        for running in sessions:
            self.bus.publish(
                Notice(
                    f"token {running.token} is blocked: its session {running.transaction_id} on {running.identity} "
                    f"connector {running.connector_id} is running" + (" (stopping it)" if stopping else ""),
                    "warning",
                    running.charger_id,
                )
            )


class LocalLists:
    """Local authorization lists: the registry pushed to chargers (full or differential SendLocalList), version per charger."""

    def __init__(
        self,
        store: Any,
        clock: Clock,
        registry: TokenRegistry,
        record: Callable[[str], Charger | None],
        operate: Callable[..., Awaitable[Any]],
    ) -> None:
        self.store = store
        self.clock = clock
        self.registry = registry
        self.record = record
        self.operate = operate

    def _record(self, charger_id: str) -> Charger:
        record = self.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id!r}")
        return record

    async def _held(self, charger_id: str) -> LocalAuthList | None:
        return await self.store.run(lambda session: session.get(LocalAuthList, charger_id))

    def _wanted(self, record: Charger) -> dict[str, dict[str, Any]]:
        return self.registry.local_entries(record.organization_id, record.location_id, record.ocpp_version)

    async def status(self, charger_id: str) -> LocalListView:
        record = self._record(charger_id)
        held = await self._held(charger_id)
        if held is None:
            return LocalListView(charger_id, 0, 0, current=not self._wanted(record))
        return LocalListView(
            charger_id,
            held.version,
            len(held.entries or {}),
            current=(held.entries or {}) == self._wanted(record),
            pushed_at=as_utc(held.pushed_at) if held.pushed_at else None,
        )

    async def push(self, charger_id: str, full: bool = False) -> Any:
        """Send the charger its list: the whole list (`full`, or when it never had one), else what changed."""
        record = self._record(charger_id)
        held = await self._held(charger_id)
        wanted = self._wanted(record)
        version = (held.version if held else 0) + 1
        if held is None or full:
            update_type, changes = "Full", list(wanted.values())
        else:
            had = held.entries or {}
            update_type = "Differential"
            changes = [entry for key, entry in wanted.items() if had.get(key) != entry]
            info = "idTagInfo" if record.ocpp_version == OcppVersion.V16 else "idTokenInfo"
            # An entry without its info removes the token from the charger's list.
            changes += [{k: v for k, v in entry.items() if k != info} for key, entry in had.items() if key not in wanted]
        if record.ocpp_version == OcppVersion.V16:
            payload: dict[str, Any] = {"listVersion": version, "updateType": update_type, "localAuthorizationList": changes}
        else:
            payload = {"versionNumber": version, "updateType": update_type}
            if changes:  # 2.0.1 wants at least one entry, or none at all
                payload["localAuthorizationList"] = changes
        result = await self.operate(charger_id, "SendLocalList", payload, command="send_local_list")
        if result.acknowledged:

            def write(session: Session) -> None:
                row = session.get(LocalAuthList, charger_id) or LocalAuthList(charger_id=charger_id)
                row.version = version
                row.entries = wanted
                row.pushed_at = self.clock.now()
                session.add(row)
                session.commit()

            await self.store.run(write)
        return result

    async def version(self, charger_id: str) -> Any:
        """Ask the charger its list version (GetLocalListVersion); the answer is the action's result."""
        self._record(charger_id)
        return await self.operate(charger_id, "GetLocalListVersion", {}, command="get_local_list_version")
