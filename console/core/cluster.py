"""A cluster: several `serve --cluster` nodes on one PostgreSQL store, one depot.

Built on PostgreSQL alone, nothing of our own to agree on:

- Each node has a row in `clusternode` whose lease its heartbeat renews on the
  database's clock (a node's own clock being off does not matter). Any node
  deletes the rows of nodes whose lease ran out, or whose heartbeat stopped and
  whose listening session is gone (a killed process: seconds, not the lease),
  and with them (ON DELETE CASCADE) which chargers they held, and says so on
  the shared channel.
- `chargerlink` says which node holds each charger's connection; a node writes
  it when a charger connects or leaves and announces it with NOTIFY, so every
  node knows at once where each charger is. A charger that connects to one node
  while another holds it: the newer connection wins, the older is closed.
- A CALL for a charger another node holds goes in `clustercall`, that node is
  woken on its own channel (LISTEN/NOTIFY), makes the CALL on the charger's
  connection and writes the outcome, and the caller is woken in turn. The
  action itself stays the caller's (`ClusterGateway` wraps the local gateway
  under the ledger): opened, dispatched and settled where it was asked for.
- An action the engine runs is claimed first (`actionclaim`, one row per action,
  taken over only from a node that is gone): of the nodes that know it, one
  runs it. Singletons (retention) run on the node holding their advisory lock.

A single node (SQLite, or PostgreSQL without --cluster) has none of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy.engine import make_url

from console.core import operations as ops
from console.core.engine import COMMANDS, ActionEngine
from console.core.events import ChargerUpdated
from console.core.live import LiveState
from console.core.models import Action, Charger
from console.core.ports import ChargerGateway
from console.core.registration import Registrations
from console.core.store import Store
from console.core.versions import OcppVersion

log = logging.getLogger(__name__)

SHARED_CHANNEL = "ocpp_console_cluster"
APPLICATION = "ocpp-console node "
# Advisory lock keys (class, object) of the cluster's singletons: (CLUSTER_LOCKS, n).
CLUSTER_LOCKS = 0x4F43
SINGLETONS = {"retention": 1, "power cap": 2, "webhooks": 3}
# How long a routed CALL's answer is waited for beyond the charger's own call timeout.
ROUTE_MARGIN_S = 5.0
# Connections a node uses for routed CALLs and claims, beside its heartbeat's and its listener's.
POOL_SIZE = 4
# Live state changes of the chargers a node holds are gathered this long into one NOTIFY (s), each at most
# NOTIFY_BYTES (PostgreSQL takes 8,000 a payload).
SHARE_EVERY = 0.2
NOTIFY_BYTES = 7_000


def default_node_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def node_channel(name: str) -> str:
    """A node's own channel: a fixed-length identifier whatever its name."""
    return "ocpp_console_node_" + hashlib.sha1(name.encode()).hexdigest()[:20]


def conninfo(url: str) -> str:
    """The libpq URL of a store's SQLAlchemy URL (driver name dropped)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    host: str
    pid: int
    ocpp_url: str | None
    api_url: str | None
    started_at: datetime
    lease_age_s: float
    lease_left_s: float
    chargers: list[str]


def cluster_status(url: str) -> list[NodeView]:
    """The nodes with their chargers' identities and how long ago each renewed its lease (the database's clock)."""
    with psycopg.connect(conninfo(url), connect_timeout=5) as connection:
        nodes = connection.execute(
            "SELECT name, host, pid, ocpp_url, api_url, started_at, "
            "extract(epoch FROM now() - heartbeat_at)::float, extract(epoch FROM lease_until - now())::float "
            "FROM clusternode ORDER BY name"
        ).fetchall()
        links = connection.execute(
            "SELECT l.node, c.identity FROM chargerlink l JOIN charger c ON c.id = l.charger_id ORDER BY c.identity"
        ).fetchall()
    held: dict[str, list[str]] = {}
    for node, identity in links:
        held.setdefault(node, []).append(identity)
    return [NodeView(*row[:6], round(row[6], 1), round(row[7], 1), held.get(row[0], [])) for row in nodes]


class IdBlocks:
    """Ids a node gives rows itself (log entries, stream events), from blocks of a PostgreSQL sequence: two nodes
    never give the same id. A block is taken when the last one runs out (one short query per BLOCK ids)."""

    BLOCK = 100_000
    SEQUENCE = "cluster_id_blocks"

    def __init__(self, url: str, table: str) -> None:
        self.conninfo = conninfo(url)
        self.table = table
        self._next = 0
        self._end = 0

    def take(self) -> int:
        if self._next >= self._end:
            self._reserve()
        taken = self._next
        self._next += 1
        return taken

    def _reserve(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as connection:
            highest = connection.execute(f"SELECT coalesce(max(id), 0) FROM {self.table}").fetchone()
            block = connection.execute(f"SELECT nextval('{self.SEQUENCE}')").fetchone()
            assert highest is not None and block is not None
            if block[0] * self.BLOCK <= highest[0]:  # ids a single node gave before: start above them
                block = connection.execute(
                    f"SELECT setval('{self.SEQUENCE}', greatest(nextval('{self.SEQUENCE}'), %s))", (highest[0] // self.BLOCK + 1,)
                ).fetchone()
                assert block is not None
        self._next, self._end = block[0] * self.BLOCK, (block[0] + 1) * self.BLOCK


class Cluster:
    """This node's part in the cluster: its lease, the connection registry, routed CALLs, claims."""

    def __init__(
        self,
        name: str,
        url: str,
        live: LiveState,
        store: Store | None = None,
        *,
        heartbeat_s: float = 1.0,
        lease_s: float = 15.0,
        call_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.channel = node_channel(name)
        self.conninfo = conninfo(url)
        self.live = live
        self.store = store
        self.heartbeat_s = heartbeat_s
        self.lease_s = lease_s
        self.call_timeout = call_timeout
        self.local: ChargerGateway | None = None
        self.ocpp_url: str | None = None
        self.api_url: str | None = None
        # Where each charger held by another node is: charger id -> (node, connected at).
        self.links: dict[str, tuple[str, datetime]] = {}
        # When each charger this node holds connected (the database's time of its link).
        self.held: dict[str, datetime | None] = {}
        self.nodes: set[str] = set()
        self._db: psycopg.AsyncConnection[Any] | None = None
        self._db_lock = asyncio.Lock()
        self._pool: list[psycopg.AsyncConnection[Any]] = []
        self._pool_size = 0
        self._pool_freed = asyncio.Event()
        self._pending: dict[int, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._early: set[int] = set()
        self._changes: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._work: set[asyncio.Task[Any]] = set()
        self._leading: set[str] = set()
        self._listening = asyncio.Event()
        # Told when another node's charger connects or leaves (charger id, node or None).
        self.listeners: list[Callable[[str, str | None], None]] = [self._holder_changed]
        # Chargers held here whose live state the other nodes have not been told yet.
        self._dirty: set[str] = set()
        self._applying = False
        # Chargers whose live state here is what another node said (their events are that node's to deliver).
        self.mirrored_ids: set[str] = set()
        # The registrations whose decisions the other nodes' follow (set by the composition root).
        self.registrations: Registrations | None = None
        # The action engine whose commands the other nodes' engines follow (set by the composition root).
        self.engine: ActionEngine | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await self._register()
        self._tasks = [
            asyncio.create_task(self._listen(), name="cluster listener"),
            asyncio.create_task(self._heartbeat(), name="cluster heartbeat"),
            asyncio.create_task(self._publish_links(), name="cluster links"),
            asyncio.create_task(self._share_states(), name="cluster live state"),
        ]
        self.live.record_listeners.append(self._record_changed)
        await asyncio.wait_for(self._listening.wait(), 10)
        log.info("cluster node %s: %d other nodes, %d chargers held by them", self.name, len(self.nodes) - 1, len(self.links))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in list(self._tasks) + list(self._work):
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []
        for _node, future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"node {self.name} is stopping"))
        with contextlib.suppress(Exception):  # leaving: its chargers are free at once, not after the lease
            await self._execute(
                "WITH gone AS (DELETE FROM clusternode WHERE name = %s RETURNING name) "
                "SELECT pg_notify(%s, json_build_object('k', 'gone', 'node', name)::text) FROM gone",
                (self.name, SHARED_CHANNEL),
            )
        if self._db is not None:
            with contextlib.suppress(Exception):
                await self._db.close()
            self._db = None
        for connection in self._pool:
            with contextlib.suppress(Exception):
                await connection.close()
        self._pool, self._pool_size = [], 0

    async def describe(self, ocpp_url: str | None, api_url: str | None) -> None:
        """Where this node serves chargers and its API (for `cluster status`)."""
        self.ocpp_url, self.api_url = ocpp_url, api_url
        await self._execute("UPDATE clusternode SET ocpp_url = %s, api_url = %s WHERE name = %s", (ocpp_url, api_url, self.name))

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._db is None or self._db.closed:
            self._db = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, connect_timeout=5, options="-c timezone=UTC -c lock_timeout=1000"
            )
            self._leading.clear()  # session locks went with the old session
        return self._db

    async def _execute(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        """One statement on this node's own connection (autocommit), reconnecting once if the session was lost."""
        async with self._db_lock:
            for attempt in (1, 2):
                connection = await self._connection()
                try:
                    cursor = await connection.execute(query, params)  # type: ignore[arg-type]
                    return await cursor.fetchall() if cursor.description else []
                except psycopg.OperationalError:
                    with contextlib.suppress(Exception):
                        await connection.close()
                    self._db = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    async def _pooled(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        """One statement on one of a few connections of routed CALLs (autocommit), so calls in flight do not
        queue behind each other on one session; reconnecting once if the session was lost."""
        for attempt in (1, 2):
            connection = await self._take()
            try:
                cursor = await connection.execute(query, params)  # type: ignore[arg-type]
                rows = await cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError:
                with contextlib.suppress(Exception):
                    await connection.close()
                self._pool_size -= 1
                self._pool_freed.set()
                if attempt == 2:
                    raise
                continue
            self._pool.append(connection)
            self._pool_freed.set()
            return rows
        raise AssertionError("unreachable")

    async def _take(self) -> psycopg.AsyncConnection[Any]:
        while True:
            if self._pool:
                return self._pool.pop()
            if self._pool_size < POOL_SIZE:
                self._pool_size += 1
                try:
                    return await psycopg.AsyncConnection.connect(
                        self.conninfo, autocommit=True, connect_timeout=5, options="-c timezone=UTC -c lock_timeout=1000"
                    )
                except BaseException:
                    self._pool_size -= 1
                    raise
            self._pool_freed.clear()
            await self._pool_freed.wait()

    async def _register(self) -> None:
        """This node's row (a node started again under its name takes it over, its old links dropped)."""
        await self._execute(
            "INSERT INTO clusternode (name, host, pid, ocpp_url, api_url, started_at, heartbeat_at, lease_until) "
            "VALUES (%s, %s, %s, %s, %s, now(), now(), now() + make_interval(secs => %s)) "
            "ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, ocpp_url = excluded.ocpp_url, "
            "api_url = excluded.api_url, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, "
            "lease_until = excluded.lease_until",
            (self.name, socket.gethostname(), os.getpid(), self.ocpp_url, self.api_url, self.lease_s),
        )
        await self._execute("DELETE FROM chargerlink WHERE node = %s", (self.name,))
        for charger_id in list(self.held):  # back after the lease lapsed (a long pause, the server restarted)
            await self._link_up(charger_id)
        await self._execute("SELECT pg_notify(%s, json_build_object('k', 'node', 'node', %s::text)::text)", (SHARED_CHANNEL, self.name))

    async def _reload(self) -> None:
        """Every live node and every charger another node holds, as the database has them now."""
        nodes = await self._execute("SELECT name FROM clusternode WHERE lease_until > now()")
        self.nodes = {name for (name,) in nodes}
        links = await self._execute("SELECT charger_id, node, connected_at FROM chargerlink WHERE node <> %s", (self.name,))
        before = set(self.links)
        self.links = {charger_id: (node, at) for charger_id, node, at in links if node in self.nodes}
        for charger_id in before | set(self.links):
            if charger_id in before and charger_id not in self.links:
                self._tell(charger_id, None)
            elif charger_id not in before:
                self._tell(charger_id, self.links[charger_id][0])

    def _tell(self, charger_id: str, node: str | None) -> None:
        for listener in self.listeners:
            listener(charger_id, node)

    async def _heartbeat(self) -> None:
        # Since when this node's beats have gone through (monotonic): it sweeps others only once it has been
        # back for a while, so after the server restarts no node takes the others for dead before they are back.
        healthy_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                renewed = await self._execute(
                    "UPDATE clusternode SET heartbeat_at = now(), lease_until = now() + make_interval(secs => %s) "
                    "WHERE name = %s RETURNING name",
                    (self.lease_s, self.name),
                )
                if not renewed:
                    log.warning("cluster node %s: its lease had lapsed (swept by another node); registering again", self.name)
                    await self._register()
                if healthy_since is None:
                    healthy_since = loop.time()
                if loop.time() - healthy_since >= self.heartbeat_s * 5:
                    await self._sweep()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database away: the lease runs on; tried again next beat
                healthy_since = None
                log.warning("cluster heartbeat failed: %s", error)

    async def _sweep(self) -> None:
        """Nodes gone: lease over, or heartbeat stopped and their listening session ended (killed)."""
        gone = await self._execute(
            "WITH gone AS (DELETE FROM clusternode n WHERE n.lease_until < now() OR (n.name <> %s "
            "AND n.heartbeat_at < now() - make_interval(secs => %s) AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a "
            "WHERE a.application_name = left(%s || n.name, 63))) RETURNING name) "
            "SELECT name, pg_notify(%s, json_build_object('k', 'gone', 'node', name)::text) FROM gone",
            (self.name, self.heartbeat_s * 3, APPLICATION, SHARED_CHANNEL),
        )
        for name, _notified in gone:
            log.warning("cluster node %s is gone: its chargers are free", name)
        await self._execute("DELETE FROM clustercall WHERE created_at < now() - interval '10 minutes'")

    # -- notifications -----------------------------------------------------------------

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, connect_timeout=5, application_name=(APPLICATION + self.name)[:63]
                ) as connection:
                    await connection.execute(f'LISTEN "{self.channel}"')
                    await connection.execute(f'LISTEN "{SHARED_CHANNEL}"')
                    await self._reload()
                    await self._calls_waiting()
                    self._listening.set()
                    async for notice in connection.notifies():
                        self._notified(notice.channel, notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("cluster listener lost (%s); listening again in 1 s", error)
                await asyncio.sleep(1.0)

    def _notified(self, channel: str, payload: str) -> None:
        message = json.loads(payload)
        kind = message.get("k")
        if kind == "up":
            self._remote_up(message["charger"], message["node"], datetime.fromisoformat(message["at"]))
        elif kind == "down":
            if self.links.get(message["charger"], ("",))[0] == message["node"]:
                del self.links[message["charger"]]
                self._tell(message["charger"], None)
        elif kind == "node":
            self.nodes.add(message["node"])
            self._dirty.update(self.held)  # a node (re)joined: it hears how the chargers here are
        elif kind == "state":
            for charger_id, shared in message["s"].items():
                if charger_id not in self.held and message["node"] in self.nodes:
                    self.mirrored_ids.add(charger_id)
                    self.live.apply_shared_state(charger_id, shared)
        elif kind == "action":
            if message["node"] != self.name and self.engine is not None:
                self._spawn(self.engine.adopt(message["id"]))
        elif kind == "decided":
            if message["node"] != self.name and self.registrations is not None:
                self.registrations.decided_elsewhere(message["identity"], message["decision"])
        elif kind == "fleet":
            if message["node"] != self.name:
                self._spawn(self._fleet_changed(message["charger"], message["saved"]))
        elif kind == "gone":
            self._node_gone(message["node"])
        elif kind == "call":
            self._spawn(self._serve_call(int(message["id"])))
        elif kind == "done":
            self._spawn(self._call_done(int(message["id"])))
        elif kind == "drop" and self.local is not None:
            self.local.disconnect(message["identity"], message["reason"])

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    def _remote_up(self, charger_id: str, node: str, at: datetime) -> None:
        if node == self.name:
            return
        self.nodes.add(node)
        self.links[charger_id] = (node, at)
        self._tell(charger_id, node)
        mine = self.held.get(charger_id)
        record = self.live.record(charger_id)
        if mine is not None and at > mine and self.local is not None and record is not None:
            # The charger reached another node since it connected here: the newer connection wins.
            self.held.pop(charger_id, None)
            self.local.disconnect(record.identity, f"replaced by a new connection on node {node}")

    def _node_gone(self, node: str) -> None:
        self.nodes.discard(node)
        if node == self.name:
            return
        for charger_id, (holder, _at) in list(self.links.items()):
            if holder == node:
                del self.links[charger_id]
                self._tell(charger_id, None)
        for _call_id, (holder, future) in self._pending.items():
            if holder == node and not future.done():
                future.set_exception(ConnectionError(f"node {node}, which held the connection, is gone"))

    # -- shared live state and fleet ----------------------------------------------------

    def _holder_changed(self, charger_id: str, node: str | None) -> None:
        if node is None and charger_id not in self.held:
            self.live.apply_shared_state(charger_id, None)

    def mirrored(self, event: Any) -> bool:
        """Whether an event shows a charger as another node said it is (that node delivers its webhooks)."""
        return isinstance(event, ChargerUpdated) and event.charger.id in self.mirrored_ids

    async def _share_states(self) -> None:
        """The live state of chargers held here, to every node, gathered for SHARE_EVERY seconds a message."""
        subscription = self.live.bus.subscribe(kinds=(ChargerUpdated,), frames=False)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    events = await asyncio.wait_for(subscription.next_batch(), SHARE_EVERY)
                    self._dirty.update(event.charger.id for event in events if event.charger.id in self.held)
                    await asyncio.sleep(SHARE_EVERY)
                if not self._dirty:
                    continue
                dirty, self._dirty = self._dirty, set()
                messages, batch, size = [], {}, 0
                for charger_id in dirty:
                    shared = self.live.shared_state(charger_id)
                    if shared is None or charger_id not in self.held:
                        continue
                    encoded = len(json.dumps(shared)) + len(charger_id) + 8
                    if batch and size + encoded > NOTIFY_BYTES:
                        messages.append(batch)
                        batch, size = {}, 0
                    batch[charger_id] = shared
                    size += encoded
                if batch:
                    messages.append(batch)
                payloads = [json.dumps({"k": "state", "node": self.name, "s": batch}) for batch in messages]
                try:
                    if payloads:
                        await self._execute("SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p", (SHARED_CHANNEL, payloads))
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # told again with the next change, or when the listener is back
                    self._dirty.update(dirty)
                    log.warning("cluster: could not share live state: %s", error)
        finally:
            subscription.close()

    def action_changed(self, action: Action) -> None:
        """A charge or idle command opened or moved on here: the other nodes' engines follow it."""
        if action.command in COMMANDS:
            payload = json.dumps({"k": "action", "node": self.name, "id": action.id})
            self._spawn(self._execute("SELECT pg_notify(%s, %s)", (SHARED_CHANNEL, payload)))

    def decided(self, identity: str, decision: str) -> None:
        """An operator's decision on an unknown identity taken here: every node refuses (or admits) it alike."""
        payload = json.dumps({"k": "decided", "node": self.name, "identity": identity, "decision": decision})
        self._spawn(self._execute("SELECT pg_notify(%s, %s)", (SHARED_CHANNEL, payload)))

    def _record_changed(self, charger_id: str, saved: bool) -> None:
        if self._applying:
            return
        payload = json.dumps({"k": "fleet", "node": self.name, "charger": charger_id, "saved": saved})
        self._spawn(self._execute("SELECT pg_notify(%s, %s)", (SHARED_CHANNEL, payload)))

    async def _fleet_changed(self, charger_id: str, saved: bool) -> None:
        """Another node saved or removed a charger's record: this node's fleet follows."""
        if saved and self.store is not None:
            charger = await self.store.run(lambda session: session.get(Charger, charger_id))
            if charger is None:
                return
            self._applying = True
            try:
                self.live.record_saved(charger)
            finally:
                self._applying = False
        elif not saved and (record := self.live.record(charger_id)) is not None:
            self._applying = True
            try:
                self.live.record_removed(record)
            finally:
                self._applying = False

    # -- the connection registry ---------------------------------------------------------

    def connection_changed(self, identity: str, charger_id: str, connected: bool) -> None:
        """The local central system's hook: a charger connected here, or its connection here ended."""
        if connected:
            self.held[charger_id] = None
            self.links.pop(charger_id, None)
            self.mirrored_ids.discard(charger_id)
        else:
            self.held.pop(charger_id, None)
        self._changes.put_nowait((charger_id, connected))

    async def _publish_links(self) -> None:
        while True:
            charger_id, connected = await self._changes.get()
            try:
                if connected:
                    if charger_id in self.held:
                        await self._link_up(charger_id)
                else:
                    await self._execute(
                        "WITH down AS (DELETE FROM chargerlink WHERE charger_id = %s AND node = %s RETURNING charger_id) "
                        "SELECT pg_notify(%s, json_build_object('k', 'down', 'node', %s::text, 'charger', charger_id)::text) FROM down",
                        (charger_id, self.name, SHARED_CHANNEL, self.name),
                    )
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the next registration (heartbeat after a lapse) writes them all again
                log.warning("cluster: could not record %s's connection: %s", charger_id, error)

    async def _link_up(self, charger_id: str) -> None:
        rows = await self._execute(
            "WITH up AS (INSERT INTO chargerlink (charger_id, node, connected_at) VALUES (%s, %s, clock_timestamp()) "
            "ON CONFLICT (charger_id) DO UPDATE SET node = excluded.node, connected_at = excluded.connected_at "
            "RETURNING charger_id, connected_at) "
            "SELECT connected_at, pg_notify(%s, json_build_object('k', 'up', 'node', %s::text, 'charger', charger_id, "
            "'at', connected_at)::text) FROM up",
            (charger_id, self.name, SHARED_CHANNEL, self.name),
        )
        if rows and charger_id in self.held:
            self.held[charger_id] = rows[0][0]

    def holder(self, identity: str) -> str | None:
        """The live node other than this one that holds the charger's connection, if one does."""
        charger_id = self.live.charger_id_for(identity)
        link = self.links.get(charger_id or "")
        return link[0] if link is not None and link[0] in self.nodes else None

    # -- routed CALLs ----------------------------------------------------------------------

    async def route(self, node: str, identity: str, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Have `node` make the CALL on its connection to the charger; its answer, or its failure raised as here."""
        rows = await self._pooled(
            "WITH c AS (INSERT INTO clustercall (node, caller, identity, operation, request, created_at) "
            "VALUES (%s, %s, %s, %s, %s, now()) RETURNING id) "
            "SELECT id, pg_notify(%s, json_build_object('k', 'call', 'id', id)::text) FROM c",
            (node, self.name, identity, operation, Json(payload), node_channel(node)),
        )
        call_id = int(rows[0][0])
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = (node, future)
        if call_id in self._early:
            self._early.discard(call_id)
            self._spawn(self._call_done(call_id))
        try:
            outcome = await asyncio.wait_for(future, self.call_timeout + ROUTE_MARGIN_S)
        except TimeoutError as error:
            with contextlib.suppress(Exception):
                await self._pooled("DELETE FROM clustercall WHERE id = %s", (call_id,))
            raise TimeoutError(f"node {node} gave no outcome within {self.call_timeout + ROUTE_MARGIN_S:g} s") from error
        finally:
            self._pending.pop(call_id, None)
        if "failure" in outcome:
            failure = outcome["failure"]
            raise ops.Relayed(failure["reason"], failure["detail"], failure.get("answer"))
        return dict(outcome["answer"])

    async def _calls_waiting(self) -> None:
        """After (re)connecting: CALLs addressed here not yet taken, outcomes for this node not yet read."""
        for (call_id,) in await self._execute("SELECT id FROM clustercall WHERE node = %s AND taken_at IS NULL", (self.name,)):
            self._spawn(self._serve_call(int(call_id)))
        for (call_id,) in await self._execute(
            "SELECT id FROM clustercall WHERE caller = %s AND outcome IS NOT NULL", (self.name,)
        ):
            if int(call_id) in self._pending:
                self._spawn(self._call_done(int(call_id)))

    async def _serve_call(self, call_id: int) -> None:
        rows = await self._pooled(
            "UPDATE clustercall SET taken_at = now() WHERE id = %s AND node = %s AND taken_at IS NULL "
            "RETURNING caller, identity, operation, request",
            (call_id, self.name),
        )
        if not rows:
            return
        caller, identity, operation, request = rows[0]
        outcome: dict[str, Any]
        try:
            if self.local is None or not self.local.is_connected(identity):
                raise ConnectionError(f"{identity} is not connected (node {self.name} no longer holds it)")
            outcome = {"answer": ops.plain(await self.local.call(identity, operation, request))}
        except asyncio.CancelledError:
            raise
        except Exception as error:
            record = self.live.record(self.live.charger_id_for(identity) or "")
            version = record.ocpp_version if record is not None else OcppVersion.V16
            reason, detail, answer = ops.failure_of(error, version, operation)
            outcome = {"failure": {"reason": reason, "detail": detail, "answer": ops.plain(answer)}}
        await self._pooled(
            "WITH c AS (UPDATE clustercall SET outcome = %s WHERE id = %s RETURNING id) "
            "SELECT pg_notify(%s, json_build_object('k', 'done', 'id', id)::text) FROM c",
            (Json(outcome), call_id, node_channel(caller)),
        )

    async def _call_done(self, call_id: int) -> None:
        pending = self._pending.get(call_id)
        if pending is None:  # the insert's answer is still on its way here
            self._early.add(call_id)
            return
        rows = await self._pooled("DELETE FROM clustercall WHERE id = %s RETURNING outcome", (call_id,))
        if rows and not pending[1].done():
            pending[1].set_result(rows[0][0])

    def drop(self, node: str, identity: str, reason: str) -> None:
        """Ask `node` to close the charger's connection."""
        self._spawn(
            self._execute(
                "SELECT pg_notify(%s, %s)",
                (node_channel(node), json.dumps({"k": "drop", "identity": identity, "reason": reason})),
            )
        )

    # -- exactly once ----------------------------------------------------------------------

    async def claim(self, action: Action) -> bool:
        """Whether this node runs `action` now: it claimed it (or had), and the store has it as this node does."""
        rows = await self._pooled(
            "WITH c AS (INSERT INTO actionclaim (action_id, node, claimed_at) VALUES (%s, %s, now()) "
            "ON CONFLICT (action_id) DO UPDATE SET node = excluded.node, claimed_at = excluded.claimed_at "
            "WHERE actionclaim.node = excluded.node OR NOT EXISTS (SELECT 1 FROM clusternode n "
            "WHERE n.name = actionclaim.node AND n.lease_until > now()) RETURNING action_id) "
            "SELECT a.state FROM action a JOIN c ON c.action_id = a.id",
            (action.id, self.name),
        )
        return bool(rows) and rows[0][0] == action.state

    async def leads(self, singleton: str) -> bool:
        """Whether this node runs the cluster's `singleton` (held by one node's session at a time)."""
        if singleton in self._leading and self._db is not None and not self._db.closed:
            return True
        rows = await self._execute("SELECT pg_try_advisory_lock(%s, %s)", (CLUSTER_LOCKS, SINGLETONS[singleton]))
        if rows and rows[0][0]:
            self._leading.add(singleton)
            return True
        return False


class ClusterGateway:
    """The ledger's gateway on a cluster node: chargers held here through the local central system, the
    others through the node that holds them; a charger no live node holds is offline."""

    def __init__(self, local: ChargerGateway, cluster: Cluster) -> None:
        self.local = local
        self.cluster = cluster
        cluster.local = local

    def is_connected(self, identity: str) -> bool:
        return self.local.is_connected(identity) or self.cluster.holder(identity) is not None

    async def call(self, identity: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.local.is_connected(identity):
            return await self.local.call(identity, action, payload)
        node = self.cluster.holder(identity)
        if node is None:
            raise ConnectionError(f"{identity} is not connected to any node")
        return await self.cluster.route(node, identity, action, payload)

    def disconnect(self, identity: str, reason: str) -> None:
        if self.local.is_connected(identity):
            self.local.disconnect(identity, reason)
            return
        node = self.cluster.holder(identity)
        if node is not None:
            self.cluster.drop(node, identity, reason)

    def __getattr__(self, name: str) -> Any:  # the rest of the central system's surface (connected_count, version_of…)
        return getattr(self.local, name)
