"""Read-side queries front ends need beyond the live picture: histories, sessions, logs, power."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from console.core.chargerevents import describe
from console.core.live import LiveState, log_view
from console.core.models import Action, Charger, ChargerEvent, LogEntry, MeterSample, SignedMeterValue, Transaction
from console.core.store import Store
from console.core.views import ActionView, ChargerEventView, LogView, PowerSample, TransactionView, iso

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
        key_id=action.key_id,
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
        reconstructed=transaction.reconstructed,
        start_known=transaction.start_known,
        incomplete=transaction.incomplete,
        missing_seq_nos=transaction.missing_seq_nos,
        closed_by=transaction.closed_by,
        meter_anomaly=transaction.meter_anomaly,
        clock_skewed=transaction.clock_skewed,
        charger_started_at=transaction.charger_started_at,
        charger_stopped_at=transaction.charger_stopped_at,
        refused=transaction.refused,
    )


def charger_event_view(row: ChargerEvent, identity: str) -> ChargerEventView:
    data = dict(row.data or {})
    return ChargerEventView(row.id, row.charger_id, identity, row.at, row.kind, row.severity, describe(row.kind, data), data)


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

        return [self._transaction_view(transaction) for transaction in await self.store.run(read)]

    def _transaction_view(self, transaction: Transaction) -> TransactionView:
        """With its energy: as kept once closed, so far while open."""
        if transaction.stopped_at is not None:
            energy = transaction.energy_wh
            if energy is None and transaction.meter_stop_wh is not None and transaction.start_known:
                # a session closed before energy was kept: never negative
                energy = float(transaction.meter_stop_wh - transaction.meter_start_wh)
                energy = energy if energy >= 0 else None
        elif self.live.open_transaction(transaction.charger_id, transaction.connector_id) == transaction.id:
            energy = self.live.session_energy_wh(transaction.charger_id, transaction.connector_id)
        else:
            energy = None
        return transaction_view(transaction, energy)

    async def transaction_export(self, charger_id: str, transaction_id: int) -> dict[str, Any] | None:
        """A session with every reading of it, signed ones verbatim: what an audit (Eichrecht, OCMF) asks for."""

        def read(session: Session) -> tuple[Transaction, list[MeterSample], list[SignedMeterValue]] | None:
            transaction = session.get(Transaction, transaction_id)
            if transaction is None or transaction.charger_id != charger_id:
                return None
            samples = session.exec(
                select(MeterSample)
                .where(MeterSample.charger_id == charger_id, MeterSample.transaction_id == transaction_id)
                .order_by(col(MeterSample.at), col(MeterSample.id))
            ).all()
            signed = session.exec(
                select(SignedMeterValue)
                .where(SignedMeterValue.charger_id == charger_id, SignedMeterValue.transaction_id == transaction_id)
                .order_by(col(SignedMeterValue.at), col(SignedMeterValue.id))
            ).all()
            return transaction, list(samples), list(signed)

        found = await self.store.run(read)
        if found is None:
            return None
        transaction, samples, signed = found
        view = self._transaction_view(transaction)
        return {
            "transaction": {**view.to_dict(), "repairs": list(view.repairs)},
            "meter_values": [
                {"at": iso(sample.at), "connector_id": sample.connector_id, "measurand": sample.measurand,
                 "phase": sample.phase, "unit": sample.unit, "value": sample.value}
                for sample in samples
            ],
            "signed_meter_values": [
                {"at": iso(row.at), "measurand": row.measurand, "phase": row.phase, "context": row.context,
                 "data": row.data, "value": row.value}
                for row in signed
            ],
        }

    async def charger_events(
        self,
        charger_id: str | None = None,
        *,
        organization_id: str | None = None,
        kind: str | None = None,
        severity: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> tuple[list[ChargerEventView], int]:
        """Newest first, one page, and how many match in all: one charger's events, an organization's, or the fleet's."""

        def read(session: Session) -> tuple[list[ChargerEvent], int]:
            query = select(ChargerEvent)
            counted = select(func.count()).select_from(ChargerEvent)
            conditions = []
            if charger_id is not None:
                conditions.append(ChargerEvent.charger_id == charger_id)
            if kind is not None:
                conditions.append(ChargerEvent.kind == kind)
            if severity is not None:
                conditions.append(ChargerEvent.severity == severity)
            if organization_id is not None:
                query = query.join(Charger, col(Charger.id) == col(ChargerEvent.charger_id))
                counted = counted.join(Charger, col(Charger.id) == col(ChargerEvent.charger_id))
                conditions.append(Charger.organization_id == organization_id)
            if conditions:
                query = query.where(*conditions)
                counted = counted.where(*conditions)
            page = query.order_by(col(ChargerEvent.at).desc(), col(ChargerEvent.id).desc()).offset(offset).limit(limit)
            return list(session.exec(page).all()), int(session.exec(counted).one())

        rows, total = await self.store.run(read)
        return [charger_event_view(row, self._identity(row.charger_id)) for row in rows], total

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
