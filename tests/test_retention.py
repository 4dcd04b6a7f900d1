"""Retention: raw rows pruned by a policy per kind, meter samples rolled up first, space and the log reclaimed."""

from __future__ import annotations

import secrets
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from console.core.clock import ManualClock
from console.core.errors import ConsoleError
from console.core.models import (
    Charger,
    ChargerEvent,
    LogEntry,
    MeterRollup,
    MeterSample,
    Organization,
    Transaction,
    UnknownAttempt,
    UnknownCharger,
)
from console.core.retention import Pruner, RetentionPolicy, parse_duration
from console.core.store import Store

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=timezone.utc)
ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"

pytestmark = pytest.mark.stores("sqlite", "postgresql")


def depot(session: Session) -> None:
    session.add(Organization(id="org-1", name="default", created_at=NOW))
    session.flush()
    session.add(Charger(id="dep-1", organization_id="org-1", identity="CP-1", created_at=NOW, updated_at=NOW))
    session.commit()


def count(store: Store, model: type) -> int:
    return store.run_sync(lambda session: session.execute(select(func.count()).select_from(model)).scalar_one())


def samples(session: Session, start: datetime, minutes: int, energy_wh: float = 0.0, connector: int = 1) -> None:
    """A sample pair (energy register, power) each minute from `start`: 1 kWh a minute at 60 kW."""
    for minute in range(minutes):
        at = start + timedelta(minutes=minute)
        session.add(MeterSample(charger_id="dep-1", connector_id=connector, at=at, measurand=ENERGY, unit="Wh", value=energy_wh + 1000 * minute))
        session.add(MeterSample(charger_id="dep-1", connector_id=connector, at=at, measurand=POWER, unit="kW", value=60.0))
    session.commit()


def rollups(store: Store) -> list[MeterRollup]:
    return store.run_sync(lambda session: list(session.exec(select(MeterRollup).order_by(MeterRollup.period_start)).scalars()))  # type: ignore[call-overload]


@pytest.fixture
def policy() -> RetentionPolicy:
    return RetentionPolicy(frames=timedelta(minutes=10), samples=timedelta(minutes=30), rollups=timedelta(days=2),
                           events=timedelta(hours=1), unknown=timedelta(hours=2))


async def test_old_samples_are_rolled_up_per_15_minutes_then_deleted(store: Store, policy: RetentionPolicy) -> None:
    store.run_sync(depot)
    store.run_sync(lambda session: samples(session, NOW - timedelta(minutes=60), 60))
    pruner = Pruner(store, policy, ManualClock(NOW), batch_rows=7, pause=0)

    counts = await pruner.prune()

    # Everything older than 30 minutes went, in batches of 7 rows; the last 30 minutes are raw.
    assert counts.samples == 60 and count(store, MeterSample) == 60
    assert pruner.raw_since["samples"] == NOW - timedelta(minutes=30)
    periods = rollups(store)
    assert [(utc(rollup.period_start), rollup.samples) for rollup in periods] == [
        (NOW - timedelta(minutes=60), 30), (NOW - timedelta(minutes=45), 30),
    ]
    first = periods[0]
    # A period whose samples came in several batches is one roll-up with all of them.
    assert (first.energy_min_wh, first.energy_max_wh) == (0.0, 14_000.0)
    assert (first.power_mean_w, first.power_max_w, first.power_samples) == (60_000.0, 60_000.0, 15)
    assert pruner.raw_since["rollups"] == NOW - timedelta(minutes=60)


async def test_a_late_sample_is_merged_into_its_period(store: Store, policy: RetentionPolicy) -> None:
    store.run_sync(depot)
    store.run_sync(lambda session: samples(session, NOW - timedelta(minutes=60), 10))
    pruner = Pruner(store, policy, ManualClock(NOW), pause=0)
    await pruner.prune()
    # A charger that was offline sends readings of that period now.
    store.run_sync(lambda session: samples(session, NOW - timedelta(minutes=50), 2, energy_wh=20_000))

    await pruner.prune()

    (rollup,) = rollups(store)
    assert (rollup.samples, rollup.energy_min_wh, rollup.energy_max_wh, rollup.power_samples) == (24, 0.0, 21_000.0, 12)


async def test_every_kind_goes_after_its_own_time_and_sessions_stay(store: Store, policy: RetentionPolicy) -> None:
    store.run_sync(depot)
    old, recent = NOW - timedelta(days=3), NOW - timedelta(minutes=5)

    def fill(session: Session) -> None:
        for at in (old, recent):
            session.add(LogEntry(identity="CP-1", charger_id="dep-1", at=at, direction="in", message="[2]"))
            session.add(ChargerEvent(charger_id="dep-1", at=at, kind="SecurityEventNotification"))
            session.add(UnknownAttempt(identity="CP-X", hour=at.replace(minute=0), attempts=3))
            session.add(MeterRollup(charger_id="dep-1", connector_id=1, period_start=at, samples=1))
        session.add(UnknownCharger(identity="CP-X", first_seen=old, last_seen=old))
        session.add(UnknownCharger(identity="CP-R", first_seen=old, last_seen=old, decision="rejected"))
        session.add(Transaction(charger_id="dep-1", connector_id=1, id_tag="T", meter_start_wh=0, started_at=old))
        session.commit()

    store.run_sync(fill)
    await Pruner(store, policy, ManualClock(NOW), pause=0).prune()

    for model in (LogEntry, ChargerEvent, UnknownAttempt, MeterRollup):
        assert count(store, model) == 1, model
    # An identity nobody decided on that has not come back is forgotten; a decision is kept.
    assert store.run_sync(lambda session: session.execute(select(UnknownCharger.identity)).scalars().all()) == ["CP-R"]
    assert count(store, Transaction) == 1


async def test_a_kind_kept_forever_is_never_pruned(store: Store) -> None:
    store.run_sync(depot)
    store.run_sync(lambda session: samples(session, NOW - timedelta(days=400), 3))
    policy = RetentionPolicy().with_settings({"samples": "forever"})

    await Pruner(store, policy, ManualClock(NOW), pause=0).prune()

    assert count(store, MeterSample) == 6 and count(store, MeterRollup) == 0


@pytest.mark.stores("sqlite")  # SQLite's pages and write-ahead log; PostgreSQL's autovacuum reclaims its own
async def test_pruned_pages_are_handed_back_to_the_file_and_the_log_truncated(store: Store, policy: RetentionPolicy, tmp_path: Path) -> None:
    store.run_sync(depot)

    def frames(session: Session) -> None:
        session.add_all(
            # Random text, so the rows stay large once packed (core.packing).
            LogEntry(identity="CP-1", at=NOW - timedelta(hours=1), direction="in", message=secrets.token_hex(1000)) for _ in range(3000)
        )
        session.commit()

    store.run_sync(frames)
    store.run_sync(lambda _session: store.checkpoint())
    before = (tmp_path / "console.db").stat().st_size
    pruner = Pruner(store, policy, ManualClock(NOW), pause=0)

    await pruner.prune()

    assert count(store, LogEntry) == 0
    assert (tmp_path / "console.db").stat().st_size < before / 4
    assert store.wal_bytes() == 0
    with closing(sqlite3.connect(tmp_path / "console.db")) as connection:
        assert connection.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # INCREMENTAL, from the store's creation


def test_the_policy_reads_durations_from_a_config_and_the_command_line() -> None:
    policy = RetentionPolicy().with_settings({"frames": "7d", "events": "forever"}).with_settings("samples=10m, rollups=1y")
    assert policy.frames == timedelta(days=7) and policy.events is None
    assert policy.samples == timedelta(minutes=10) and policy.rollups == timedelta(days=365)
    assert RetentionPolicy().describe() == {"frames": "14d", "samples": "30d", "rollups": "2y", "events": "1y", "unknown": "90d"}
    assert parse_duration(90) == timedelta(seconds=90)
    with pytest.raises(ConsoleError, match="no kind 'frame'"):
        RetentionPolicy().with_settings("frame=1d")
    with pytest.raises(ConsoleError, match="expected a duration"):
        RetentionPolicy().with_settings({"frames": "soon"})


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


async def test_a_store_made_before_retention_is_pruned_and_reuses_its_pages(tmp_path: Path, policy: RetentionPolicy) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA auto_vacuum=NONE")
        connection.execute("CREATE TABLE t (x)")  # the mode is fixed once a table exists
    store = Store(f"sqlite:///{path}")
    try:
        store.run_sync(lambda session: (session.add_all(
            LogEntry(identity="CP-1", at=NOW - timedelta(hours=1), direction="in", message="x" * 2000) for _ in range(500)
        ), session.commit()))

        await Pruner(store, policy, ManualClock(NOW), pause=0).prune()

        assert count(store, LogEntry) == 0
        free = store.run_sync(lambda session: session.connection().exec_driver_sql("PRAGMA freelist_count").scalar())
        assert free > 0  # kept for the next rows, not handed back
    finally:
        store.close()
