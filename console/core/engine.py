"""The action engine: `charge` and `idle` commands, run now, at a time, or within a window.

Every command becomes an Action in the ledger (`ledger.py`), which writes it
before anyone is told of it and makes every CALL. One scheduler task sleeps on the injected clock until the next thing is
due (a start, a window's end, an offline action's deadline) and wakes early
when a command arrives or a charger comes back.

States: scheduled -> pending -> sent -> acknowledged -> completed, or
rejected / failed / cancelled / expired / unknown. A windowed charge stays
acknowledged while its window is open and completes when the window ends.
An action the console sent but stopped (or crashed) before the answer is
`unknown` (reason interrupted): the charger may have done it, so it is not
called a failure; the operator checks the charger. A window whose start is
unknown still has its end carried out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from console.core import operations as ops
from console.core.clock import Clock
from console.core.errors import CommandRefused, NotFound
from console.core.events import ChargerUpdated
from console.core.ledger import ActionLedger
from console.core.live import LiveState
from console.core.models import Action, new_action_id
from console.core.rates import WATTS, ChargingRate
from console.core.timespec import parse_time
from console.core.versions import OcppVersion

log = logging.getLogger(__name__)

COMMANDS: dict[str, dict[str, Any]] = {
    "charge": {
        "parameters": {
            "connectorId": "integer",
            "idTag": "string",
            "powerLimit": "number (kW)",
            # The session's need, for the depot planner.
            "departBy": "date-time",
            "energyKWh": "number (kWh)",
            "targetSoC": "number (%)",
            "batteryKWh": "number (kWh)",
        },
        "execution": ["immediate", "scheduled", "windowed"],
    },
    "idle": {
        "parameters": {"connectorId": "integer", "stopSession": "boolean"},
        "execution": ["immediate", "scheduled"],
    },
}
CONFLICT_STRATEGIES = ["cancel_and_replace", "queue_after"]
TERMINAL = ("completed", "rejected", "failed", "cancelled", "expired", "unknown")
# What a start reads back: what may still move, and an unknown outcome whose window must still close.
RELOADED = ("scheduled", "pending", "sent", "acknowledged", "unknown")
NOT_CANCELLABLE = "only pending or scheduled actions, or an open window, can be cancelled"
HORIZON = timedelta(days=30)
# A start this far in the past still counts as "now" (a person typing "now" or a clock step).
START_TOLERANCE = timedelta(seconds=60)
DEFAULT_GRACE = timedelta(minutes=5)
DEFAULT_ID_TAG = "CONSOLE"
# Profile ids the engine owns, so a new limit replaces the old one on the charger.
COMMAND_PROFILE_ID = 1001
# Why an action was cancelled without an operator asking (Action.reason).
CHARGER_DELETED = "charger_deleted"


@dataclass(frozen=True)
class Plan:
    """One OCPP operation that carries a command out."""

    operation: str
    payload: dict[str, Any]
    summary: str
    # The limit (W) the session is held to once the charger accepts it; None: its own max.
    limit_w: float | None = None


def remote_start_id(action_id: str) -> int:
    """A stable integer for 2.0.1's remoteStartId, derived from the action id."""
    return int(action_id.removeprefix("action_")[:7], 16)


def is_open(action: Action, now: datetime) -> bool:
    """Still able to conflict with a new command on the same charger."""
    if action.state in ("scheduled", "pending", "sent"):
        return True
    return has_window(action) and (action.end_at or now) > now


def has_window(action: Action) -> bool:
    """A windowed charge whose end the engine still has to carry out (its start acknowledged, or its outcome unknown)."""
    return action.state in ("acknowledged", "unknown") and action.execution == "windowed" and action.end_at is not None


class ActionEngine:
    def __init__(self, clock: Clock, live: LiveState, ledger: ActionLedger, grace: timedelta = DEFAULT_GRACE) -> None:
        self.clock = clock
        self.live = live
        self.ledger = ledger
        self.store = ledger.store
        self.bus = ledger.bus
        self.grace = grace
        self._started_at = clock.now()
        ledger.listeners.append(self._settled)
        self._open: dict[str, Action] = {}
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._running: set[str] = set()
        self._action_tasks: set[asyncio.Task[None]] = set()
        self._submitting: dict[str, asyncio.Lock] = {}
        # The power limit (W) of each charger's last acknowledged charge command, if it set one.
        self._power_limits: dict[str, float] = {}
        # Chargers whose limited session has been seen open: the limit (a TxProfile) ends with it.
        self._limited_session_open: set[str] = set()
        # (charger, connector) -> transaction already held idle before its window.
        self._held: dict[tuple[str, Any], int | None] = {}
        # On a cluster node: whether this node runs an action now (core.cluster's claim); None runs every one.
        self.claim: Callable[[Action], Awaitable[bool]] | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Reload what was open when the console stopped; expire what was missed."""
        now = self._started_at = self.clock.now()
        actions = await self.store.run(
            lambda session: list(
                session.exec(select(Action).where(col(Action.state).in_(RELOADED))).all()
            )
        )
        for action in actions:
            if self.claim is not None and (action.state in ("pending", "sent") or self._missed(action, now)):
                if not await self.claim(action):  # another node's, running there
                    continue
            if action.command not in COMMANDS:
                if action.state in ("pending", "sent"):
                    await self._interrupted(action)
                continue
            if action.state == "sent":
                await self._interrupted(action)
                if has_window(action):
                    self._open[action.id] = action
            elif action.state in ("acknowledged", "unknown"):
                if has_window(action):
                    self._open[action.id] = action
            elif self._missed(action, now):
                await self.ledger.settle(
                    action, "expired", f"missed: due at {self._start_of(action):%Y-%m-%d %H:%M:%S} UTC while the console was down"
                )
            else:
                self._open[action.id] = action
        subscription = self.bus.subscribe(kinds=(ChargerUpdated,))
        self._tasks = [
            asyncio.create_task(self._schedule(), name="action scheduler"),
            asyncio.create_task(self._watch(subscription), name="action watcher"),
        ]
        self._wakeup.set()
        for charger_id in {action.charger_id for action in self._open.values()}:
            self._publish_schedule(charger_id)

    def _missed(self, action: Action, now: datetime) -> bool:
        """Too late to run after a restart: a window once it has ended, anything else past its start's grace."""
        if action.queued_after is not None:
            return False
        if action.execution == "windowed" and action.end_at is not None:
            # A window that opened while the console was down runs for what is left of it.
            return action.end_at <= now
        return self._start_of(action) + self.grace < now

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop scheduling; let actions already on their way finish, and mark the ones that cannot."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        in_flight = [task for task in self._action_tasks if not task.done()]
        if in_flight:
            await asyncio.wait(in_flight, timeout=drain_seconds)
        for action in list(self._open.values()):
            if action.state == "sent":
                await self._interrupted(action)
        for task in self._action_tasks:
            task.cancel()

    async def _interrupted(self, action: Action) -> None:
        """The console stopped with the action on its way: never sent is a failure; sent is an outcome nobody knows."""
        if action.state != "sent":
            detail = "interrupted: the console stopped before sending it"
            await self.ledger.settle(action, "failed", detail, reason=ops.INTERRUPTED)
            return
        record = self.live.record(action.charger_id)
        identity = record.identity if record is not None else action.charger_id
        detail = (
            f"outcome unknown: the console stopped after sending {action.operation or action.command} to {identity}, "
            "before its answer; check the charger"
        )
        if action.execution == "windowed" and action.end_at is not None:
            detail += f" (the window still closes at {action.end_at:%H:%M:%S} UTC)"
        await self.ledger.settle(action, "unknown", detail, reason=ops.INTERRUPTED)

    # -- commands --------------------------------------------------------------------

    def commands(self) -> dict[str, Any]:
        return {name: {"parameters": dict(spec["parameters"]), "execution": list(spec["execution"])} for name, spec in COMMANDS.items()}

    async def submit(
        self,
        charger_id: str,
        command: str,
        parameters: dict[str, Any] | None = None,
        execution: str | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        on_conflict: str | None = None,
    ) -> Action:
        """Check a command, settle its conflicts, write it, and schedule it."""
        record = self.live.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id!r}")
        if command not in COMMANDS:
            raise CommandRefused("INVALID_COMMAND", f"unknown command {command!r}: one of {', '.join(COMMANDS)}", field="command")
        parameters = self._check_parameters(command, dict(parameters or {}), record.max_charging_power)
        now = self.clock.now()
        execution = execution or ("windowed" if end is not None else "scheduled" if start is not None else "immediate")
        if execution not in COMMANDS[command]["execution"]:
            raise CommandRefused(
                "EXECUTION_NOT_SUPPORTED",
                f"{command} runs {', '.join(COMMANDS[command]['execution'])}, not {execution}",
                field="execution",
            )
        start_at, end_at = self._check_times(execution, start, end, now)
        if on_conflict is not None and on_conflict not in CONFLICT_STRATEGIES:
            raise CommandRefused(
                "INVALID_CONFLICT_STRATEGY",
                f"unknown conflict strategy {on_conflict!r}: one of {', '.join(CONFLICT_STRATEGIES)}",
                field="onConflict",
            )
        # The check and the write are one step per charger: of parallel commands, one wins and the rest conflict.
        async with self._submitting.setdefault(charger_id, asyncio.Lock()):
            return await self._admit(record.identity, charger_id, command, parameters, execution, start_at, end_at, on_conflict)

    async def _admit(
        self,
        identity: str,
        charger_id: str,
        command: str,
        parameters: dict[str, Any],
        execution: str,
        start_at: datetime | None,
        end_at: datetime | None,
        on_conflict: str | None,
    ) -> Action:
        now = self.clock.now()
        conflicting = [action for action in self._open.values() if action.charger_id == charger_id and is_open(action, now)]
        conflicting.sort(key=lambda action: action.created_at)
        queued_after = None
        if conflicting:
            latest = conflicting[-1]
            if on_conflict is None:
                raise CommandRefused(
                    "CONFLICT",
                    f"{identity} already has {latest.command} {latest.id} ({latest.state}); "
                    f"send it with onConflict cancel_and_replace or queue_after",
                    conflicting=latest.id,
                    field="onConflict",
                )
        action_id = new_action_id()
        state = "scheduled" if execution != "immediate" else "pending"
        detail = None
        if conflicting and on_conflict == "cancel_and_replace":
            for old in conflicting:
                await self.ledger.settle(old, "cancelled", f"replaced by {action_id}")
        elif conflicting and on_conflict == "queue_after":
            queued_after = conflicting[-1].id
            state, detail = "scheduled", f"queued after {queued_after}"
        action = await self.ledger.open(
            charger_id,
            command,
            parameters,
            id=action_id,
            execution=execution,
            state=state,
            detail=detail,
            start_at=start_at,
            end_at=end_at,
            on_conflict=on_conflict,
            queued_after=queued_after,
        )
        self._open[action.id] = action
        if action.execution != "immediate":
            self._publish_schedule(charger_id)
        self._wakeup.set()
        return action

    async def cancel(self, action_id: str) -> Action:
        action = self._open.get(action_id)
        if action is None:
            stored = await self.store.run(lambda session: session.get(Action, action_id))
            if stored is None:
                raise NotFound(f"no action {action_id!r}")
            raise CommandRefused("NOT_CANCELLABLE", f"{action_id} is {stored.state}: {NOT_CANCELLABLE}")
        if action.state not in ("scheduled", "pending") and not is_open(action, self.clock.now()):
            raise CommandRefused("NOT_CANCELLABLE", f"{action_id} is {action.state}: {NOT_CANCELLABLE}")
        if action.id in self._running and action.state == "sent":
            raise CommandRefused("NOT_CANCELLABLE", f"{action_id} was already sent to the charger")
        if has_window(action):
            await self._cancel_open_window(action)
        else:
            await self.ledger.settle(action, "cancelled", "cancelled by an operator")
        self._wakeup.set()
        return action

    async def _cancel_open_window(self, action: Action) -> None:
        """A window cancelled while open closes now, as at its end: the charger is idled (held at 0 W) first."""
        record = self.live.record(action.charger_id)
        if action.id in self._running:
            raise CommandRefused("NOT_CANCELLABLE", f"{action.id}'s window is closing already")
        if record is None or not self.ledger.is_connected(record.identity):
            identity = record.identity if record else action.charger_id
            raise CommandRefused(
                "NOT_CANCELLABLE",
                f"{identity} is offline: its window cannot be closed early (the engine idles it at the window's end)",
            )
        self._running.add(action.id)
        try:
            state, what, reason = await self._close_window(action)
        finally:
            self._running.discard(action.id)
        if state == "done":
            await self.ledger.settle(action, "cancelled", f"cancelled by an operator; window closed early: {what}")
        else:
            detail = f"cancelled by an operator, but {what}: the charger may still be charging"
            await self.ledger.settle(action, state, detail, reason=reason)

    async def charger_deleted(self, charger_id: str) -> list[Action]:
        """Cancel the charger's open actions before it goes, so none falls due on a charger that is not there."""
        cancelled = [action for action in self._open.values() if action.charger_id == charger_id]
        for action in cancelled:
            await self.ledger.settle(action, "cancelled", "cancelled: the charger was deleted", reason=CHARGER_DELETED)
        self._power_limits.pop(charger_id, None)
        self._limited_session_open.discard(charger_id)
        self._held = {key: value for key, value in self._held.items() if key[0] != charger_id}
        self._submitting.pop(charger_id, None)
        return cancelled

    def current_schedule(self, charger_id: str) -> dict[str, Any] | None:
        """The seed's currentSchedule: the scheduled or windowed command that governs the charger next."""
        now = self.clock.now()
        candidates = [
            action
            for action in self._open.values()
            if action.charger_id == charger_id and action.execution != "immediate" and is_open(action, now)
        ]
        if not candidates:
            return None
        action = min(candidates, key=lambda item: (self._start_of(item), item.created_at))
        return {
            "actionId": action.id,
            "command": action.command,
            "execution": action.execution,
            "start": action.start_at,
            "end": action.end_at,
            "state": action.state,
        }

    # -- checks ----------------------------------------------------------------------

    def _check_parameters(self, command: str, parameters: dict[str, Any], max_power_w: int) -> dict[str, Any]:
        allowed = COMMANDS[command]["parameters"]
        unknown = sorted(set(parameters) - set(allowed))
        if unknown:
            raise CommandRefused("INVALID_PARAMETERS", f"{command} takes {', '.join(allowed)}; not {', '.join(unknown)}", field="parameters")
        if "connectorId" in parameters:
            connector = parameters["connectorId"]
            if isinstance(connector, bool) or not isinstance(connector, int) or connector < 1:
                raise CommandRefused("INVALID_PARAMETERS", "connectorId must be a connector number from 1", field="parameters.connectorId")
        if "powerLimit" in parameters:
            limit = parameters["powerLimit"]
            if isinstance(limit, bool) or not isinstance(limit, int | float) or limit < 0:
                raise CommandRefused("INVALID_PARAMETERS", "powerLimit must be a number of kW, 0 or more", field="parameters.powerLimit")
            if limit * 1000 > max_power_w:
                raise CommandRefused(
                    "INVALID_PARAMETERS",
                    f"powerLimit {limit} kW is above the charger's {max_power_w / 1000:g} kW",
                    field="parameters.powerLimit",
                )
        if "idTag" in parameters and (not isinstance(parameters["idTag"], str) or not 0 < len(parameters["idTag"]) <= 20):
            raise CommandRefused("INVALID_PARAMETERS", "idTag must be text of 1 to 20 characters", field="parameters.idTag")
        if "stopSession" in parameters and not isinstance(parameters["stopSession"], bool):
            raise CommandRefused("INVALID_PARAMETERS", "stopSession must be true or false", field="parameters.stopSession")
        return parameters

    def _check_times(
        self, execution: str, start: str | datetime | None, end: str | datetime | None, now: datetime
    ) -> tuple[datetime | None, datetime | None]:
        if execution == "immediate":
            if start is not None or end is not None:
                raise CommandRefused("INVALID_EXECUTION", "an immediate command takes no start or end", field="execution")
            return None, None
        if start is None:
            raise CommandRefused("START_REQUIRED", f"a {execution} command needs a start time", field="start")
        try:
            start_at = parse_time(start, now)
        except ValueError as error:
            raise CommandRefused("INVALID_TIME", f"start: {error}", field="start") from None
        except OverflowError:
            raise CommandRefused("START_OUT_OF_RANGE", f"start {start!r} is beyond the calendar", field="start") from None
        if start_at < now - START_TOLERANCE or start_at > now + HORIZON:
            raise CommandRefused(
                "START_OUT_OF_RANGE",
                f"start {start_at:%Y-%m-%d %H:%M:%S} UTC must be between now and {HORIZON.days} days ahead",
                field="start",
            )
        if execution == "scheduled":
            if end is not None:
                raise CommandRefused("INVALID_EXECUTION", "a scheduled command takes no end; use windowed", field="execution")
            return start_at, None
        if end is None:
            raise CommandRefused("END_REQUIRED", "a windowed command needs an end time", field="end")
        try:
            end_at = parse_time(end, now)
        except ValueError as error:
            raise CommandRefused("INVALID_TIME", f"end: {error}", field="end") from None
        except OverflowError:
            raise CommandRefused("END_OUT_OF_RANGE", f"end {end!r} is beyond the calendar", field="end") from None
        if end_at <= start_at:
            raise CommandRefused("END_BEFORE_START", "the window's end must come after its start", field="end")
        if end_at > now + HORIZON:
            raise CommandRefused("END_OUT_OF_RANGE", f"the window must end within {HORIZON.days} days", field="end")
        return start_at, end_at

    # -- the scheduler -----------------------------------------------------------------

    def _start_of(self, action: Action) -> datetime:
        return action.start_at or action.created_at

    def _next_due(self, now: datetime) -> datetime | None:
        moments = []
        for action in self._open.values():
            if action.id in self._running:
                continue
            if action.state == "scheduled":
                # A queued action's start counts once what it waits for is done; that settling wakes us.
                if action.queued_after is None or action.queued_after not in self._open:
                    moments.append(self._start_of(action))
            elif action.state == "pending":
                moments.append(self._offline_deadline(action) if self._waiting(action) else now)
            elif has_window(action) and action.end_at is not None:
                if action.end_at > now or self._reachable(action):
                    moments.append(max(action.end_at, now))
                else:
                    moments.append(self._closing_deadline(action))
        return min(moments) if moments else None

    async def _schedule(self) -> None:
        while True:
            self._wakeup.clear()
            now = self.clock.now()
            for action in list(self._open.values()):
                if action.id not in self._running and self._due(action, now):
                    self._running.add(action.id)
                    task = asyncio.create_task(self._run(action), name=f"action {action.id}")
                    self._action_tasks.add(task)
                    task.add_done_callback(self._action_tasks.discard)
            due = self._next_due(now)
            sleeper = asyncio.ensure_future(self._sleep_until(due) if due else asyncio.Event().wait())
            waker = asyncio.ensure_future(self._wakeup.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()

    async def _sleep_until(self, moment: datetime) -> None:
        # Measured when the sleep begins, not when it was planned: the clock may have moved in between.
        await self.clock.sleep((moment - self.clock.now()).total_seconds())

    def _due(self, action: Action, now: datetime) -> bool:
        if action.state == "scheduled":
            if action.queued_after is not None:
                return action.queued_after not in self._open and self._start_of(action) <= now
            return self._start_of(action) <= now
        if action.state == "pending":
            # A pending action runs at once; one waiting for an offline charger runs when
            # the charger comes back or its deadline passes.
            if not self._waiting(action):
                return True
            record = self.live.record(action.charger_id)
            return record is None or self.ledger.is_connected(record.identity) or self._offline_deadline(action) <= now
        if has_window(action) and action.end_at is not None and action.end_at <= now:
            # A window's end idles the charger: one offline is waited for (a restart finds them all offline).
            return self._reachable(action) or self._closing_deadline(action) <= now
        return False

    def _waiting(self, action: Action) -> bool:
        return action.state == "pending" and (action.detail or "").startswith("waiting")

    def _closing(self, action: Action, now: datetime) -> bool:
        """A window that has ended and waits for its charger to come back to be idled."""
        return has_window(action) and action.end_at is not None and action.end_at <= now

    def _reachable(self, action: Action) -> bool:
        record = self.live.record(action.charger_id)
        return record is None or self.ledger.is_connected(record.identity)

    def _offline_deadline(self, action: Action) -> datetime:
        """How long a due action waits for an offline charger: the grace, from its start or from the engine's start.

        A window waits no longer than its end.
        """
        deadline = max(self._start_of(action), self._started_at) + self.grace
        return deadline if action.end_at is None else min(deadline, action.end_at)

    def _closing_deadline(self, action: Action) -> datetime:
        """How long a window's end waits for an offline charger: the grace, from the end or from the engine's start."""
        assert action.end_at is not None
        return max(action.end_at, self._started_at) + self.grace

    async def _watch(self, subscription: Any) -> None:
        """Chargers coming back let waiting actions run; a session outside its charge window is held idle."""
        while True:
            events = await subscription.next_batch()
            updated = {e.charger.id: e.charger for e in events if isinstance(e, ChargerUpdated)}
            now = self.clock.now()
            if any(
                action.charger_id in updated and (self._waiting(action) or self._closing(action, now))
                for action in self._open.values()
            ):
                self._wakeup.set()
            for charger_id, view in updated.items():
                if charger_id in self._power_limits:
                    self._follow_limited_session(charger_id)
                if view.is_charging and view.current_power_kw > 0:
                    await self._hold_outside_window(charger_id)

    def _has_session(self, charger_id: str) -> bool:
        if self.live.record(charger_id) is None:  # deleted meanwhile
            return False
        view = self.live.view(charger_id)
        return any(self.live.open_transaction(charger_id, c.connector_id) is not None for c in view.connectors)

    def _follow_limited_session(self, charger_id: str) -> None:
        """A command's limit is the session's TxProfile: once that session has ended, nothing holds the charger to it."""
        if self._has_session(charger_id):
            self._limited_session_open.add(charger_id)
        elif charger_id in self._limited_session_open:
            self._limited_session_open.discard(charger_id)
            self._power_limits.pop(charger_id, None)
            self.live.limit_changed(charger_id, None, "command")

    async def _hold_outside_window(self, charger_id: str) -> None:
        """A windowed charge means idle until the window opens: suspend a session that starts early."""
        now = self.clock.now()
        waiting = [
            action for action in self._open.values()
            if action.charger_id == charger_id and action.execution == "windowed" and action.state == "scheduled"
            and (action.start_at or now) > now
        ]
        record = self.live.record(charger_id)
        if not waiting or record is None or not self.ledger.is_connected(record.identity):
            return
        idle = Action(charger_id=charger_id, command="idle", parameters={}, created_at=now, updated_at=now)
        plan = self._plan(idle)
        if plan is None:
            return
        key = (charger_id, plan.payload.get("connectorId", plan.payload.get("evseId")))
        transaction = self.live.open_transaction(charger_id, key[1] or 0)
        if self._held.get(key) == transaction:
            return
        self._held[key] = transaction
        # Not an action of its own: the windowed charge that waits is what the operator asked for.
        exchange = await self.ledger.call(charger_id, plan.operation, plan.payload)
        if exchange.state != "acknowledged":
            log.warning("could not hold %s idle before its window: %s", record.identity, exchange.detail)
        else:
            self._limit_in_force(charger_id, plan.limit_w)
            self.live.log(record.identity, "event", f"held idle until the charge window opens ({waiting[0].id})", charger_id=charger_id)

    async def _run(self, action: Action) -> None:
        try:
            if self.claim is not None:
                try:
                    claimed = await self.claim(action)
                except Exception as error:  # the store away: tried again in a moment, never run unclaimed
                    log.warning("could not claim action %s: %s", action.id, error)
                    await self.clock.sleep(1.0)
                    return
                if not claimed:  # another node runs it (or ran it): its outcome comes through the store
                    self._open.pop(action.id, None)
                    return
            if has_window(action):
                await self._end_window(action)
            else:
                await self._execute(action)
        except Exception as error:  # one action's failure must not stop the scheduler
            log.exception("action %s failed", action.id)
            if action.state not in TERMINAL:
                await self.ledger.settle(action, "failed", f"{type(error).__name__}: {error}")
        finally:
            self._running.discard(action.id)
            self._wakeup.set()

    async def _execute(self, action: Action) -> None:
        record = self.live.record(action.charger_id)
        if record is None:
            await self.ledger.settle(action, "failed", "the charger was deleted")
            return
        now = self.clock.now()
        if action.state == "scheduled":
            await self.ledger.settle(action, "pending", None)
        if not self.ledger.is_connected(record.identity):
            deadline = self._offline_deadline(action)
            if now >= deadline:
                await self.ledger.settle(
                    action, "failed", f"offline: {record.identity} did not come back by {deadline:%H:%M:%S} UTC", reason=ops.OFFLINE
                )
            elif not self._waiting(action):
                await self.ledger.settle(action, "pending", f"waiting for {record.identity} to come back (until {deadline:%H:%M:%S} UTC)")
            return
        plan = self._plan(action)
        if plan is None:
            await self._acknowledged(action, "nothing to do: " + self._already(action))
            return
        await self._send(action, plan)

    async def _send(self, action: Action, plan: Plan) -> None:
        exchange = await self.ledger.dispatch(action, plan.operation, plan.payload, sent_detail=plan.summary)
        if exchange.acknowledged:
            await self._acknowledged(action, f"{plan.summary}: {exchange.status or 'Accepted'}", plan)

    def command_limit_w(self, charger_id: str) -> float | None:
        """The power limit a charge command set for the charger (the power cap respects it)."""
        return self._power_limits.get(charger_id)

    def _limit_in_force(self, charger_id: str, watts: float | None) -> None:
        """The charger accepted a TxProfile of `watts` (None: up to its max) from a command, a window's end or a hold."""
        if watts is None:
            self._power_limits.pop(charger_id, None)
        else:
            self._power_limits[charger_id] = watts
        self.live.limit_changed(charger_id, None if watts is None else watts / 1000, "command")
        # A remote start's session opens after this; a running one is the limited one now.
        self._limited_session_open.discard(charger_id)
        if watts is not None and self._has_session(charger_id):
            self._limited_session_open.add(charger_id)

    async def _acknowledged(self, action: Action, detail: str, plan: Plan | None = None) -> None:
        if plan is not None:
            self._limit_in_force(action.charger_id, plan.limit_w)
        elif action.command == "charge":  # already charging at its max: no limit holds it
            self._limit_in_force(action.charger_id, None)
        if action.execution == "windowed" and action.end_at is not None:
            await self.ledger.settle(action, "acknowledged", f"{detail}; window open until {action.end_at:%H:%M:%S} UTC")
        else:
            await self.ledger.settle(action, "completed", detail, via="acknowledged")

    async def _end_window(self, action: Action) -> None:
        """The window closed: idle the charger, then the action is done; never done when the charger was not idled."""
        assert action.end_at is not None
        record = self.live.record(action.charger_id)
        if record is not None and not self.ledger.is_connected(record.identity):
            await self.ledger.settle(
                action,
                "failed",
                f"window closed at {action.end_at:%H:%M:%S} UTC but {record.identity} was offline until "
                f"{self._closing_deadline(action):%H:%M:%S} UTC: not idled",
                reason=ops.OFFLINE,
            )
            return
        state, what, reason = await self._close_window(action)
        if state == "done":
            await self.ledger.settle(action, "completed", f"window closed; {what}")
        else:
            await self.ledger.settle(action, state, f"window closed but {what}", reason=reason)

    async def _close_window(self, action: Action) -> tuple[str, str, str | None]:
        """Idle the charger as a window's end does: its session is held at 0 W (kept open, not stopped).

        Returns (done | rejected | failed, what happened, the failure's reason).
        """
        connector = action.parameters.get("connectorId")
        idle = Action(
            charger_id=action.charger_id,
            command="idle",
            parameters={"connectorId": connector} if connector else {},
            created_at=action.created_at,
            updated_at=action.updated_at,
        )
        if self.live.record(action.charger_id) is None:
            return "failed", "the charger was deleted", ops.ERROR
        plan = self._plan(idle)
        if plan is None:
            return "done", "the charger was already idle", None
        # The closing idle belongs to the window's action: its outcome is that action's last word.
        exchange = await self.ledger.call(action.charger_id, plan.operation, plan.payload)
        if exchange.state == "failed":
            return "failed", f"idling failed: {exchange.detail}", exchange.reason
        if exchange.state == "rejected":
            return "rejected", f"the charger refused to idle: {plan.summary}: {exchange.status}", None
        self._limit_in_force(action.charger_id, plan.limit_w)
        return "done", f"{plan.summary}: {exchange.status or 'Accepted'}", None

    # -- what a command means for a charger now ------------------------------------------

    def _connector(self, action: Action) -> tuple[int, int | None, str | None]:
        """(connector, open transaction id, its reference) the command acts on."""
        record = self.live.record(action.charger_id)
        assert record is not None
        wanted = action.parameters.get("connectorId")
        view = self.live.view(action.charger_id)
        candidates = [wanted] if wanted else [c.connector_id for c in view.connectors if c.connector_id > 0]
        for connector_id in candidates:
            transaction_id = self.live.open_transaction(action.charger_id, connector_id)
            if transaction_id is not None:
                return connector_id, transaction_id, self.live.transaction_reference(action.charger_id, connector_id)
        for connector_id in candidates:
            status = next((c.status for c in view.connectors if c.connector_id == connector_id), "Available")
            if status in ("Preparing", "Occupied", "SuspendedEV"):
                return connector_id, None, None
        return (wanted or (candidates[0] if candidates else 1)), None, None

    def _already(self, action: Action) -> str:
        return "already charging" if action.command == "charge" else "no session to idle"

    def _plan(self, action: Action) -> Plan | None:
        record = self.live.record(action.charger_id)
        assert record is not None
        version = record.ocpp_version
        rate = self.live.charging_rate(action.charger_id)
        connector_id, transaction_id, reference = self._connector(action)
        limit_kw = action.parameters.get("powerLimit")
        if action.command == "charge":
            if transaction_id is None:
                return self._remote_start(version, action, connector_id, limit_kw, rate)
            watts = float(limit_kw * 1000) if limit_kw is not None else float(record.max_charging_power)
            if self.live.is_drawing(action.charger_id, connector_id) and limit_kw is None:
                return None
            summary = f"charge at up to {watts / 1000:g} kW"
            # Without a powerLimit the profile is the charger's own max: no limit.
            limit_w = None if limit_kw is None else watts
            return self._profile(version, connector_id, transaction_id, reference, watts, summary, limit_w, rate)
        if transaction_id is None:
            return None
        if action.parameters.get("stopSession"):
            # 1.6 stops our transaction id; 2.0.1 the charger's own reference, which its every session has.
            stopped = str(transaction_id) if version == OcppVersion.V16 else reference
            assert stopped is not None
            operation, payload = ops.remote_stop_request(version, stopped)
            return Plan(operation, payload, f"remote stop of transaction {stopped}")
        return self._profile(version, connector_id, transaction_id, reference, 0.0, "suspend with a 0 W limit", 0.0, rate)

    def _remote_start(
        self, version: str, action: Action, connector_id: int, limit_kw: float | None, rate: ChargingRate = WATTS
    ) -> Plan:
        """A remote start; a power limit goes with it as its TxProfile, so it holds from the session's first second."""
        profile = None
        if limit_kw is not None:
            profile = ops.charging_profile(version, COMMAND_PROFILE_ID, 1, ops.TX_PROFILE, limit_kw * 1000, rate=rate)
        operation, payload = ops.remote_start_request(
            version, connector_id, action.parameters.get("idTag", DEFAULT_ID_TAG), remote_start_id(action.id), profile
        )
        limited = "" if limit_kw is None else f" at up to {limit_kw:g} kW"
        where = "connector" if operation == "RemoteStartTransaction" else "EVSE"
        limit_w = None if limit_kw is None else limit_kw * 1000
        return Plan(operation, payload, f"remote start on {where} {connector_id}{limited}", limit_w)

    def _profile(
        self,
        version: str,
        connector_id: int,
        transaction_id: int,
        reference: str | None,
        watts: float,
        summary: str,
        limit_w: float | None,
        rate: ChargingRate = WATTS,
    ) -> Plan:
        """The running session's TxProfile: 1.6 names the session by our id, 2.0.1 by the charger's reference."""
        transaction = transaction_id if version == OcppVersion.V16 else reference
        profile = ops.charging_profile(version, COMMAND_PROFILE_ID, 1, ops.TX_PROFILE, watts, transaction=transaction, rate=rate)
        return Plan(*ops.set_profile_request(version, connector_id, profile), summary, limit_w)

    # -- the ledger's word -----------------------------------------------------------------

    def _settled(self, action: Action) -> None:
        """The ledger settled one of our actions: a finished one leaves the open set; a timed one moves the schedule."""
        if action.id not in self._open:
            return
        if action.state in TERMINAL:
            del self._open[action.id]
            self._wakeup.set()
        if action.execution != "immediate":
            self._publish_schedule(action.charger_id)

    def _publish_schedule(self, charger_id: str) -> None:
        self.live.schedule_changed(charger_id, self.current_schedule(charger_id))

    # -- a cluster (core.cluster) ------------------------------------------------------------

    async def adopt(self, action_id: str) -> None:
        """A command another cluster node opened or moved on: this engine's copy follows the store (it may
        cancel it here; which node runs it is the claim's to say)."""
        if action_id in self._running:
            return
        stored = await self.store.run(lambda session: session.get(Action, action_id))
        if stored is None or stored.command not in COMMANDS or stored.state not in RELOADED:
            dropped = self._open.pop(action_id, None)
            if dropped is not None:
                self._publish_schedule(dropped.charger_id)
            return
        self._open[action_id] = stored
        self._wakeup.set()
        self._publish_schedule(stored.charger_id)
