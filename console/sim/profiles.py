"""Charging profiles as a simulated charger keeps them: install, clear, and the limit in force.

Version-neutral and free of I/O. Both OCPP versions' `SetChargingProfile`
payloads (already in snake_case, as the `ocpp` package hands them to a
handler) become one `ChargingProfile`; the charger asks the store for the
limit on a connector at an instant and for the next instant it may change.
Limits in A are turned into W at 230 V per phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from console.sim.ev import PHASES, VOLTAGE

# Neutral purposes; both versions' names map onto them.
MAX = "max"
TX_DEFAULT = "tx_default"
TX = "tx"
PURPOSES = {
    "ChargePointMaxProfile": MAX,
    "ChargingStationMaxProfile": MAX,
    "TxDefaultProfile": TX_DEFAULT,
    "TxProfile": TX,
}
RECURRENCE = {"Daily": timedelta(days=1), "Weekly": timedelta(weeks=1)}


class ProfileRejected(Exception):
    """The profile cannot be installed as sent (the charger answers Rejected)."""


def parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(frozen=True)
class SchedulePeriod:
    start: float
    limit: float
    phases: int | None = None

    def limit_w(self, unit: str) -> float:
        if unit == "A":
            return self.limit * VOLTAGE * (self.phases or PHASES)
        return self.limit


@dataclass
class ChargingProfile:
    id: int
    connector_id: int
    stack_level: int
    purpose: str
    kind: str = "Absolute"
    unit: str = "W"
    periods: list[SchedulePeriod] = field(default_factory=list)
    recurrency: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None
    start_schedule: datetime | None = None
    duration: float | None = None
    # Set when installed, the anchor of an Absolute or Recurring profile that names none.
    installed_at: datetime | None = None

    @classmethod
    def from_ocpp(cls, connector_id: int, data: dict[str, Any], installed_at: datetime) -> ChargingProfile:
        """From a 1.6 `cs_charging_profiles` or a 2.0.1 `charging_profile` (snake_case keys)."""
        try:
            purpose = PURPOSES[data["charging_profile_purpose"]]
        except KeyError as error:
            raise ProfileRejected(f"unsupported purpose {data.get('charging_profile_purpose')!r}") from error
        schedule = data["charging_schedule"]
        if isinstance(schedule, list):  # 2.0.1 carries a list of (at most three) schedules
            if not schedule:
                raise ProfileRejected("no charging schedule")
            schedule = schedule[0]
        periods = sorted(
            (
                SchedulePeriod(float(p["start_period"]), float(p["limit"]), p.get("number_phases"))
                for p in schedule["charging_schedule_period"]
            ),
            key=lambda period: period.start,
        )
        if not periods or periods[0].start != 0:
            raise ProfileRejected("the first schedule period must start at 0")
        if any(period.limit < 0 for period in periods):
            raise ProfileRejected("a limit cannot be negative")
        unit = schedule.get("charging_rate_unit", "W")
        if unit not in ("W", "A"):
            raise ProfileRejected(f"unknown charging rate unit {unit!r}")
        profile_id = data.get("charging_profile_id", data.get("id"))
        transaction_id = data.get("transaction_id")
        return cls(
            id=int(profile_id),
            connector_id=connector_id,
            stack_level=int(data["stack_level"]),
            purpose=purpose,
            kind=data.get("charging_profile_kind", "Absolute"),
            unit=unit,
            periods=periods,
            recurrency=data.get("recurrency_kind"),
            valid_from=parse_time(data.get("valid_from")),
            valid_to=parse_time(data.get("valid_to")),
            transaction_id=str(transaction_id) if transaction_id is not None else None,
            start_schedule=parse_time(schedule.get("start_schedule")),
            duration=float(schedule["duration"]) if schedule.get("duration") is not None else None,
            installed_at=installed_at,
        )

    def _start(self, at: datetime, tx_start: datetime | None) -> datetime | None:
        """When the schedule's period 0 began for the instant `at`; None if it does not apply."""
        if self.kind == "Relative":
            return tx_start
        start = self.start_schedule or self.installed_at or at
        if self.kind == "Recurring":
            cycle = RECURRENCE.get(self.recurrency or "Daily", timedelta(days=1))
            if at >= start:
                start += cycle * ((at - start) // cycle)
        return start

    def limit_at(self, at: datetime, tx_start: datetime | None) -> tuple[float | None, datetime | None]:
        """(limit in W or None when the profile is not in force at `at`, next instant that may change)."""
        changes: list[datetime] = []
        if self.valid_from is not None and at < self.valid_from:
            return None, self.valid_from
        if self.valid_to is not None:
            if at >= self.valid_to:
                return None, None
            changes.append(self.valid_to)
        start = self._start(at, tx_start)
        if start is None:
            return None, None
        if self.kind == "Recurring":
            cycle = RECURRENCE.get(self.recurrency or "Daily", timedelta(days=1))
            changes.append(start + cycle)
        if at < start:
            changes.append(start)
            return None, min(changes)
        elapsed = (at - start).total_seconds()
        if self.duration is not None:
            if elapsed >= self.duration:
                return None, min(changes) if changes and self.kind == "Recurring" else None
            changes.append(start + timedelta(seconds=self.duration))
        current = self.periods[0]
        for period in self.periods:
            if period.start <= elapsed:
                current = period
            else:
                changes.append(start + timedelta(seconds=period.start))
                break
        return current.limit_w(self.unit), min(changes) if changes else None


@dataclass
class Limits:
    """What the profiles allow on one connector now."""

    tx_w: float | None
    max_w: float | None
    next_change: datetime | None


class ProfileStore:
    def __init__(self) -> None:
        self.profiles: list[ChargingProfile] = []

    def install(self, profile: ChargingProfile) -> None:
        if profile.purpose == MAX and profile.connector_id != 0:
            raise ProfileRejected("a charger-wide maximum profile belongs to connector 0")
        if profile.purpose == TX and profile.connector_id == 0:
            raise ProfileRejected("a transaction profile needs a connector")
        # The same id, or the same purpose and stack level on the same connector, is replaced.
        self.profiles = [
            p
            for p in self.profiles
            if p.id != profile.id
            and not (
                p.purpose == profile.purpose
                and p.stack_level == profile.stack_level
                and p.connector_id == profile.connector_id
            )
        ]
        self.profiles.append(profile)

    def clear(
        self,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> int:
        """Remove the profiles matching every criterion given; how many went."""
        neutral = PURPOSES.get(purpose, purpose) if purpose is not None else None

        def matches(p: ChargingProfile) -> bool:
            if profile_id is not None:
                return p.id == profile_id
            return (
                (connector_id is None or p.connector_id == connector_id)
                and (neutral is None or p.purpose == neutral)
                and (stack_level is None or p.stack_level == stack_level)
            )

        kept = [p for p in self.profiles if not matches(p)]
        removed = len(self.profiles) - len(kept)
        self.profiles = kept
        return removed

    def end_transaction(self, transaction_id: str) -> None:
        """A TxProfile lives as long as its transaction."""
        self.profiles = [p for p in self.profiles if not (p.purpose == TX and p.transaction_id == transaction_id)]

    def _winner(
        self, candidates: list[ChargingProfile], at: datetime, tx_start: datetime | None, changes: list[datetime]
    ) -> float | None:
        """The limit of the highest stack level in force; connector-specific beats connector 0 on a tie."""
        best: tuple[int, int, float] | None = None
        for profile in candidates:
            limit, change = profile.limit_at(at, tx_start)
            if change is not None:
                changes.append(change)
            if limit is None:
                continue
            rank = (profile.stack_level, 1 if profile.connector_id else 0, limit)
            if best is None or rank[:2] > best[:2]:
                best = rank
        return best[2] if best else None

    def limits(
        self, connector_id: int, at: datetime, transaction_id: str | None = None, tx_start: datetime | None = None
    ) -> Limits:
        changes: list[datetime] = []
        tx_w: float | None = None
        if transaction_id is not None:
            tx_w = self._winner(
                [
                    p
                    for p in self.profiles
                    if p.purpose == TX
                    and p.connector_id == connector_id
                    and p.transaction_id in (None, transaction_id)
                ],
                at,
                tx_start,
                changes,
            )
        if tx_w is None:
            tx_w = self._winner(
                [p for p in self.profiles if p.purpose == TX_DEFAULT and p.connector_id in (0, connector_id)],
                at,
                tx_start,
                changes,
            )
        max_w = self._winner([p for p in self.profiles if p.purpose == MAX], at, tx_start, changes)
        future = [c for c in changes if c > at]
        return Limits(tx_w, max_w, min(future) if future else None)

    def composite(
        self,
        connector_id: int,
        at: datetime,
        duration: float,
        charger_max_w: float,
        unit: str = "W",
        transaction_id: str | None = None,
        tx_start: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """The effective schedule from `at` for `duration` seconds, as OCPP schedule periods."""
        end = at + timedelta(seconds=duration)
        periods: list[dict[str, Any]] = []
        moment = at
        while moment < end:
            found = self.limits(connector_id, moment, transaction_id, tx_start)
            limit = charger_max_w
            for bound in (found.max_w, found.tx_w if connector_id else None):
                if bound is not None:
                    limit = min(limit, bound)
            value = round(limit / (VOLTAGE * PHASES), 1) if unit == "A" else round(limit, 1)
            if not periods or periods[-1]["limit"] != value:
                periods.append({"start_period": int((moment - at).total_seconds()), "limit": value})
            if found.next_change is None:
                break
            moment = found.next_change
        return periods
