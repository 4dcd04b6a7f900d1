"""`ocpp-console doctor`: what the console had to repair in the store, per charger.

Read from the store alone (no server needed): sessions reconstructed from their
stop, closed as superseded or at a reboot, incomplete, with a meter that went
backwards, or timed by a charger whose clock was wrong; and the chargers whose
clock is wrong now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from console.core.models import Charger, ChargerState, Transaction
from console.core.queries import transaction_view
from console.core.views import TransactionView

# The repairs counted in the total line, in its order (TransactionView.repairs' words).
REPAIRS = ("reconstructed", "superseded", "reboot", "incomplete", "meter", "clock")


@dataclass
class ChargerRepairs:
    charger_id: str
    identity: str
    # Its clock's offset now (s, theirs minus ours) when beyond the allowed skew.
    clock_offset_s: float | None = None
    sessions: list[TransactionView] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "charger_id": self.charger_id,
            "identity": self.identity,
            "clock_offset_s": self.clock_offset_s,
            "sessions": [{**view.to_dict(), "repairs": list(view.repairs)} for view in self.sessions],
        }


def closed_energy_wh(transaction: Transaction) -> float | None:
    """A session's energy as kept; for one that is still open the store alone does not tell."""
    if transaction.stopped_at is None:
        return None
    if transaction.energy_wh is not None:
        return transaction.energy_wh
    if transaction.meter_stop_wh is not None and transaction.start_known:
        energy = float(transaction.meter_stop_wh - transaction.meter_start_wh)
        return energy if energy >= 0 else None
    return None


def repairs_by_charger(session: Session) -> list[ChargerRepairs]:
    """Every charger with a repaired session or a wrong clock, by identity; its sessions oldest first."""
    repaired = session.exec(
        select(Transaction, Charger.identity)
        .join(Charger, col(Charger.id) == col(Transaction.charger_id))
        .where(
            or_(
                col(Transaction.reconstructed),
                col(Transaction.closed_by).is_not(None),
                col(Transaction.incomplete),
                col(Transaction.meter_anomaly).is_not(None),
                col(Transaction.clock_skewed),
            )
        )
        .order_by(col(Transaction.started_at), col(Transaction.id))
    ).all()
    skewed = session.exec(
        select(ChargerState.charger_id, Charger.identity, ChargerState.clock_offset_s)
        .join(Charger, col(Charger.id) == col(ChargerState.charger_id))
        .where(col(ChargerState.clock_offset_s).is_not(None))
    ).all()
    chargers: dict[str, ChargerRepairs] = {}
    for charger_id, identity, offset in skewed:
        chargers[charger_id] = ChargerRepairs(charger_id, identity, clock_offset_s=offset)
    for transaction, identity in repaired:
        entry = chargers.setdefault(transaction.charger_id, ChargerRepairs(transaction.charger_id, identity))
        entry.sessions.append(transaction_view(transaction, closed_energy_wh(transaction)))
    return sorted(chargers.values(), key=lambda entry: entry.identity)


def totals(chargers: list[ChargerRepairs]) -> dict[str, Any]:
    """How many sessions needed repair, of each kind, and the energy among them (kWh, where known)."""
    sessions = [view for entry in chargers for view in entry.sessions]
    return {
        "sessions": len(sessions),
        "chargers": sum(1 for entry in chargers if entry.sessions),
        "clock_wrong_now": sum(1 for entry in chargers if entry.clock_offset_s is not None),
        **{word: sum(1 for view in sessions if word in view.repairs) for word in REPAIRS},
        "energy_kwh": round(sum(view.energy_kwh or 0.0 for view in sessions), 3),
    }
