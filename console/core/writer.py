"""Batched writes for high-rate rows (frame logs, meter samples, live-state touches).

Rows gather in memory and go to the store in one transaction per interval, so
a crash loses at most the last batch. The queue is bounded: past `max_pending`
an early flush is forced rather than growing without end, and past
`max_pending` times `BACKLOG_FACTOR` the writer reports itself backlogged so
the central system can stop reading frames until the store has caught up.

High-rate rows are plain lists of a table's column values (`TableRows`),
written with one executemany insert per table: building an ORM object per
frame cost more than the frame itself, and a dict per row more than the list.
Live-state rows are not copied per message either: a touch marks the row, and
its values are read once per flush, on the event loop, when the batch is cut.

A batch the store cannot take now (locked, read-only, full: `StoreUnavailable`)
is kept whole and retried with backoff; one the store refuses for one of its
rows is written row by row, and only the rows refused are dropped. While the
store is unavailable, chargers are not held back (the store is not slow, it is
down): rows queue up to `max_queued`, then new ones are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Any

from sqlalchemy import DateTime, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from console.core.errors import StoreUnavailable
from console.core.store import Store, unavailable_reason

log = logging.getLogger(__name__)

# Backlogged (stop reading new frames) past this many times max_pending.
BACKLOG_FACTOR = 2
# Rows inserted before looking whether others wait for the store thread (then the transaction ends, and they go first).
CHUNK_ROWS = 500
# Rows kept while the store is unavailable before new ones are dropped: at 1,500 rows/s, over two minutes.
MAX_QUEUED = 200_000


class BatchWriter:
    def __init__(
        self,
        store: Store,
        interval: float = 0.5,
        max_pending: int = 20_000,
        max_queued: int = MAX_QUEUED,
        retry: tuple[float, float] = (0.1, 2.0),
        checkpoint_every: float = 60.0,
        checkpoint_wal_bytes: int = 64 << 20,
        drain_timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.interval = interval
        self.max_pending = max_pending
        self.max_queued = max_queued
        # The first and the longest wait before retrying while the store is unavailable (s).
        self.retry = retry
        self._retry_delay = retry[0]
        # The write-ahead log is truncated this often, and sooner when it passes this size.
        self.checkpoint_every = checkpoint_every
        self.checkpoint_wal_bytes = checkpoint_wal_bytes
        self._checkpointed = time.monotonic()
        # How long `stop` keeps retrying what is queued while the store is unavailable (s).
        self.drain_timeout = drain_timeout
        self._rows: list[SQLModel] = []
        self._tables: list[TableRows] = []
        self._pending = 0
        # Rows cut from the queues and not written yet: the batch being written, or kept for a retry.
        self._held = 0
        self._kept: Batches = []
        # New rows taken before the slow path of `add` looks at the queue (an early flush, or a full queue).
        self._room = max_pending
        self._merges: dict[tuple[str, str], SQLModel] = {}
        self._upserts: dict[tuple[str, str], tuple[Table, Callable[[], dict[str, Any] | None], tuple[str, ...] | None]] = {}
        self._calls: list[Callable[[Session], None]] = []
        # Callers of `commit` waiting for the next batch's transaction.
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        # Flushes that have taken their rows so far: a caller waiting for the lock is served by one that starts after it came.
        self._flushes_begun = 0
        self._kick = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self.rows_written = 0
        # Rows dropped because the queue was full while the store was unavailable, and refused by the store.
        self.dropped = 0
        self.refused = 0
        self._dropping = False
        # Rows still queued when `stop` gave up on an unavailable store.
        self.lost = 0

    @property
    def pending(self) -> int:
        """Rows waiting for the next flush."""
        return self._pending

    @property
    def queued(self) -> int:
        """Rows not written yet: waiting, being written, or kept for a retry."""
        return self._pending + self._held

    @property
    def backlogged(self) -> bool:
        """More is waiting than the store keeps up with: producers should wait for `drained()`.

        Never while the store is unavailable: then rows queue up to `max_queued`
        and chargers go on being answered.
        """
        return self._pending >= self.max_pending * BACKLOG_FACTOR and self.store.unavailable is None

    async def drained(self) -> None:
        """Wait until the writer is no longer backlogged."""
        while self.backlogged:
            self._drained.clear()
            self._kick.set()
            await self._drained.wait()

    def _full(self) -> bool:
        """The slow path of adding a row: True if it must be dropped (the store unavailable, the queue full), else flush early."""
        if self.store.unavailable is not None and self._pending + self._held >= self.max_queued:
            if not self._dropping:
                self._dropping = True
                log.error(
                    "%d rows queued while the store is unavailable: new meter samples and frames are dropped until it takes writes",
                    self.max_queued,
                )
            self.dropped += 1
            return True
        if self._pending >= self.max_pending:
            self._kick.set()
        return False

    def _set_room(self) -> None:
        self._room = max(0, min(self.max_pending, self.max_queued - self._held))

    def add(self, row: SQLModel) -> None:
        if self._pending >= self._room and self._full():
            return
        self._rows.append(row)
        self._pending += 1

    def rows(self, table: Table, columns: tuple[str, ...]) -> TableRows:
        """Where to add rows of `table`, each a list of `columns`' values, to be inserted with the next batch."""
        rows = TableRows(self, table, columns)
        self._tables.append(rows)
        return rows

    def call(self, work: Callable[[Session], None]) -> None:
        """Run a small write with the next batch (e.g. a sequence number to keep)."""
        self._calls.append(work)

    def merge(self, key: tuple[str, str], row: SQLModel) -> None:
        """Keep only the latest version of a row (live state) until the next flush."""
        self._merges[key] = row
        self._upserts.pop(key, None)

    def upsert(
        self,
        key: tuple[str, str],
        table: Table,
        values: Callable[[], dict[str, Any] | None],
        keys: tuple[str, ...] | None = None,
    ) -> None:
        """Insert or update a row of `table` with the next batch, with what `values()` returns then.

        `values` runs on the event loop when the batch is cut, so a row touched
        many times between flushes is read and written once; None skips it.
        `keys` is the unique key that names the row (the primary key by default).
        """
        self._upserts[key] = (table, values, keys)
        self._merges.pop(key, None)

    async def commit(
        self,
        key: tuple[str, str],
        table: Table,
        values: Callable[[], dict[str, Any] | None],
        keys: tuple[str, ...] | None = None,
    ) -> None:
        """`upsert`, and return once the batch that carries it is committed (a group commit).

        For writes that must be on disk before the charger is answered: the
        batch is cut at once, and every such write that comes meanwhile joins
        the same transaction, so a connect storm costs a few commits, not one
        per charger. A failed transaction raises here, as a write of one's own would:
        StoreUnavailable while the store cannot take writes (the row stays queued
        and is written once it can).
        """
        self.upsert(key, table, values, keys)
        if self._task is None:  # no writer running (start-up, shutdown): write now
            await self.flush()
            if self.store.unavailable is not None:
                raise StoreUnavailable(self.store.unavailable)
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._kick.set()
        await waiter

    def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="batch-writer")

    async def _run(self) -> None:
        while not self._stopping:
            if self.store.unavailable is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), self.interval)
            else:  # retry with backoff, however often rows or durable writes ask meanwhile
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._retry_delay)
            self._kick.clear()
            try:
                await self.flush()
                await self._checkpoint()
            except Exception:  # a failed batch must not stop later ones
                log.exception("batch write failed")

    def _back_off(self) -> None:
        self._retry_delay = min(self.retry[1], self._retry_delay * 2)

    def _available(self) -> None:
        self._retry_delay = self.retry[0]
        if self.store.unavailable is not None:
            self.store.recovered()
        if self._dropping:
            self._dropping = False
            log.error("the store takes writes again; %d rows dropped since start while it did not (the queue was full)", self.dropped)

    async def flush(self) -> None:
        """Write what is waiting, and what was kept from a failed write.

        While the store cannot take writes, everything stays queued (raising
        nothing: the store's state says it); `commit` callers get StoreUnavailable.
        Callers that come while a flush is under way share the next one: what
        each added before it called is in that one (readers flush before they
        read; under load a flush each would be a commit each).
        """
        came = self._flushes_begun
        async with self._flush_lock:
            if self._flushes_begun > came:  # one began after this call came, took its rows and is done
                return
            self._flushes_begun += 1
            rows, self._rows = self._rows, []
            inserts = self._kept + [(table_rows, table_rows.take()) for table_rows in self._tables if table_rows.pending]
            self._kept = []
            merges, self._merges = self._merges, {}
            upserts, self._upserts = self._upserts, {}
            calls, self._calls = self._calls, []
            waiters, self._waiters = self._waiters, []
            self._held += self._pending
            self._pending = 0
            try:
                if not rows and not inserts and not merges and not upserts and not calls:
                    if self.store.unavailable is not None:  # nothing to retry: see whether it takes a write again
                        try:
                            await self.store.check_write()
                        except StoreUnavailable:
                            self._back_off()
                            return
                        self._available()
                    _settle(waiters)
                    return
                upserted: dict[tuple[Table, tuple[str, ...] | None], list[dict[str, Any]]] = {}
                for table, values, keys in upserts.values():
                    current = values()
                    if current is not None:
                        upserted.setdefault((table, keys), []).append(current)

                def write(session: Session) -> None:
                    for (table, keys), batch in upserted.items():
                        upsert_rows(session, table, batch, keys)
                    session.add_all(rows)
                    for row in merges.values():
                        session.merge(row)
                    session.commit()
                    for work in calls:
                        work(session)

                # The few rows someone may be waiting for first; then the high-rate rows, in one
                # transaction unless others wait for the store thread meanwhile (a commit costs more
                # than hundreds of rows).
                try:
                    await self.store.run(write)
                except StoreUnavailable as error:
                    self._keep(rows, merges, upserts, calls, inserts)
                    _settle(waiters, error)
                    self._back_off()
                    return
                except Exception as error:
                    self._held -= len(rows)
                    self._keep([], {}, {}, [], inserts)  # the high-rate rows are not at fault
                    _settle(waiters, error)
                    raise
                self._held -= len(rows)
                self.rows_written += len(rows)
                _settle(waiters)
                await self._insert(inserts)
            finally:
                _settle(waiters, ConnectionAbortedError("the batch writer stopped"))
                self._set_room()
                self._drained.set()

    async def _insert(self, inserts: Batches) -> None:
        """Write the high-rate rows: whole; a batch the store refuses in halves; all kept while it is unavailable."""
        while inserts:
            before = _count(inserts)
            try:
                inserts = await self.store.run(_inserting(self.store, inserts))
            except StoreUnavailable:
                self._keep([], {}, {}, [], inserts)
                self._back_off()
                return
            except Exception as error:
                # One bad row (a time without an offset, a charger deleted meanwhile) must not
                # cost the others theirs: the rows of the failed transaction go in halves.
                log.error("writing %d rows failed (%s); splitting them until the refused ones stand alone", before, error)
                for table_rows, batch in inserts:
                    table_rows.restore(batch)
                try:
                    failed, rest, reason = await self.store.run(_inserting_split(inserts))
                except StoreUnavailable:
                    self._keep([], {}, {}, [], inserts)
                    self._back_off()
                    return
                if failed:
                    row, why = failed[0]
                    log.error("%d rows could not be written and are dropped; the first: %r (%s)", len(failed), row, why)
                    self.refused += len(failed)
                self._held -= before - _count(rest)
                self.rows_written += before - _count(rest) - len(failed)
                if reason is not None:
                    self._keep([], {}, {}, [], rest)
                    self.store.failed(reason)
                    self._back_off()
                    return
                break
            written = before - _count(inserts)
            self._held -= written
            self.rows_written += written
        self._available()

    def _keep(
        self,
        rows: list[SQLModel],
        merges: dict[tuple[str, str], SQLModel],
        upserts: dict[tuple[str, str], tuple[Table, Callable[[], dict[str, Any] | None], tuple[str, ...] | None]],
        calls: list[Callable[[Session], None]],
        inserts: Batches,
    ) -> None:
        """Put back what a failed write did not write, ahead of what came meanwhile (newer versions of a row win)."""
        self._rows[:0] = rows
        for key, row in merges.items():
            if key not in self._merges and key not in self._upserts:
                self._merges[key] = row
        for key, upsert in upserts.items():
            if key not in self._merges and key not in self._upserts:
                self._upserts[key] = upsert
        self._calls[:0] = calls
        for table_rows, batch in inserts:
            table_rows.restore(batch)
        self._kept[:0] = inserts

    async def _checkpoint(self) -> None:
        """Truncate the write-ahead log now and then, and when it has grown past its bound (a long reader held it)."""
        if self.store.wal_path is None or self.store.unavailable is not None:
            return
        now = time.monotonic()
        due = now - self._checkpointed >= self.checkpoint_every
        if not due and (now - self._checkpointed < min(5.0, self.checkpoint_every) or self.store.wal_bytes() < self.checkpoint_wal_bytes):
            return
        self._checkpointed = now
        with contextlib.suppress(StoreUnavailable):
            await self.store.run(lambda _session: self.store.checkpoint())

    async def stop(self) -> int:
        """Write what is pending and stop; the rows that could not be written (0: none lost).

        A flush under way finishes (cancelled, it would drop the rest of its
        batch). While the store cannot take writes, what is queued is retried
        for up to `drain_timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout
        if self._task is not None:
            self._stopping = True
            self._stop.set()
            self._kick.set()
            try:
                await self._task  # its last flush
            finally:
                self._task = None
                self._stopping = False
        else:
            await self.flush()
        while self.queued and (self.store.unavailable is None or loop.time() < deadline):
            if self.store.unavailable is not None:
                await asyncio.sleep(min(self._retry_delay, max(0.0, deadline - loop.time())))
            await self.flush()
        self.lost = self.queued
        if self.lost:
            log.error("%d rows could not be written before stopping: lost (the store: %s)", self.lost, self.store.unavailable)
        return self.lost


class TableRows:
    """Rows of one table waiting for the next batch, each a list of `columns`' values in that order.

    For SQLite the lists go to the driver as they are, once the few values whose
    type converts them (times to text) are replaced, in place, on the store thread.
    """

    def __init__(self, writer: BatchWriter, table: Table, columns: tuple[str, ...]) -> None:
        self.table = table
        self.columns = columns
        self.pending: list[list[Any]] = []
        self._writer = writer

    def add(self, row: list[Any]) -> None:
        """Insert `row` with the next batch; it is the writer's from now on."""
        writer = self._writer
        if writer._pending >= writer._room and writer._full():
            return
        self.pending.append(row)
        writer._pending += 1

    def take(self) -> list[list[Any]]:
        pending, self.pending = self.pending, []
        return pending

    def insert(self, session: Session, batch: list[list[Any]]) -> None:
        connection = session.connection()
        dialect = connection.dialect
        if dialect.paramstyle != "qmark":
            columns = self.columns
            session.execute(self.table.insert(), [dict(zip(columns, row)) for row in batch])
            return
        text, parameters = _compiled_rows(self.table, self.columns, dialect)
        # Straight to the driver's cursor, in the session's transaction: SQLAlchemy takes tuples only.
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(text, parameters(batch))
        finally:
            cursor.close()


    def restore(self, batch: list[list[Any]]) -> None:
        """Undo what a failed attempt did to the rows in place: times it turned into SQLite's text are times again."""
        times = [index for index, name in enumerate(self.columns) if _is_time(self.table.c[name].type)]
        for row in batch:
            for index in times:
                if type(row[index]) is str:
                    row[index] = datetime.fromisoformat(row[index]).replace(tzinfo=timezone.utc)

def _is_time(kind: Any) -> bool:
    affinity = getattr(kind, "_type_affinity", None)
    return isinstance(affinity, type) and issubclass(affinity, DateTime)


Batches = list[tuple[TableRows, list[list[Any]]]]


def _inserting(store: Store, batches: Batches) -> Callable[[Session], Batches]:
    """Insert the batches in one transaction, CHUNK_ROWS at a time; what is left when others came to wait for the store."""

    def write(session: Session) -> Batches:
        for position, (table_rows, batch) in enumerate(batches):
            for start in range(0, len(batch), CHUNK_ROWS):
                end = start + CHUNK_ROWS
                table_rows.insert(session, batch[start:end])
                if store.waiting and (end < len(batch) or position + 1 < len(batches)):
                    session.commit()
                    rest = [(table_rows, batch[end:])] if end < len(batch) else []
                    return rest + batches[position + 1 :]
        session.commit()
        return []

    return write


def _inserting_split(batches: Batches) -> Callable[[Session], tuple[list[tuple[list[Any], Exception]], Batches, str | None]]:
    """Insert batches the store refused, splitting each that fails in halves until the rows it refuses stand alone.

    A bad row costs a few transactions (two per halving), not one per row of its
    batch: each commit is an fsync. Returns the rows refused, and why; and, when
    the store became unavailable meanwhile, what is left and why it is.
    """

    def write(session: Session) -> tuple[list[tuple[list[Any], Exception]], Batches, str | None]:
        failed: list[tuple[list[Any], Exception]] = []
        pending = list(batches)
        while pending:
            table_rows, batch = pending.pop(0)
            try:
                table_rows.insert(session, batch)
                session.commit()
            except Exception as error:
                session.rollback()
                table_rows.restore(batch)
                reason = unavailable_reason(error)
                if reason is not None:  # not the rows' fault: they and the rest wait for the store
                    return failed, [(table_rows, batch), *pending], reason
                if len(batch) == 1:
                    failed.append((batch[0], error))
                    continue
                middle = len(batch) // 2
                pending[:0] = [(table_rows, batch[:middle]), (table_rows, batch[middle:])]
        return failed, [], None

    return write


def _count(batches: Batches) -> int:
    return sum(len(batch) for _, batch in batches)


Parameters = Callable[[list[list[Any]]], list[Any]]
_row_inserts: dict[tuple[Any, ...], tuple[str, Parameters]] = {}


def _compiled_rows(table: Table, columns: tuple[str, ...], dialect: Any) -> tuple[str, Parameters]:
    """The insert's SQL for rows of `columns`, and what makes a batch of them the driver's parameters.

    Bound as Core binds them; most columns need nothing done.
    """
    key = (table, columns, dialect.name)
    compiled = _row_inserts.get(key)
    if compiled is not None:
        return compiled
    sql = table.insert().compile(dialect=dialect, column_keys=list(columns))
    order = [columns.index(name) for name in sql.positiontup]
    reorder = itemgetter(*order) if order != list(range(len(columns))) else None
    bound = [
        (index, processor)
        for index, name in enumerate(columns)
        if (processor := _bind_processor(table.c[name].type, dialect)) is not None
    ]

    def parameters(batch: list[list[Any]]) -> list[Any]:
        if len(bound) == 1:
            (index, process), = bound
            for row in batch:
                row[index] = process(row[index])
        elif bound:
            for row in batch:
                for index, process in bound:
                    row[index] = process(row[index])
        return batch if reorder is None else [reorder(row) for row in batch]

    compiled = _row_inserts[key] = (sql.string, parameters)
    return compiled


def _settle(waiters: list[asyncio.Future[None]], error: Exception | None = None) -> None:
    """Tell the callers of `commit` their batch's outcome (once; later calls find them done)."""
    for waiter in waiters:
        if not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


_compiled: dict[tuple[Any, ...], tuple[str, list[tuple[int, str, Any]], list[str]]] = {}


def _execute_many(session: Session, table: Table, statement: Any, key: tuple[Any, ...], batch: list[dict[str, Any]]) -> None:
    """`session.execute(statement, batch)`, for SQLite straight to the driver's executemany.

    The statement is compiled once and its values bound as SQLAlchemy binds
    them; what SQLAlchemy adds per row on top of that is most of the cost of
    writing a frame.
    """
    connection = session.connection()
    dialect = connection.dialect
    if dialect.paramstyle != "qmark":
        session.execute(statement, batch)
        return
    names = list(batch[0])
    cache_key = (*key, dialect.name, tuple(names))
    compiled = _compiled.get(cache_key)
    if compiled is None:
        sql = statement.compile(dialect=dialect, column_keys=names)
        order = list(sql.positiontup)
        # Bound as Core binds them (every value, None too); most columns need nothing done.
        bound = [
            (index, name, processor)
            for index, name in enumerate(order)
            if (processor := _bind_processor(table.c[name].type, dialect)) is not None
        ]
        compiled = _compiled[cache_key] = (sql.string, bound, order)
    text, bound, order = compiled
    rows = []
    for values in batch:
        row = [values[name] for name in order]
        for index, name, process in bound:
            row[index] = process(values[name])
        rows.append(tuple(row))
    connection.exec_driver_sql(text, rows)  # type: ignore[arg-type]


ZERO = timedelta(0)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Times to check a quicker binding against SQLAlchemy's before using it, in this order
# (the quicker one keeps the text of the last second it wrote).
PROBES = (
    datetime(2026, 4, 2, 9, 15, tzinfo=timezone.utc),
    datetime(2026, 4, 2, 9, 15, 0, 500000, tzinfo=timezone.utc),
    datetime(2026, 5, 2, 9, 15, 0, 500000, tzinfo=timezone.utc),
    datetime(2026, 5, 2, 9, 15, 1, 500000, tzinfo=timezone.utc),
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 12, 31, 21, 59, 59, 999999, tzinfo=timezone.utc),
    datetime(2026, 6, 1, 0, 0, 0, 1, tzinfo=timezone(ZERO, "Z")),
)
_processors: dict[tuple[Any, str], Any] = {}


def _bind_processor(kind: Any, dialect: Any) -> Any:
    """The column type's bind processor; for UTC times in SQLite a quicker one that writes the same text."""
    key = (kind, dialect.name)
    if key in _processors:
        return _processors[key]
    generic = kind._cached_bind_processor(dialect)
    processor = generic
    if generic is not None and dialect.name == "sqlite":
        quick = _quick_utc_text(generic)
        try:
            if all(quick(probe) == generic(probe) for probe in PROBES):
                processor = quick
        except (TypeError, ValueError):
            pass
    _processors[key] = processor
    return processor


def _quick_utc_text(generic: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A UTC time as SQLite's DATETIME text ("2026-04-02 09:15:00.000000"): what the type makes of it, faster.

    Rows come thousands to the second: the text up to the second is kept from the
    last time written, and only the microseconds are formatted.
    """
    # (seconds since the epoch, its text), replaced whole: two store threads never mix two seconds.
    last: tuple[int | None, str] = (None, "")

    def process(value: Any) -> Any:
        nonlocal last
        if type(value) is datetime and (value.tzinfo is timezone.utc or value.tzinfo is not None and value.utcoffset() == ZERO):
            since = value - EPOCH
            second = since.days * 86400 + since.seconds
            kept, text = last
            if second != kept:
                text = "%04d-%02d-%02d %02d:%02d:%02d." % (value.year, value.month, value.day, value.hour, value.minute, value.second)
                last = (second, text)
            return text + "%06d" % value.microsecond
        return generic(value)

    return process


_upserts: dict[tuple[Any, ...], Any] = {}


def upsert_rows(session: Session, table: Table, batch: list[dict[str, Any]], keys: tuple[str, ...] | None = None) -> None:
    """Insert rows of `table`, or update those whose `keys` (a unique key; the primary key by default) exist.

    One statement for many rows where the dialect has INSERT … ON CONFLICT; row by row elsewhere.
    """
    dialect = session.get_bind().dialect.name
    if keys is None:
        keys = tuple(column.name for column in table.primary_key.columns)
    if dialect in ("sqlite", "postgresql"):
        names = tuple(batch[0])
        statement = _upserts.get((table, dialect, keys, names))
        if statement is None:
            insert = (sqlite if dialect == "sqlite" else postgresql).insert(table)
            changed = {name: insert.excluded[name] for name in names if name not in keys}
            statement = _upserts[(table, dialect, keys, names)] = insert.on_conflict_do_update(index_elements=keys, set_=changed)
        _execute_many(session, table, statement, ("upsert", table, keys), batch)
        return
    for values in batch:
        where = [table.c[name] == values[name] for name in keys]
        if session.execute(table.update().where(*where).values(values)).rowcount == 0:  # type: ignore[attr-defined]
            session.execute(table.insert().values(values))
