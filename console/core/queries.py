"""Read-side queries front ends need beyond the live picture: histories, sessions, logs, power."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from console.core.live import LiveState, log_view
from console.core.models import Action, LogEntry, MeterSample, Transaction
from console.core.store import Store
from console.core.views import ActionView, LogView, PowerSample, TransactionView

POWER = "Power.Active.Import"


def action_view(action: Action, identity: str) -> ActionView:
    return ActionView(
        id=action.id,
        charger_id=action.charger_id,
        identity=identity,
        command=action.command,
        parameters=dict(action.parameters or {}),
        execution=action.execution,
        state=action.state,
        detail=action.detail,
        created_at=action.created_at,
        updated_at=action.updated_at,
        start_at=action.start_at,
        end_at=action.end_at,
        operation=action.operation,
        result=action.result,
        reason=action.reason,
        sent_at=action.sent_at,
        answered_at=action.answered_at,
        duration_ms=action.duration_ms,
    )


def transaction_view(transaction: Transaction, energy_wh: float | None) -> TransactionView:
    return TransactionView(
        id=transaction.id or 0,
        charger_id=transaction.charger_id,
        reference=transaction.transaction_ref,
        connector_id=transaction.connector_id,
        id_tag=transaction.id_tag,
        started_at=transaction.started_at,
        stopped_at=transaction.stopped_at,
        energy_kwh=None if energy_wh is None else round(energy_wh / 1000, 3),
        stop_reason=transaction.stop_reason,
    )


class Queries:
    def __init__(self, store: Store, live: LiveState) -> None:
        self.store = store
        self.live = live

    def _identity(self, charger_id: str) -> str:
        record = self.live.record(charger_id)
        return record.identity if record else charger_id

    async def actions(self, charger_id: str | None = None, limit: int = 200) -> list[ActionView]:
        """Newest first; one charger's or the whole fleet's."""

        def read(session: Session) -> list[Action]:
            query = select(Action).order_by(col(Action.created_at).desc(), col(Action.id).desc()).limit(limit)
            if charger_id is not None:
                query = query.where(Action.charger_id == charger_id)
            return list(session.exec(query).all())

        return [action_view(action, self._identity(action.charger_id)) for action in await self.store.run(read)]

    async def transactions(self, charger_id: str, limit: int = 100) -> list[TransactionView]:
        """Newest first, with the energy so far for a session still running."""

        def read(session: Session) -> list[Transaction]:
            return list(
                session.exec(
                    select(Transaction)
                    .where(Transaction.charger_id == charger_id)
                    .order_by(col(Transaction.started_at).desc())
                    .limit(limit)
                ).all()
            )

        views = []
        running = {
            connector.connector_id: self.live.view(charger_id).session_energy_kwh
            for connector in (self.live.view(charger_id).connectors if self.live.record(charger_id) else ())
        }
        for transaction in await self.store.run(read):
            if transaction.meter_stop_wh is not None:
                energy = float(transaction.meter_stop_wh - transaction.meter_start_wh)
            elif self.live.open_transaction(charger_id, transaction.connector_id) == transaction.id:
                energy = running.get(transaction.connector_id, 0.0) * 1000
            else:
                energy = None
            views.append(transaction_view(transaction, energy))
        return views

    async def logs(self, limit: int = 500, before_id: int | None = None) -> list[LogView]:
        """The whole fleet's log, oldest first."""

        def read(session: Session) -> list[LogView]:
            query = select(LogEntry).order_by(col(LogEntry.id).desc()).limit(limit)
            if before_id is not None:
                query = query.where(col(LogEntry.id) < before_id)
            return [log_view(row) for row in reversed(session.exec(query).all())]

        return await self.store.run(read)

    async def power_history(self, charger_id: str, since: datetime) -> list[PowerSample]:
        """The charger's total power over time (all connectors), from its meter samples."""

        def read(session: Session) -> list[MeterSample]:
            return list(
                session.exec(
                    select(MeterSample)
                    .where(
                        MeterSample.charger_id == charger_id,
                        MeterSample.measurand == POWER,
                        col(MeterSample.phase).is_(None),
                        col(MeterSample.at) >= since,
                    )
                    .order_by(col(MeterSample.at))
                ).all()
            )

        per_connector: dict[int, float] = {}
        samples: list[PowerSample] = []
        for row in await self.store.run(read):
            scale = 1.0 if row.unit == "kW" else 0.001
            per_connector[row.connector_id] = row.value * scale
            samples.append(PowerSample(at=row.at, kw=round(sum(per_connector.values()), 3)))
        return samples
