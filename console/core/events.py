"""The in-process event bus: the core publishes, front ends subscribe.

Publishing never blocks. Each subscriber has its own queue, bounded: a
subscriber that falls far behind first loses the charger snapshots a newer
one supersedes, then the oldest OCPP frames (they are in the store; a Notice
says how many were skipped), never actions, notices or connection events.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from console.core.views import ActionSummary, ChargerEventView, ChargerView, LogView, UnknownChargerView


@dataclass(frozen=True, slots=True)
class ChargerUpdated:
    """A charger's record or live state changed; carries the new snapshot."""

    charger: ChargerView


@dataclass(frozen=True, slots=True)
class ChargerRemoved:
    charger_id: str
    identity: str


@dataclass(frozen=True, slots=True)
class LogAppended:
    entry: LogView


@dataclass(frozen=True, slots=True)
class ActionChanged:
    charger_id: str
    action: ActionSummary


@dataclass(frozen=True, slots=True)
class UnknownChargerSeen:
    """An identity not in the fleet tried to connect (or its decision changed)."""

    charger: UnknownChargerView


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a person should be told (a runtime failed to start, an import ran)."""

    message: str
    severity: str = "information"  # "information" | "warning" | "error"
    charger_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChargerAlert:
    """A charger told of something a person should see now: a fault, a security event, an alerting NotifyEvent."""

    event: ChargerEventView


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """The store stopped taking writes (`reason` says why) or takes them again (`reason` None)."""

    reason: str | None
    queued: int = 0
    dropped: int = 0

    @property
    def state(self) -> str:
        return "ok" if self.reason is None else "degraded"


@dataclass(frozen=True, slots=True)
class ServerLost:
    """Attach mode: the server at `url` cannot be reached; what the console shows is as of now."""

    url: str


@dataclass(frozen=True, slots=True)
class ServerBack:
    """Attach mode: the server answers again, and every charger has been sent as it is now."""

    url: str


@dataclass(frozen=True, slots=True)
class PlanChanged:
    """A location's charging plan was made again (or its planner switched off); `plan` is its wire form."""

    location_id: str
    organization_id: str
    plan: dict[str, Any]


Event = ChargerUpdated | ChargerRemoved | LogAppended | ActionChanged | UnknownChargerSeen | Notice | ChargerAlert | StoreHealth | ServerLost | ServerBack


class Subscription:
    """An async iterator of events; `close()` ends it."""

    def __init__(
        self, bus: EventBus, max_pending: int, kinds: tuple[type, ...] | None = None, frames: bool = True
    ) -> None:
        self._bus = bus
        # Which events this subscriber takes: every kind (None) or these; OCPP frames or not.
        self.kinds = kinds
        self.frames = frames
        self._pending: deque[Any] = deque()
        self._max_pending = max_pending
        # Make room when the queue reaches this; raised while what is left cannot be dropped.
        self._limit = max_pending
        self._wakeup = asyncio.Event()
        self._closed = False

    def _put(self, event: Any) -> None:
        if len(self._pending) >= self._limit:
            self._make_room()
        self._pending.append(event)
        self._wakeup.set()

    def _make_room(self) -> None:
        """Down to three quarters of the bound: superseded snapshots first, then the oldest frames."""
        self._drop_superseded()
        target = self._max_pending * 3 // 4
        if len(self._pending) > target:
            self._drop_frames(len(self._pending) - target)
        # What is left cannot be dropped; look again once it has grown by as much again, not at every event.
        self._limit = max(self._max_pending, len(self._pending) + self._max_pending // 4)

    def _drop_frames(self, count: int) -> None:
        kept: deque[Any] = deque()
        dropped = 0
        for event in self._pending:
            if dropped < count and is_frame(event):
                dropped += 1
            else:
                kept.append(event)
        self._pending = kept
        if dropped:
            kept.append(Notice(f"fell behind: {dropped} OCPP frames not shown here (all are in the store)", "warning"))

    def _drop_superseded(self) -> None:
        latest: dict[str, int] = {}
        for index, event in enumerate(self._pending):
            if isinstance(event, ChargerUpdated):
                latest[event.charger.id] = index
        keep = deque(
            event
            for index, event in enumerate(self._pending)
            if not isinstance(event, ChargerUpdated) or latest[event.charger.id] == index
        )
        self._pending = keep

    def drain(self) -> list[Any]:
        """Everything pending now, without waiting."""
        events = list(self._pending)
        self._pending.clear()
        self._limit = self._max_pending
        self._wakeup.clear()
        return events

    async def next_batch(self) -> list[Any]:
        """Wait for at least one event, then return all pending ones."""
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self.drain()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        event = self._pending.popleft()
        if len(self._pending) < self._max_pending:
            self._limit = self._max_pending
        return event

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()
        self._bus._unsubscribe(self)


def is_frame(event: object) -> bool:
    """An OCPP frame in or out (not a connection event): the bulk of all events under load."""
    return isinstance(event, LogAppended) and event.entry.direction != "event"


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscription] = []
        self.wants_frames = False

    def subscribe(
        self, max_pending: int = 50_000, *, kinds: tuple[type, ...] | None = None, frames: bool = True
    ) -> Subscription:
        """A queue of the events published from now on: all of them, or only `kinds`, with or without frames.

        A subscriber that has no use for frames says so: under load they are most
        events, and with nobody taking them the core does not build them at all.
        """
        subscription = Subscription(self, max_pending, kinds, frames)
        self._subscribers.append(subscription)
        self._changed()
        return subscription

    def set_frames(self, subscription: Subscription, frames: bool) -> None:
        """Start or stop giving `subscription` the OCPP frames (the API takes them only while a stream wants them)."""
        subscription.frames = frames
        self._changed()

    def _unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)
            self._changed()

    def _changed(self) -> None:
        self.wants_frames = any(
            subscription.frames and (subscription.kinds is None or LogAppended in subscription.kinds)
            for subscription in self._subscribers
        )

    def publish(self, event: Event) -> None:
        kind = type(event)
        frame = is_frame(event)
        for subscription in self._subscribers:
            if (subscription.kinds is None or kind in subscription.kinds) and (subscription.frames or not frame):
                subscription._put(event)
