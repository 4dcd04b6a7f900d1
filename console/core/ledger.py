"""The action ledger: the one road from core to a charger, and the record of everything asked of one.

Every road (operator operations, `charge`/`idle` commands, the power cap) goes
open → dispatch → settle:

- `open` writes a new Action (one store write) and announces it;
- `dispatch` checks an OCPP request against the charger's schema, marks the
  action sent, makes the CALL through the charger gateway, times it and
  classifies its outcome (acknowledged, rejected, or failed with a reason:
  offline, timeout, call_error, invalid_request, invalid_answer, cancelled);
- `settle` writes a state change (one store write) and announces it: one
  `ActionChanged` per state, and the charger's live state told once.

An action that passes through a state on its way to another (an immediate
charge is acknowledged and at once completed) settles in one write that
announces both states.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from console.core import operations as ops
from console.core.clock import Clock
from console.core.events import ActionChanged, EventBus
from console.core.live import LiveState, summarize_action
from console.core.models import Action, Charger
from console.core.passwords import mask_secrets
from console.core.ports import ChargerGateway
from console.core.store import Store
from console.core.views import ActionSummary


@dataclass(frozen=True, slots=True)
class Exchange:
    """What became of one CALL: acknowledged, rejected (the charger's status said no) or failed."""

    state: str
    detail: str
    status: str | None = None
    reason: str | None = None
    answer: dict[str, Any] | None = None
    answered_at: datetime | None = None
    duration_ms: float | None = None
    # What the schema found wrong with a request refused before it was sent.
    problem: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.state == "acknowledged"


class ActionLedger:
    def __init__(self, store: Store, clock: Clock, bus: EventBus, live: LiveState) -> None:
        self.store = store
        self.clock = clock
        self.bus = bus
        self.live = live
        self.gateway: ChargerGateway | None = None
        # Told of every settled action (the engine keeps its open actions and schedules by it).
        self.listeners: list[Callable[[Action], None]] = []

    def is_connected(self, identity: str) -> bool:
        return self.gateway is not None and self.gateway.is_connected(identity)

    # -- the record ----------------------------------------------------------------------

    async def open(self, charger_id: str, command: str, parameters: dict[str, Any], **fields: Any) -> Action:
        """A new action (pending unless `fields` says otherwise), written, then announced."""
        now = self.clock.now()
        action = Action(charger_id=charger_id, command=command, parameters=parameters, created_at=now, updated_at=now, **fields)
        await self._write(action)
        self._announce(action, ())
        return action

    async def settle(self, action: Action, state: str, detail: str | None, *, via: str | None = None, **fields: Any) -> None:
        """Move an action to `state` (through `via` first, when given), written once, then announced."""
        if self.live.record(action.charger_id) is None:
            # The charger was deleted and its actions with it: a late answer has nothing left to be written to.
            action.state = state
            for listener in self.listeners:
                listener(action)
            return
        action.detail = detail
        for name, value in fields.items():
            setattr(action, name, value)
        action.updated_at = self.clock.now()
        passed = []
        if via is not None:
            action.state = via
            passed.append(summarize_action(action))
        action.state = state
        await self._write(action)
        self._announce(action, passed)

    async def _write(self, action: Action) -> None:
        snapshot = Action(**action.model_dump())

        def write(session: Session) -> None:
            session.merge(snapshot)
            session.commit()

        await self.store.run(write)

    def _announce(self, action: Action, passed: Sequence[ActionSummary]) -> None:
        summary = summarize_action(action)
        self.live.action_changed(action.charger_id, summary)
        for listener in self.listeners:
            listener(action)
        for earlier in passed:
            self.bus.publish(ActionChanged(action.charger_id, earlier))
        self.bus.publish(ActionChanged(action.charger_id, summary))

    # -- the CALL ------------------------------------------------------------------------

    async def dispatch(
        self, action: Action, operation: str, payload: dict[str, Any], *, sent_detail: str | None = None
    ) -> Exchange:
        """Send the action's CALL and record its outcome.

        A failure or a refusal is settled here. An acknowledgement is not: its answer
        and timing are set on the action for the caller's `settle`, which says what
        an acknowledgement means (an operation is done; a charge may be done or have
        a window open).
        """
        record = self.live.record(action.charger_id)
        refused = self._refused(record, operation, payload)
        if refused is not None:
            await self.settle(action, "failed", refused.detail, reason=refused.reason)
            return refused
        assert record is not None
        # A command's CALL is not its parameters (a charge's SetChargingProfile): kept, so what was installed can be read back.
        request = None if payload == action.parameters else mask_secrets(ops.plain(payload))[0]
        await self.settle(action, "sent", sent_detail, operation=operation, sent_at=self.clock.now(), request=request)
        try:
            exchange = await self._call(record, operation, payload)
        except asyncio.CancelledError:
            if action.state == "sent":  # not settled meanwhile (the engine's stop marks its own)
                await asyncio.shield(
                    self.settle(action, "failed", "cancelled while waiting for the answer", reason=ops.CANCELLED)
                )
            raise
        answer = exchange.answer if exchange.state == "failed" else mask_secrets(exchange.answer)[0]
        timing = {"result": answer, "answered_at": exchange.answered_at, "duration_ms": exchange.duration_ms}
        if exchange.acknowledged:
            for name, value in timing.items():
                setattr(action, name, value)
        else:
            await self.settle(action, exchange.state, exchange.detail, reason=exchange.reason, **timing)
        return exchange

    async def call(self, charger_id: str, operation: str, payload: dict[str, Any]) -> Exchange:
        """A CALL that belongs to an action already settled (a window's closing idle), checked and classified the same way."""
        record = self.live.record(charger_id)
        refused = self._refused(record, operation, payload)
        if refused is not None:
            return refused
        assert record is not None
        return await self._call(record, operation, payload)

    def _refused(self, record: Charger | None, operation: str, payload: dict[str, Any]) -> Exchange | None:
        if record is None:
            return Exchange("failed", "the charger was deleted", reason=ops.ERROR)
        problem = ops.request_problem(record.ocpp_version, operation, payload)
        if problem is not None:
            return Exchange("failed", f"invalid request: {problem}", reason=ops.INVALID_REQUEST, problem=problem)
        if not self.is_connected(record.identity):
            return Exchange("failed", f"offline: {record.identity} is not connected", reason=ops.OFFLINE)
        return None

    async def _call(self, record: Charger, operation: str, payload: dict[str, Any]) -> Exchange:
        gateway = self.gateway
        assert gateway is not None
        started = time.monotonic()
        try:
            answer = ops.plain(await gateway.call(record.identity, operation, payload))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # every way the exchange can fail is the action's outcome
            reason, detail, error_answer = ops.failure_of(error, record.ocpp_version, operation)
            if reason in (ops.ERROR, ops.TIMEOUT) and not gateway.is_connected(record.identity):
                reason, detail = ops.OFFLINE, f"offline: the connection closed before {record.identity} answered"
            answered = reason in (ops.CALL_ERROR, ops.INVALID_ANSWER)
            return Exchange(
                "failed",
                detail,
                reason=reason,
                answer=error_answer,
                answered_at=self.clock.now() if answered else None,
                duration_ms=_elapsed_ms(started),
            )
        state, status = ops.answered_state(answer)
        return Exchange(
            state,
            f"{operation}: {status or 'answered'}",
            status=status,
            answer=answer,
            answered_at=self.clock.now(),
            duration_ms=_elapsed_ms(started),
        )


def _elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
