"""GET /events: the core's events for the caller's organization, as server-sent events with ids.

One hub (`EventHub`) takes the core's events for every stream: it works out
each event's organization, encodes it once, gives it the next id and keeps it
in the durable event log (the `streamevent` table, through the batch writer,
bounded by age and count) and in a short in-memory tail per organization, then
hands the same text to each open stream of that organization. OCPP frames
(`log` events with direction in/out) go only to open streams, without an id:
they are the bulk of all events, and the charger's log has them.

A stream that comes back with `Last-Event-ID` (or `?lastEventId=`) is sent what
it missed from the log first; when that reaches back past what the log keeps,
a `gap` event says so (then the client should read the state afresh). Streams
take filters (`?chargerId=`, `?types=`), are limited per key (429), are closed
when their key is revoked (the hub asks the store about open streams' keys
every second), and a stream that falls too far behind loses frames first and
is then closed (it comes back with its Last-Event-ID).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session, col, delete, func, or_, select

from console.api.auth import principal, service_of
from console.api.envelope import ApiError
from console.api.schemas import errors
from console.api.scope import org_scope
from console.api.wire import (
    ACTION,
    ALERT,
    CHARGER,
    CHARGER_REMOVED,
    LOG,
    NOTICE,
    PLAN,
    STORE,
    UNKNOWN,
    encode_event,
)
from console.core.events import (
    ActionChanged,
    ChargerAlert,
    ChargerRemoved,
    ChargerUpdated,
    LogAppended,
    Notice,
    PlanChanged,
    StoreHealth,
    Subscription,
    UnknownChargerSeen,
    is_frame,
)
from console.core.fleet import DEFAULT_ORG
from console.core.keys import Principal
from console.core.models import ApiKey, StreamEvent

log = logging.getLogger("console.api")

router = APIRouter(tags=["events"], dependencies=[Depends(org_scope)])

EVENT_TYPES = (CHARGER, CHARGER_REMOVED, LOG, ACTION, NOTICE, UNKNOWN, ALERT, STORE, PLAN)
# The event that says a replay could not reach back as far as the client asked.
GAP = "gap"
# The organization of an event every organization sees (the store's health).
EVERYONE = "*"
STREAM_COLUMNS = ("id", "organization_id", "charger_id", "type", "data", "at")


@dataclass
class EventLogSettings:
    """How much of the event stream is kept for replay, and how often the hub looks after it."""

    retention_s: float = 24 * 3600.0
    max_events: int = 100_000
    # Events per organization kept in memory too (those not written yet are replayed from there).
    memory: int = 2_000
    # At most this many events are replayed to one stream; an older rest is announced as a gap.
    max_replay: int = 10_000
    prune_every_s: float = 60.0
    # How often the keys of open streams are checked for revocation.
    key_check_s: float = 1.0
    # Entries waiting for one slow stream before it loses frames, then is closed.
    max_pending: int = 10_000


@dataclass(frozen=True, slots=True)
class Entry:
    """One event as every stream of its organization sends it."""

    id: int | None  # None: an OCPP frame (not logged, not replayed)
    type: str
    charger_id: str | None
    text: str  # the whole SSE message


def sse(name: str, data: str, id: int | None = None) -> str:
    return (f"id: {id}\n" if id is not None else "") + f"event: {name}\ndata: {data}\n\n"


class Listener:
    """One open stream's queue, with its filters."""

    def __init__(self, who: Principal, charger_id: str | None, types: frozenset[str] | None, max_pending: int) -> None:
        self.who = who
        self.charger_id = charger_id
        self.types = types
        self.max_pending = max_pending
        self.pending: deque[Entry] = deque()
        self.closed: str | None = None  # why, once closed
        self.dropped_frames = 0
        self._wakeup = asyncio.Event()

    @property
    def wants_frames(self) -> bool:
        return self.types is None or LOG in self.types

    def wants(self, entry: Entry) -> bool:
        return (self.types is None or entry.type in self.types) and (self.charger_id is None or entry.charger_id == self.charger_id)

    def offer(self, entry: Entry) -> None:
        if self.closed is not None or not self.wants(entry):
            return
        self.pending.append(entry)
        self._wakeup.set()
        if len(self.pending) > self.max_pending:
            self._fell_behind()

    def _fell_behind(self) -> None:
        kept = deque(entry for entry in self.pending if entry.id is not None)
        self.dropped_frames += len(self.pending) - len(kept)
        self.pending = kept
        if len(kept) > self.max_pending * 3 // 4:
            self.close("the stream fell too far behind; reconnect with Last-Event-ID")

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
        self._wakeup.set()

    async def next_batch(self, timeout: float) -> list[Entry] | None:
        """What is pending (waiting up to `timeout` for something); None when nothing came."""
        if not self.pending and self.closed is None:
            self._wakeup.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)
        if not self.pending:
            return None
        batch = list(self.pending)
        self.pending.clear()
        return batch


class EventHub:
    """The one subscriber to the core's events for all of /events, and the durable event log."""

    def __init__(self, service: Any, settings: EventLogSettings | None = None, streams_per_key: int = 5) -> None:
        self.service = service
        self.settings = settings or EventLogSettings()
        self.streams_per_key = streams_per_key
        self.listeners: dict[str, set[Listener]] = {}  # by organization
        self.tails: dict[str, deque[Entry]] = {}  # by organization ("*" too)
        self.org_of: dict[str, str] = {}  # charger id -> organization id
        self.next_id = 1
        self.first_kept = 1  # the oldest id the log still has (or the next one, when it is empty)
        self.closed = False
        self._subscription: Subscription | None = None
        self._rows: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._listeners_changed: list[Callable[[], None]] = []
        self.publish_hooks: list[Callable[[str, Entry, dict[str, Any]], None]] = []
        # On a cluster node: where event ids come from (blocks no other node gives), else counted here.
        self.ids: Callable[[], int] | None = None
        # On a cluster node: whether an event shows what another node said of a charger it holds (that
        # node's webhooks deliver it; streamed here all the same).
        self.mirrored: Callable[[Any], bool] | None = None

    # -- life ------------------------------------------------------------------------

    async def start(self) -> None:
        self._subscription = self.service.subscribe(frames=False)
        for view in self.service.live.views():
            self.org_of[view.id] = view.organization_id
        self.first_kept, last = await self.service.store.run(_id_range)
        self.next_id = last + 1
        if self.first_kept > last:
            self.first_kept = self.next_id
        self._rows = self.service.writer.rows(StreamEvent.__table__, STREAM_COLUMNS)
        self._tasks = [
            asyncio.create_task(self._run(), name="event hub"),
            asyncio.create_task(self._prune_now_and_then(), name="event log retention"),
            asyncio.create_task(self._check_keys(), name="event stream keys"),
        ]

    async def stop(self) -> None:
        self.closed = True
        for listeners in self.listeners.values():
            for listener in listeners:
                listener.close("the server is stopping")
        if self._subscription is not None:
            self._subscription.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []

    # -- streams ---------------------------------------------------------------------

    def open(self, who: Principal, charger_id: str | None, types: frozenset[str] | None) -> Listener:
        if self.closed:
            raise ApiError(503, "UNAVAILABLE", "the server is stopping")
        mine = self.listeners.setdefault(who.organization_id, set())
        if sum(1 for listener in mine if listener.who.key_id == who.key_id) >= self.streams_per_key:
            raise ApiError(
                429, "TOO_MANY_STREAMS", f"this key has {self.streams_per_key} event streams open already (at most {self.streams_per_key})",
                headers={"Retry-After": "5"},
            )
        listener = Listener(who, charger_id, types, self.settings.max_pending)
        mine.add(listener)
        self._frames_wanted()
        return listener

    def close(self, listener: Listener) -> None:
        listener.close("closed")
        mine = self.listeners.get(listener.who.organization_id)
        if mine is not None:
            mine.discard(listener)
            if not mine:
                del self.listeners[listener.who.organization_id]
        self._frames_wanted()

    def open_streams(self) -> int:
        return sum(len(listeners) for listeners in self.listeners.values())

    def _frames_wanted(self) -> None:
        wanted = any(listener.wants_frames for listeners in self.listeners.values() for listener in listeners)
        if self._subscription is not None and self._subscription.frames != wanted:
            self.service.bus.set_frames(self._subscription, wanted)

    # -- the core's events -------------------------------------------------------------

    async def _run(self) -> None:
        assert self._subscription is not None
        while True:
            try:
                events = await self._subscription.next_batch()
            except StopAsyncIteration:
                return
            try:
                for event in events:
                    self._publish(event)
            except Exception:  # one bad event must not end every stream
                log.exception("the event hub could not send an event")

    def _organization(self, event: Any) -> tuple[str | None, str | None]:
        """(organization id, or "*" for everyone, or None for no one; the charger it is about)."""
        if isinstance(event, ChargerUpdated):
            self.org_of[event.charger.id] = event.charger.organization_id
            return event.charger.organization_id, event.charger.id
        if isinstance(event, ChargerRemoved):
            return self.org_of.pop(event.charger_id, None), event.charger_id
        if isinstance(event, LogAppended):
            return self._org_of(event.entry.charger_id), event.entry.charger_id
        if isinstance(event, ActionChanged):
            return self._org_of(event.charger_id), event.charger_id
        if isinstance(event, Notice):
            return (EVERYONE, None) if event.charger_id is None else (self._org_of(event.charger_id), event.charger_id)
        if isinstance(event, ChargerAlert):
            return self._org_of(event.event.charger_id), event.event.charger_id
        if isinstance(event, UnknownChargerSeen):
            return f"org-{DEFAULT_ORG}", None
        if isinstance(event, StoreHealth):
            return EVERYONE, None
        if isinstance(event, PlanChanged):
            return event.organization_id, None
        return None, None

    def _org_of(self, charger_id: str | None) -> str | None:
        if charger_id is None:
            return None
        org = self.org_of.get(charger_id)
        if org is None:
            with contextlib.suppress(KeyError):
                org = self.org_of[charger_id] = self.service.live.view(charger_id).organization_id
        return org

    def _publish(self, event: Any) -> None:
        org, charger_id = self._organization(event)
        if org is None:
            return
        encoded = encode_event(event)
        if encoded is None:
            return
        name, data = encoded
        text = json.dumps(data, separators=(",", ":"))
        if is_frame(event):
            entry = Entry(None, name, charger_id, sse(name, text))
        else:
            entry_id = self.ids() if self.ids is not None else self.next_id
            self.next_id = entry_id + 1
            entry = Entry(entry_id, name, charger_id, sse(name, text, entry_id))
            self._rows.add([entry.id, org, charger_id, name, text, self.service.clock.now()])
            self.tails.setdefault(org, deque(maxlen=self.settings.memory)).append(entry)
            if self.mirrored is None or not self.mirrored(event):  # another node offers its own
                for hook in self.publish_hooks:
                    hook(org, entry, data)
        if org == EVERYONE:
            for listeners in self.listeners.values():
                for listener in listeners:
                    listener.offer(entry)
        else:
            for listener in self.listeners.get(org, ()):
                listener.offer(entry)

    # -- replay ----------------------------------------------------------------------

    async def replay(self, organization_id: str, after: int) -> tuple[list[Entry], dict[str, Any] | None]:
        """The organization's logged events after id `after`, oldest first, and the gap before them (None: none)."""
        limit = self.settings.max_replay
        if after >= self.next_id:  # an id this log never gave (another store, or one restored from a backup)
            return [], {"lastEventId": after, "firstAvailable": self.first_kept, "reason": "unknown id"}
        rows = await self.service.store.run(lambda session: _rows_after(session, organization_id, after, limit + 1))
        found = {row.id: Entry(row.id, row.type, row.charger_id, sse(row.type, row.data, row.id)) for row in rows}
        for org in (organization_id, EVERYONE):
            for entry in self.tails.get(org, ()):
                if entry.id is not None and entry.id > after:
                    found[entry.id] = entry
        entries = [found[id] for id in sorted(found)]
        gap = None
        if after + 1 < self.first_kept:
            gap = {"lastEventId": after, "firstAvailable": self.first_kept, "reason": "older events are no longer kept"}
        if len(entries) > limit:
            entries = entries[-limit:]
            gap = {"lastEventId": after, "firstAvailable": entries[0].id, "reason": f"more than {limit} events to replay"}
        return entries, gap

    # -- upkeep ----------------------------------------------------------------------

    async def _prune_now_and_then(self) -> None:
        while True:
            await self.prune()
            await asyncio.sleep(self.settings.prune_every_s)

    async def prune(self) -> None:
        """Drop logged events older than the retention or beyond the newest `max_events`."""
        before = self.service.clock.now() - timedelta(seconds=self.settings.retention_s)
        below = self.next_id - self.settings.max_events
        try:
            first = await self.service.store.run(lambda session: _prune(session, before, below))
        except Exception as error:  # the store may be unavailable: try again next time
            log.info("event log retention: %s", error)
            return
        self.first_kept = max(self.first_kept, first if first is not None else self.next_id)

    async def _check_keys(self) -> None:
        while True:
            await asyncio.sleep(self.settings.key_check_s)
            open_keys = {listener.who.key_id for listeners in self.listeners.values() for listener in listeners}
            if not open_keys:
                continue
            try:
                revoked = await self.service.store.run(lambda session: _revoked(session, open_keys))
            except Exception as error:
                log.info("event stream key check: %s", error)
                continue
            for listeners in self.listeners.values():
                for listener in listeners:
                    if listener.who.key_id in revoked:
                        listener.close("the API key was revoked")


def _id_range(session: Session) -> tuple[int, int]:
    first, last = session.exec(select(func.min(StreamEvent.id), func.max(StreamEvent.id))).one()
    return (first or 1), (last or 0)


def _rows_after(session: Session, organization_id: str, after: int, limit: int) -> list[StreamEvent]:
    rows = session.exec(
        select(StreamEvent)
        .where(col(StreamEvent.id) > after, or_(StreamEvent.organization_id == organization_id, StreamEvent.organization_id == EVERYONE))
        .order_by(col(StreamEvent.id).desc())
        .limit(limit)
    ).all()
    session.expunge_all()
    return list(reversed(rows))


def _prune(session: Session, before: datetime, below: int) -> int | None:
    session.exec(delete(StreamEvent).where(or_(col(StreamEvent.at) < before, col(StreamEvent.id) < below)))  # type: ignore[call-overload]
    session.commit()
    return session.exec(select(func.min(StreamEvent.id))).one()


def _revoked(session: Session, key_ids: set[str]) -> set[str]:
    rows = session.exec(select(ApiKey.id).where(col(ApiKey.id).in_(key_ids), col(ApiKey.revoked_at).is_not(None))).all()
    gone = set(rows)
    present = set(session.exec(select(ApiKey.id).where(col(ApiKey.id).in_(key_ids))).all())
    return gone | (key_ids - present)


def hub_of(request: Request) -> EventHub:
    return request.app.state.events


async def _stream(
    hub: EventHub, listener: Listener, replay: tuple[list[Entry], dict[str, Any] | None] | None, heartbeat_s: float
) -> AsyncIterator[str]:
    try:
        yield ": connected\n\n"
        if replay is not None:
            entries, gap = replay
            if gap is not None:
                yield sse(GAP, json.dumps(gap, separators=(",", ":")))
            sent = [entry.text for entry in entries if listener.wants(entry)]
            last = entries[-1].id if entries else None
            if last is not None:  # what came live meanwhile and was replayed too
                listener.pending = deque(entry for entry in listener.pending if entry.id is None or entry.id > last)
            if sent:
                yield "".join(sent)
        while True:
            batch = await listener.next_batch(heartbeat_s)
            if listener.dropped_frames:
                dropped, listener.dropped_frames = listener.dropped_frames, 0
                notice = {"message": f"fell behind: {dropped} OCPP frames not sent (all are in the store)", "severity": "warning", "charger_id": None}
                yield sse(NOTICE, json.dumps(notice, separators=(",", ":")))
            if batch:
                yield "".join(entry.text for entry in batch)
            elif listener.closed is not None:
                return
            else:
                yield ": keep-alive\n\n"
    finally:
        hub.close(listener)


def _types(text: str | None) -> frozenset[str] | None:
    if text is None or not text.strip():
        return None
    types = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(types - set(EVENT_TYPES))
    if unknown:
        raise ApiError(
            422, "VALIDATION_ERROR", f"unknown event types: {', '.join(unknown)[:200]}",
            [{"field": "types", "message": f"each one of: {', '.join(EVENT_TYPES)}"}],
        )
    return types


def _last_event_id(header: str | None, query: str | None) -> int | None:
    text = header if header is not None else query
    if text is None or not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise ApiError(422, "VALIDATION_ERROR", "Last-Event-ID must be an event id (an integer)", [{"field": "Last-Event-ID", "message": "an integer"}]) from None
    if value < 0:
        raise ApiError(422, "VALIDATION_ERROR", "Last-Event-ID must not be negative", [{"field": "Last-Event-ID", "message": "0 or more"}])
    return value


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}, **errors(401, 404, 422, 429)},
    summary="The organization's events as server-sent events",
    description=(
        "Events: `charger` (a charger's full view), `charger_removed` ({charger_id, identity}), `log` (a log line), "
        "`action` ({charger_id, action}), `notice` ({message, severity, charger_id}), `alert` (a charger event that "
        "matters: a connector gone Faulted, a security event, an alerting NotifyEvent; as in "
        "/ocpp/chargers/{id}/events), `unknown` (an identity not in the fleet; default organization only), "
        "`store` ({state, reason, queued, dropped}: the store stopped taking writes, or takes them again). "
        "Every event but an OCPP frame (a `log` event of direction in or out) has an `id:`; a client that comes back "
        "with the `Last-Event-ID` header (or `?lastEventId=`) is first sent what it missed, from a log kept 24 hours "
        "(at most 100,000 events by default). When the log no longer reaches back that far, a `gap` event "
        "({lastEventId, firstAvailable, reason}) comes first: read the state afresh. `chargerId` keeps one charger's "
        "events, `types` (comma-separated) the named kinds. A key has at most 5 streams open (429 beyond); a stream "
        "ends when its key is revoked. A comment line is sent every 15 s while nothing happens."
    ),
)
async def events(
    request: Request,
    who: Principal = Depends(principal),
    charger_id: str | None = Query(None, alias="chargerId", max_length=200, description="only this charger's events"),
    types: str | None = Query(None, max_length=500, description=f"comma-separated event types: {', '.join(EVENT_TYPES)}"),
    last_event_id_query: str | None = Query(None, alias="lastEventId", max_length=30, description="as the Last-Event-ID header"),
    last_event_id: str | None = Header(None, alias="Last-Event-ID", max_length=30),
) -> StreamingResponse:
    wanted = _types(types)
    after = _last_event_id(last_event_id, last_event_id_query)
    hub = hub_of(request)
    if charger_id is not None:
        found = hub.org_of.get(charger_id) or next(
            (view.organization_id for view in service_of(request).org_chargers(who.organization_id) if view.id == charger_id), None
        )
        if found != who.organization_id:
            raise ApiError(404, "NOT_FOUND", "no such charger in this organization")
    # Listen before reading the log, so nothing in between is lost (what is in both is sent once).
    listener = hub.open(who, charger_id, wanted)
    try:
        replay = await hub.replay(who.organization_id, after) if after is not None else None
    except BaseException:
        hub.close(listener)
        raise
    return StreamingResponse(
        _stream(hub, listener, replay, request.app.state.heartbeat_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
