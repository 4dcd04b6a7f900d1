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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Any

from sqlalchemy import DateTime, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from console.core.store import Store

log = logging.getLogger(__name__)

# Backlogged (stop reading new frames) past this many times max_pending.
BACKLOG_FACTOR = 2
# Rows inserted before looking whether others wait for the store thread (then the transaction ends, and they go first).
CHUNK_ROWS = 500


class BatchWriter:
    def __init__(
        self,
        store: Store,
        interval: float = 0.5,
        max_pending: int = 20_000,
    ) -> None:
        self.store = store
        self.interval = interval
        self.max_pending = max_pending
        self._rows: list[SQLModel] = []
        self._tables: list[TableRows] = []
        self._pending = 0
        self._merges: dict[tuple[str, str], SQLModel] = {}
        self._upserts: dict[tuple[str, str], tuple[Table, Callable[[], dict[str, Any] | None], tuple[str, ...] | None]] = {}
        self._calls: list[Callable[[Session], None]] = []
        # Callers of `commit` waiting for the next batch's transaction.
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._flush_lock = asyncio.Lock()
        self._kick = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self.rows_written = 0

    @property
    def pending(self) -> int:
        """Rows waiting for the next flush."""
        return self._pending

    @property
    def backlogged(self) -> bool:
        """More is waiting than the store keeps up with: producers should wait for `drained()`."""
        return self._pending >= self.max_pending * BACKLOG_FACTOR

    async def drained(self) -> None:
        """Wait until the writer is no longer backlogged."""
        while self.backlogged:
            self._drained.clear()
            self._kick.set()
            await self._drained.wait()

    def _grew(self) -> None:
        self._pending += 1
        if self._pending >= self.max_pending:
            self._kick.set()

    def add(self, row: SQLModel) -> None:
        self._rows.append(row)
        self._grew()

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
        per charger. A failed transaction raises here, as a write of one's own would.
        """
        self.upsert(key, table, values, keys)
        if self._task is None:  # no writer running (start-up, shutdown): write now
            await self.flush()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._kick.set()
        await waiter

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="batch-writer")

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.interval)
            self._kick.clear()
            try:
                await self.flush()
            except Exception:  # a failed batch must not stop later ones
                log.exception("batch write failed")

    async def flush(self) -> None:
        async with self._flush_lock:
            rows, self._rows = self._rows, []
            inserts = [(table_rows, table_rows.take()) for table_rows in self._tables if table_rows.pending]
            merges, self._merges = list(self._merges.values()), {}
            upserts, self._upserts = self._upserts, {}
            calls, self._calls = self._calls, []
            waiters, self._waiters = self._waiters, []
            count, self._pending = self._pending, 0
            try:
                if not rows and not inserts and not merges and not upserts and not calls:
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
                    for row in merges:
                        session.merge(row)
                    session.commit()
                    for work in calls:
                        work(session)

                # The few rows someone may be waiting for first; then the high-rate rows, in one
                # transaction unless others wait for the store thread meanwhile (a commit costs more
                # than hundreds of rows).
                try:
                    await self.store.run(write)
                except Exception as error:
                    _settle(waiters, error)
                    raise
                _settle(waiters)
                failed: list[tuple[list[Any], Exception]] = []
                while inserts:
                    try:
                        inserts = await self.store.run(_inserting(self.store, inserts))
                    except Exception:
                        # One bad row (a time without an offset, a charger deleted meanwhile) must not
                        # cost the others theirs: the rows of the failed transaction go one by one.
                        log.exception("writing %d rows failed; writing them one by one", sum(len(batch) for _, batch in inserts))
                        failed = await self.store.run(_inserting_each(inserts))
                        inserts = []
                if failed:
                    row, error = failed[0]
                    log.error("%d rows could not be written and are dropped; the first: %r (%s)", len(failed), row, error)
                self.rows_written += count - len(failed)
            finally:
                _settle(waiters, ConnectionAbortedError("the batch writer stopped"))
                self._drained.set()

    async def stop(self) -> None:
        """Write what is pending and stop; a flush under way finishes (cancelled, it would drop the rest of its batch)."""
        if self._task is not None:
            self._stopping = True
            self._kick.set()
            try:
                await self._task
            finally:
                self._task = None
                self._stopping = False
        await self.flush()


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
        self.pending.append(row)
        writer = self._writer
        writer._pending += 1
        if writer._pending >= writer.max_pending:
            writer._kick.set()

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


    def insert_each(self, session: Session, batch: list[list[Any]]) -> list[tuple[list[Any], Exception]]:
        """Insert `batch` a row at a time, each committed on its own: the rows that fail, and why; the rest is written.

        What a failed batch falls back to. The failed attempt may have turned
        some rows' times into SQLite's text in place: those are read back first.
        """
        times = [name for name in self.columns if _is_time(self.table.c[name].type)]
        statement = self.table.insert()
        failed: list[tuple[list[Any], Exception]] = []
        for row in batch:
            values = dict(zip(self.columns, row))
            for name in times:
                if type(values[name]) is str:
                    values[name] = datetime.fromisoformat(values[name]).replace(tzinfo=timezone.utc)
            try:
                session.execute(statement, [values])
                session.commit()
            except Exception as error:
                session.rollback()
                failed.append((row, error))
        return failed


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


def _inserting_each(batches: Batches) -> Callable[[Session], list[tuple[list[Any], Exception]]]:
    """Insert the rows of the batches one by one, each committed on its own; the rows that fail, and why."""

    def write(session: Session) -> list[tuple[list[Any], Exception]]:
        failed: list[tuple[list[Any], Exception]] = []
        for table_rows, batch in batches:
            failed += table_rows.insert_each(session, batch)
        return failed

    return write


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
