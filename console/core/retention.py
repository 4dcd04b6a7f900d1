"""Retention: how long each kind of data is kept, the roll-ups that outlive raw meter samples, and the pruner.

A policy per kind: raw frame logs, raw meter samples (rolled up to 15 minutes per connector first), their
roll-ups, charger events, and unknown-identity attempts (counted per identity and hour). Sessions, actions,
tokens and the fleet are kept for good. The pruner runs in the background in small batches, each one short
transaction on the store thread with a pause after it, so chargers' writes never wait long behind it; a
batch of raw samples is rolled up and deleted in the same transaction, so no raw row goes before its
roll-up is written. Between passes it hands freed pages back (SQLite's incremental vacuum) and truncates
the write-ahead log; it holds back while the log cannot be truncated (a long reader).

Batches walk each table from its lowest id (the primary key, no scan): rows come roughly in time order,
so a pass stops at the first batch with nothing old enough. A row that arrived late with an old time
goes once the rows before it do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from functools import partial
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlmodel import Session

from console.core.clock import Clock
from console.core.errors import ConsoleError, StoreUnavailable
from console.core.models import ChargerEvent, LogEntry, MeterRollup, MeterSample, UnknownAttempt, UnknownCharger
from console.core.sessions import KILO_UNITS
from console.core.store import Store

log = logging.getLogger(__name__)

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
ROLLUP_PERIOD = timedelta(minutes=15)
# Rows per batch (one transaction), the pause after each, and the time between passes (s). prune_bench,
# 1,000 chargers: with 2,000 rows and 0.05 s the fleet's p99 went from 8 to 26 ms, with 500 and 0.2 s to
# 19 ms; with 200 and 0.2 s it stayed (6.5 and 5.9 ms) and the pruner still takes ~1,000 rows a second.
BATCH_ROWS = 200
BATCH_PAUSE = 0.2
PASS_EVERY = 60.0
# Pages handed back to the file per batch of incremental vacuum (16 KiB pages: 16 MiB).
VACUUM_PAGES = 1024
# Deleting writes to the write-ahead log too: past this size it waits for a checkpoint to get through.
WAL_HOLD_BYTES = 128 << 20

SAMPLE_TABLE: Table = MeterSample.__table__  # type: ignore[attr-defined]
ROLLUP_TABLE: Table = MeterRollup.__table__  # type: ignore[attr-defined]
LOG_TABLE: Table = LogEntry.__table__  # type: ignore[attr-defined]
EVENT_TABLE: Table = ChargerEvent.__table__  # type: ignore[attr-defined]
ATTEMPT_TABLE: Table = UnknownAttempt.__table__  # type: ignore[attr-defined]
UNKNOWN_TABLE: Table = UnknownCharger.__table__  # type: ignore[attr-defined]

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w|y)\s*$", re.IGNORECASE)
UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
FOREVER = ("forever", "never", "keep")


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind is kept; None: for good."""

    frames: timedelta | None = timedelta(days=14)
    samples: timedelta | None = timedelta(days=30)
    rollups: timedelta | None = timedelta(days=730)
    events: timedelta | None = timedelta(days=365)
    unknown: timedelta | None = timedelta(days=90)

    @classmethod
    def kinds(cls) -> tuple[str, ...]:
        return tuple(item.name for item in fields(cls))

    def with_settings(self, settings: Mapping[str, Any] | str | None) -> RetentionPolicy:
        """This policy with `settings` over it: {"frames": "14d", ...}, or "frames=10m,samples=1h" (the command line)."""
        if not settings:
            return self
        if isinstance(settings, str):
            pairs: dict[str, Any] = {}
            for part in settings.split(","):
                name, equals, value = part.partition("=")
                if not equals:
                    raise ConsoleError(f"retention {part!r}: expected KIND=DURATION, e.g. frames=14d")
                pairs[name.strip()] = value
            settings = pairs
        changes: dict[str, timedelta | None] = {}
        for name, value in settings.items():
            if name not in self.kinds():
                raise ConsoleError(f"retention: no kind {name!r}; the kinds are {', '.join(self.kinds())}")
            changes[name] = parse_duration(value)
        return replace(self, **changes)

    def describe(self) -> dict[str, str]:
        return {name: duration_words(getattr(self, name)) for name in self.kinds()}


def parse_duration(value: Any) -> timedelta | None:
    """ "14d", "30m", "2y", "90s", a number of seconds, or "forever" (None)."""
    if value is None or isinstance(value, str) and value.strip().lower() in FOREVER:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = DURATION.match(str(value))
        if match is None:
            raise ConsoleError(f"retention {value!r}: expected a duration like 90s, 30m, 12h, 14d, 2y, or forever")
        seconds = float(match.group(1)) * UNIT_SECONDS[match.group(2).lower()]
    if seconds <= 0:
        raise ConsoleError(f"retention {value!r}: must be more than 0")
    return timedelta(seconds=seconds)


def duration_words(duration: timedelta | None) -> str:
    if duration is None:
        return "forever"
    seconds = duration.total_seconds()
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def period_of(moment: datetime) -> datetime:
    """The start of the 15-minute period `moment` falls in (UTC)."""
    moment = utc(moment)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


@dataclass
class PruneCounts:
    """What one pass did."""

    frames: int = 0
    samples: int = 0
    rollups_written: int = 0
    rollups: int = 0
    events: int = 0
    unknown: int = 0
    batches: int = 0


class Pruner:
    """Prunes the store by its policy, in the background (`start`/`stop`), or one pass at a time (`prune`)."""

    def __init__(
        self,
        store: Store,
        policy: RetentionPolicy,
        clock: Clock,
        batch_rows: int = BATCH_ROWS,
        pause: float = BATCH_PAUSE,
        every: float = PASS_EVERY,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.batch_rows = batch_rows
        self.pause = pause
        self.every = every
        self.sqlite = store.engine.dialect.name == "sqlite"
        self._task: asyncio.Task[None] | None = None
        # How far back the raw rows go now (the oldest kept), per kind; None: none kept.
        self.raw_since: dict[str, datetime | None] = {}
        self.last_pass: PruneCounts | None = None
        self.passes = 0
        # On a cluster node: whether this node is the one that prunes now (one node does, core.cluster).
        self.leads: Callable[[], Awaitable[bool]] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        if self.sqlite:
            mode = await self.store.run(lambda session: session.execute(text("PRAGMA auto_vacuum")).scalar_one())
            if mode != 2:
                log.warning(
                    "the store's pages are not handed back to the file system (auto_vacuum is not INCREMENTAL): pruned "
                    "space is reused, the file does not shrink; `ocpp-console store vacuum` switches it, once, while stopped"
                )
        while True:
            try:
                if self.leads is None or await self.leads():
                    await self.prune()
            except StoreUnavailable:
                pass  # the store says so itself; the next pass tries again
            except Exception:
                log.exception("pruning failed")
            await self.clock.sleep(self.every)

    async def prune(self) -> PruneCounts:
        """One pass: every kind, batch after batch until nothing is old enough; then space and the log."""
        now = self.clock.now()
        counts = PruneCounts()
        policy = self.policy
        if policy.samples is not None:
            cutoff = now - policy.samples
            while (done := await self._batch(partial(self._roll_up, cutoff=cutoff))) != (0, 0):
                counts.samples += done[0]
                counts.rollups_written += done[1]
                counts.batches += 1
        for kind, table, column in (
            ("frames", LOG_TABLE, LOG_TABLE.c.at),
            ("rollups", ROLLUP_TABLE, ROLLUP_TABLE.c.period_start),
            ("events", EVENT_TABLE, EVENT_TABLE.c.at),
            ("unknown", ATTEMPT_TABLE, ATTEMPT_TABLE.c.hour),
        ):
            kept: timedelta | None = getattr(policy, kind)
            if kept is None:
                continue
            cutoff = now - kept
            while deleted := await self._batch(partial(self._delete_oldest, table=table, column=column, cutoff=cutoff)):
                setattr(counts, kind, getattr(counts, kind) + deleted)
                counts.batches += 1
        if policy.unknown is not None:
            # Identities nobody decided on that have not tried again since: a scanner's names are not kept for good.
            cutoff = now - policy.unknown
            while deleted := await self._batch(partial(self._delete_undecided, cutoff=cutoff)):
                counts.unknown += deleted
                counts.batches += 1
        await self._reclaim()
        self.raw_since = await self.store.run(self._raw_since)
        self.last_pass = counts
        self.passes += 1
        if counts.batches:
            log.info(
                "pruned %d frames, %d meter samples (into %d roll-ups), %d roll-ups, %d events, %d unknown attempts",
                counts.frames, counts.samples, counts.rollups_written, counts.rollups, counts.events, counts.unknown,
            )
        return counts

    async def _batch(self, work: Any) -> Any:
        """One batch on the store thread, then a pause (the chargers' writes go between batches)."""
        await self._hold_for_log()
        done = await self.store.run(work)
        await asyncio.sleep(self.pause)
        return done

    async def _hold_for_log(self) -> None:
        """While the write-ahead log is past its bound (a reader keeps it from being truncated), wait for a checkpoint."""
        if self.store.wal_path is None:
            return
        for _ in range(600):
            if self.store.wal_bytes() < WAL_HOLD_BYTES:
                return
            await self.store.run(lambda _session: self.store.checkpoint())
            if self.store.wal_bytes() < WAL_HOLD_BYTES:
                return
            await asyncio.sleep(1.0)

    # -- on the store thread ------------------------------------------------------------

    def _oldest(self, session: Session, table: Table, column: Any) -> list[Any]:
        return list(session.execute(select(table.c.id, column).order_by(table.c.id).limit(self.batch_rows)).all())

    def _delete_oldest(self, session: Session, table: Table, column: Any, cutoff: datetime) -> int:
        ids = [row_id for row_id, at in self._oldest(session, table, column) if utc(at) < cutoff]
        if ids:
            session.execute(delete(table).where(table.c.id.in_(ids)))
            session.commit()
        return len(ids)

    def _delete_undecided(self, session: Session, cutoff: datetime) -> int:
        identities = session.execute(
            select(UNKNOWN_TABLE.c.identity)
            .where(UNKNOWN_TABLE.c.decision == "pending", UNKNOWN_TABLE.c.last_seen < cutoff)
            .limit(self.batch_rows)
        ).scalars().all()
        if identities:
            session.execute(delete(UNKNOWN_TABLE).where(UNKNOWN_TABLE.c.identity.in_(identities)))
            session.commit()
        return len(identities)

    def _roll_up(self, session: Session, cutoff: datetime) -> tuple[int, int]:
        """The oldest raw samples past `cutoff`, rolled up into their 15-minute periods and deleted, in one transaction.

        A period's roll-up already written (its other samples came in an earlier batch) takes these in.
        """
        columns = SAMPLE_TABLE.c
        rows = session.execute(
            select(columns.id, columns.charger_id, columns.connector_id, columns.at, columns.measurand, columns.phase,
                   columns.unit, columns.value)
            .order_by(columns.id)
            .limit(self.batch_rows)
        ).all()
        old = [row for row in rows if utc(row.at) < cutoff]
        if not old:
            return 0, 0
        periods: dict[tuple[str, int, datetime], Rollup] = {}
        for row in old:
            key = (row.charger_id, row.connector_id, period_of(row.at))
            rollup = periods.get(key)
            if rollup is None:
                rollup = periods[key] = Rollup()
            rollup.take(row.measurand, row.phase, row.unit, row.value)
        starts = [key[2] for key in periods]
        existing = session.execute(
            select(ROLLUP_TABLE).where(
                ROLLUP_TABLE.c.charger_id.in_({key[0] for key in periods}),
                ROLLUP_TABLE.c.period_start >= min(starts),
                ROLLUP_TABLE.c.period_start <= max(starts),
            )
        ).all()
        updates = []
        for row in existing:
            key = (row.charger_id, row.connector_id, utc(row.period_start))
            rollup = periods.pop(key, None)
            if rollup is not None:
                rollup.merge(row)
                updates.append({"row_id": row.id, **rollup.values()})
        if updates:
            session.execute(
                update(ROLLUP_TABLE).where(ROLLUP_TABLE.c.id == bindparam("row_id")),
                updates,
            )
        if periods:
            session.execute(
                insert(ROLLUP_TABLE),
                [
                    {"charger_id": charger_id, "connector_id": connector_id, "period_start": start, **rollup.values()}
                    for (charger_id, connector_id, start), rollup in periods.items()
                ],
            )
        session.execute(delete(SAMPLE_TABLE).where(columns.id.in_([row.id for row in old])))
        session.commit()
        return len(old), len(updates) + len(periods)

    def _raw_since(self, session: Session) -> dict[str, datetime | None]:
        """The time of the oldest raw row kept, per kind (the lowest id's: rows come in time order)."""
        since: dict[str, datetime | None] = {}
        for kind, table, column in (("frames", LOG_TABLE, LOG_TABLE.c.at), ("samples", SAMPLE_TABLE, SAMPLE_TABLE.c.at)):
            at = session.execute(select(column).order_by(table.c.id).limit(1)).scalar()
            since[kind] = utc(at) if at is not None else None
        at = session.execute(select(func.min(ROLLUP_TABLE.c.period_start))).scalar()
        since["rollups"] = utc(at) if at is not None else None
        return since

    async def _reclaim(self) -> None:
        """Hand freed pages back to the file (SQLite, INCREMENTAL auto-vacuum) in small steps, and truncate the log."""
        if not self.sqlite:
            return

        def vacuum(session: Session) -> int:
            """One step; the free pages left (0 when the store does not hand pages back: it reuses them)."""
            connection = session.connection().connection.driver_connection
            assert connection is not None
            if connection.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
                return 0
            session.commit()
            # A script runs the pragma to its end; a plain execute steps it once (one page).
            connection.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES})")
            return int(connection.execute("PRAGMA freelist_count").fetchone()[0])

        while await self.store.run(vacuum):
            await asyncio.sleep(self.pause)
        await self.store.run(lambda _session: self.store.checkpoint())


class Rollup:
    """The sums of one connector's samples over one period."""

    __slots__ = ("energy_min", "energy_max", "power_sum", "power_max", "power_samples", "samples")

    def __init__(self) -> None:
        self.energy_min: float | None = None
        self.energy_max: float | None = None
        self.power_sum = 0.0
        self.power_max: float | None = None
        self.power_samples = 0
        self.samples = 0

    def take(self, measurand: str, phase: str | None, unit: str | None, value: float) -> None:
        self.samples += 1
        if phase is not None:
            return
        if measurand == ENERGY:
            wh = value * 1000.0 if unit in KILO_UNITS else value
            self.energy_min = wh if self.energy_min is None else min(self.energy_min, wh)
            self.energy_max = wh if self.energy_max is None else max(self.energy_max, wh)
        elif measurand == POWER:
            w = value * 1000.0 if unit in KILO_UNITS else value
            self.power_sum += w
            self.power_samples += 1
            self.power_max = w if self.power_max is None else max(self.power_max, w)

    def merge(self, row: Any) -> None:
        """Take in a roll-up written before for the same period."""
        for name, pick in (("energy_min", min), ("energy_max", max), ("power_max", max)):
            stored = getattr(row, f"{name}_w" if name == "power_max" else f"{name}_wh")
            mine = getattr(self, name)
            if stored is not None:
                setattr(self, name, stored if mine is None else pick(mine, stored))
        if row.power_samples:
            self.power_sum += (row.power_mean_w or 0.0) * row.power_samples
            self.power_samples += row.power_samples
        self.samples += row.samples

    def values(self) -> dict[str, Any]:
        return {
            "energy_min_wh": self.energy_min,
            "energy_max_wh": self.energy_max,
            "power_mean_w": self.power_sum / self.power_samples if self.power_samples else None,
            "power_max_w": self.power_max,
            "power_samples": self.power_samples,
            "samples": self.samples,
        }


# The tables of each kind `store stats` reports; the rest of the store is kept for good.
STAT_KINDS: dict[str, tuple[Table, Any]] = {
    "frames": (LOG_TABLE, LOG_TABLE.c.at),
    "samples": (SAMPLE_TABLE, SAMPLE_TABLE.c.at),
    "rollups": (ROLLUP_TABLE, ROLLUP_TABLE.c.period_start),
    "events": (EVENT_TABLE, EVENT_TABLE.c.at),
    "unknown": (ATTEMPT_TABLE, ATTEMPT_TABLE.c.hour),
}
YEAR = timedelta(days=365)


@dataclass
class KindStats:
    kind: str
    rows: int
    bytes: int
    # Rows added in the last hour, the bytes that makes (at this kind's bytes per row), and since when raw rows go.
    rows_per_hour: int
    bytes_per_hour: int
    oldest: datetime | None
    kept: str
    # Its size a year from now at this rate: bounded by what it keeps when it keeps less than a year.
    projected_bytes: int


@dataclass
class StoreStats:
    kinds: list[KindStats]
    # Everything else (sessions, actions, signed readings, tokens, the fleet): kept for good.
    other_bytes: int
    file_bytes: int
    wal_bytes: int
    free_bytes: int

    @property
    def bytes_per_hour(self) -> int:
        return sum(kind.bytes_per_hour for kind in self.kinds)

    @property
    def projected_bytes(self) -> int:
        return sum(kind.projected_bytes for kind in self.kinds) + self.other_bytes


def table_bytes(session: Session) -> dict[str, int]:
    """Bytes on disk per table, its indexes included (SQLite: the dbstat table; PostgreSQL: the relation's size)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        rows = session.execute(
            text(
                "SELECT coalesce(m.tbl_name, s.name), SUM(s.pgsize) FROM dbstat s "
                "LEFT JOIN sqlite_schema m ON m.name = s.name GROUP BY 1"
            )
        ).all()
        return {name: int(size) for name, size in rows}
    if dialect == "postgresql":
        rows = session.execute(
            text("SELECT relname, pg_total_relation_size(relid) FROM pg_catalog.pg_statio_user_tables")
        ).all()
        return {name: int(size) for name, size in rows}
    return {}


def _rows_since(session: Session, table: Table, column: Any, since: datetime) -> tuple[int, datetime | None]:
    """Rows of `table` from `since` on, and its oldest row's time: a search on the id (rows come in time order), no scan."""
    low, high = session.execute(select(func.min(table.c.id), func.max(table.c.id))).one()
    if low is None:
        return 0, None
    oldest = session.execute(select(column).where(table.c.id == low)).scalar()
    first = high + 1
    while low <= high:
        middle = (low + high) // 2
        at = session.execute(select(column).where(table.c.id >= middle).order_by(table.c.id).limit(1)).scalar()
        if at is not None and utc(at) >= since:
            first, high = middle, middle - 1
        else:
            low = middle + 1
    count = session.execute(select(func.count()).select_from(table).where(table.c.id >= first)).scalar_one()
    return int(count), utc(oldest) if oldest is not None else None


def store_stats(session: Session, policy: RetentionPolicy, now: datetime, wal_bytes: int = 0) -> StoreStats:
    """Rows and bytes per kind, what the last hour added, and the size a year ahead at that rate."""
    sizes = table_bytes(session)
    kinds = []
    for kind, (table, column) in STAT_KINDS.items():
        rows = session.execute(select(func.count()).select_from(table)).scalar_one()
        size = sizes.get(table.name, 0) + (sizes.get(UNKNOWN_TABLE.name, 0) if kind == "unknown" else 0)
        if kind == "rollups":
            # Roll-ups are written when samples go; they come at 4 an hour per connector that sends samples.
            connectors = session.execute(
                select(func.count()).select_from(
                    select(SAMPLE_TABLE.c.charger_id, SAMPLE_TABLE.c.connector_id)
                    .where(SAMPLE_TABLE.c.at >= now - timedelta(hours=1))
                    .distinct()
                    .subquery()
                )
            ).scalar_one()
            per_hour = int(connectors) * 4
            oldest = session.execute(select(func.min(column))).scalar()
            oldest = utc(oldest) if oldest is not None else None
        else:
            recent, oldest = _rows_since(session, table, column, now - timedelta(hours=1))
            # A store younger than an hour: its rate over the time it has had.
            span = min(3600.0, (now - oldest).total_seconds()) if oldest is not None else 3600.0
            per_hour = round(recent * 3600 / max(span, 60.0))
        row_bytes = size / rows if rows else ROW_BYTES_GUESS[kind]
        kept: timedelta | None = getattr(policy, kind)
        horizon_rows = per_hour * (min(kept, YEAR) if kept is not None else YEAR).total_seconds() / 3600
        projected_rows = horizon_rows if kept is not None and kept <= YEAR else rows + horizon_rows
        kinds.append(
            KindStats(
                kind=kind, rows=int(rows), bytes=size, rows_per_hour=per_hour, bytes_per_hour=int(per_hour * row_bytes),
                oldest=oldest, kept=duration_words(kept), projected_bytes=int(projected_rows * row_bytes),
            )
        )
    counted = {table.name for table, _ in STAT_KINDS.values()} | {UNKNOWN_TABLE.name}
    other = sum(size for name, size in sizes.items() if name not in counted)
    file_bytes = free_bytes = 0
    if session.get_bind().dialect.name == "sqlite":
        page = session.execute(text("PRAGMA page_size")).scalar_one()
        file_bytes = session.execute(text("PRAGMA page_count")).scalar_one() * page
        free_bytes = session.execute(text("PRAGMA freelist_count")).scalar_one() * page
    elif session.get_bind().dialect.name == "postgresql":
        file_bytes = session.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    return StoreStats(kinds=kinds, other_bytes=other, file_bytes=file_bytes, wal_bytes=wal_bytes, free_bytes=free_bytes)


# Bytes per row before a kind has rows (measured on main: frames 573 B, samples 142 B).
ROW_BYTES_GUESS = {"frames": 573, "samples": 142, "rollups": 100, "events": 300, "unknown": 60}


def switch_to_incremental(store: Store) -> tuple[int, int]:
    """Rewrite a SQLite store with INCREMENTAL auto-vacuum (one VACUUM: it needs free space as large as the store,
    and the store to itself); the file's size before and after. On the store thread."""
    if store.engine.dialect.name != "sqlite":
        raise ConsoleError("vacuum is for SQLite stores; PostgreSQL reclaims space with its own (auto)vacuum")
    with store.engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        page = driver.execute("PRAGMA page_size").fetchone()[0]
        before = driver.execute("PRAGMA page_count").fetchone()[0] * page
        driver.execute("PRAGMA auto_vacuum=INCREMENTAL")
        driver.executescript("VACUUM")
        after = driver.execute("PRAGMA page_count").fetchone()[0] * page
    store.checkpoint()
    return int(before), int(after)
