"""A cluster: two `serve` nodes on one PostgreSQL store are one depot.

The nodes are two Depots in this process (each with its own store, central
system and cluster connections, as two processes would have), the chargers
real OCPP clients (the `ocpp` package's ChargePoint) on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from sqlalchemy import text

from console.core.cluster import Cluster, cluster_status
from console.core.events import ActionChanged
from console.core.owner import StoreOwned
from console.core.service import ConsoleService
from console.core.store import Store
from console.depot import Depot, DepotSettings
from tests.test_serve import read_until
from tests.test_store_owner import ocpp_console

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "csms"))
from ocpp_clients import charge_point, eventually  # noqa: E402

pytestmark = pytest.mark.stores("postgresql")


class Counting16(ChargePoint):
    """Answers what the console sends, counting each CALL it receives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[str] = []

    @on("TriggerMessage")
    async def on_trigger(self, requested_message: str, **_: Any) -> call_result.TriggerMessage:
        self.received.append("TriggerMessage")
        return call_result.TriggerMessage(status="Accepted")

    @on("ChangeConfiguration")
    async def on_change(self, key: str, value: str) -> call_result.ChangeConfiguration:
        self.received.append("ChangeConfiguration")
        return call_result.ChangeConfiguration(status="Rejected" if key == "Nope" else "Accepted")

    @on("SetChargingProfile")
    async def on_set_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> call_result.SetChargingProfile:
        self.received.append("SetChargingProfile")
        return call_result.SetChargingProfile(status="Accepted")

    @on("RemoteStartTransaction")
    async def on_remote_start(self, id_tag: str, **_: Any) -> call_result.RemoteStartTransaction:
        self.received.append("RemoteStartTransaction")
        return call_result.RemoteStartTransaction(status="Accepted")


async def make_fleet(db_url: str, identities: list[str]) -> dict[str, str]:
    """The chargers, written before the nodes start; identity -> charger id."""
    store = Store(db_url, owner=True)
    service = ConsoleService(store)
    await service.open()
    try:
        return {
            identity: (await service.create_charger({"identity": identity, "max_charging_power": 22000})).id
            for identity in identities
        }
    finally:
        await service.close()
        store.close()


@contextlib.asynccontextmanager
async def node(db_url: str, name: str, **cluster: Any) -> AsyncIterator[Depot]:
    settings = DepotSettings(
        db_url=db_url, ocpp_port=0, simulate=False, first_run_fleet=None, node_name=name, call_timeout=5.0, stop_timeout=2.0,
        api_port=cluster.get("api_port"),
    )
    depot = Depot(settings)
    assert depot.cluster is not None
    depot.cluster.heartbeat_s = cluster.get("heartbeat_s", 0.2)
    depot.cluster.lease_s = cluster.get("lease_s", 5.0)
    await depot.start()
    try:
        yield depot
    finally:
        await depot.stop()


@contextlib.asynccontextmanager
async def online(depot: Depot, identity: str) -> AsyncIterator[Counting16]:
    async with charge_point(depot.central.url, identity, client=Counting16) as cp:
        await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await eventually(lambda: depot.central.is_connected(identity))
        yield cp


def holds(depot: Depot, other: Depot, identity: str) -> bool:
    assert other.cluster is not None
    return other.cluster.holder(identity) == depot.settings.node_name


async def test_a_charger_on_node_b_is_operated_from_node_a_as_if_local(db_url: str) -> None:
    ids = await make_fleet(db_url, ["CL-1"])
    async with node(db_url, "a") as a, node(db_url, "b") as b, online(b, "CL-1") as charger:
        assert a.cluster is not None and b.cluster is not None
        await eventually(lambda: holds(b, a, "CL-1"), 5)
        assert a.service.ledger.is_connected("CL-1") and not a.central.is_connected("CL-1")

        result = await a.service.operate(ids["CL-1"], "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "30"})
        assert result.state == "acknowledged", result
        assert charger.received == ["ChangeConfiguration"]
        # The charger's refusal comes back as the charger said it, the action recorded once, on node A.
        refused = await a.service.operate(ids["CL-1"], "ChangeConfiguration", {"key": "Nope", "value": "1"})
        assert refused.state == "rejected" and refused.status == "Rejected"
        actions = b.store.run_sync(lambda s: s.execute(text("SELECT count(*), count(DISTINCT id) FROM action")).one())
        assert tuple(actions) == (2, 2)
        assert b.store.run_sync(lambda s: s.execute(text("SELECT count(*) FROM clustercall")).scalar()) == 0

        status = {view.name: view for view in cluster_status(db_url)}
        assert set(status) == {"a", "b"} and status["b"].chargers == ["CL-1"] and status["a"].chargers == []
        assert all(view.lease_age_s < 1 and view.lease_left_s > 3 for view in status.values())


async def test_node_a_shows_the_live_state_of_a_charger_on_node_b_within_a_second(db_url: str) -> None:
    ids = await make_fleet(db_url, ["CL-L"])
    charger_id = ids["CL-L"]
    async with node(db_url, "a") as a, node(db_url, "b") as b:
        async with online(b, "CL-L") as charger:
            await eventually(lambda: a.service.live.view(charger_id).is_connected, 1)
            await charger.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            await charger.call(
                call.MeterValues(
                    connector_id=1,
                    meter_value=[{
                        "timestamp": b.clock.now().isoformat(),
                        "sampledValue": [{"value": "7400", "measurand": "Power.Active.Import", "unit": "W"}],
                    }],
                )
            )
            started = asyncio.get_running_loop().time()
            await eventually(
                lambda: a.service.live.view(charger_id).current_power_kw == 7.4
                and a.service.live.view(charger_id).connectors[0].status == "Charging",
                1,
            )
            assert asyncio.get_running_loop().time() - started < 1
            assert a.service.live.view(charger_id).status == b.service.live.view(charger_id).status
        # Gone from node B: offline on node A too, within a second.
        await eventually(lambda: not a.service.live.view(charger_id).is_connected, 1)
        assert a.service.live.view(charger_id).current_power_kw == 0


async def test_a_charger_added_on_one_node_is_served_by_the_other(db_url: str) -> None:
    await make_fleet(db_url, [])
    async with node(db_url, "a") as a, node(db_url, "b") as b:
        view = await a.service.create_charger({"identity": "CL-NEW"})
        await eventually(lambda: b.service.live.charger_id_for("CL-NEW") == view.id, 2)
        async with online(b, "CL-NEW"):
            await eventually(lambda: a.service.live.view(view.id).is_connected, 2)
        await a.service.delete_charger(view.id)
        await eventually(lambda: b.service.live.charger_id_for("CL-NEW") is None, 2)


async def test_an_operation_for_a_charger_whose_node_is_gone_fails_at_once_as_offline(db_url: str) -> None:
    ids = await make_fleet(db_url, ["CL-2"])
    async with node(db_url, "a") as a:
        b = Depot(DepotSettings(db_url=db_url, ocpp_port=0, simulate=False, first_run_fleet=None, node_name="b"))
        assert b.cluster is not None
        b.cluster.heartbeat_s = 0.2
        await b.start()
        async with online(b, "CL-2"):
            await eventually(lambda: holds(b, a, "CL-2"), 5)
            # Node B stops answering and its sessions end, as when its process is killed: its lease is not given back.
            for task in b.cluster._tasks:
                task.cancel()
            assert b.cluster._db is not None
            await b.cluster._db.close()
            await eventually(lambda: a.cluster is not None and "b" not in a.cluster.nodes, 5)
            started = asyncio.get_running_loop().time()
            result = await a.service.operate(ids["CL-2"], "TriggerMessage", {"requestedMessage": "Heartbeat"})
            assert result.state == "failed" and result.reason == "offline", result
            assert asyncio.get_running_loop().time() - started < 0.5
            assert [view.name for view in cluster_status(db_url)] == ["a"]
        b.cluster._tasks = []
        await b.stop()


async def test_a_charger_reaching_a_second_node_is_taken_from_the_first(db_url: str) -> None:
    await make_fleet(db_url, ["CL-3"])
    async with node(db_url, "a") as a, node(db_url, "b") as b:
        async with online(a, "CL-3"):
            await eventually(lambda: holds(a, b, "CL-3"), 5)
            async with online(b, "CL-3"):
                # The newer connection wins: node A closes its own, and both see the charger on node B.
                await eventually(lambda: not a.central.is_connected("CL-3") and holds(b, a, "CL-3"), 5)
                assert b.central.is_connected("CL-3")
                assert [view.chargers for view in cluster_status(db_url)] == [[], ["CL-3"]]


async def test_due_actions_run_exactly_once_across_two_nodes(db_url: str) -> None:
    identities = [f"CL-D{n}" for n in range(6)]
    ids = await make_fleet(db_url, identities)
    pending: dict[str, int] = {}
    async with node(db_url, "a") as a, node(db_url, "b") as b:
        for depot in (a, b):
            subscription = depot.service.subscribe(kinds=(ActionChanged,), frames=False)

            async def count(subscription: Any = subscription) -> None:
                while True:
                    for event in await subscription.next_batch():
                        if event.action.state == "sent":
                            pending[event.action.id] = pending.get(event.action.id, 0) + 1

            asyncio.get_running_loop().create_task(count())
        async with contextlib.AsyncExitStack() as stack:
            chargers = [await stack.enter_async_context(online(a if n % 2 else b, identity)) for n, identity in enumerate(identities)]
            for identity in identities:
                await eventually(lambda identity=identity: a.service.ledger.is_connected(identity) and b.service.ledger.is_connected(identity), 5)
            # Many scheduled charges due within a second, submitted on either node; then both engines
            # start again and reload every one of them (as restarted nodes would).
            start = a.clock.now() + timedelta(seconds=1)
            submitted = []
            for n, identity in enumerate(identities):
                for k in range(3):
                    action = await (a if n % 2 else b).service.engine.submit(
                        ids[identity], "charge", {"powerLimit": 7 + k}, "scheduled", start + timedelta(milliseconds=100 * k),
                        None, "queue_after",
                    )
                    submitted.append(action.id)
            await a.service.engine.stop()
            await b.service.engine.stop()
            await a.service.engine.start()
            await b.service.engine.start()

            async def all_done() -> bool:
                states = a.store.run_sync(lambda s: s.execute(text("SELECT state, count(*) FROM action GROUP BY state")).all())
                return dict(states).get("scheduled", 0) + dict(states).get("pending", 0) + dict(states).get("sent", 0) == 0

            await eventually(all_done, 20)
            assert sorted(pending) == sorted(submitted) and set(pending.values()) == {1}, pending
            received = sum(len(charger.received) for charger in chargers)
            assert received == len(submitted)
            claims = a.store.run_sync(lambda s: s.execute(text("SELECT node, count(*) FROM actionclaim GROUP BY node")).all())
            assert sum(count for _, count in claims) == len(submitted)


async def test_a_cluster_node_and_a_single_owner_exclude_each_other(db_url: str) -> None:
    async with node(db_url, "a"):
        second = Store(db_url, owner=True, cluster=True)  # another node shares the store
        second.close()
        with pytest.raises(StoreOwned, match=r"owns this store alone|owns this store"):
            Store(db_url, owner=True)
    single = Store(db_url, owner=True)
    try:
        with pytest.raises(StoreOwned, match="owns this store alone; stop it before starting cluster nodes"):
            Store(db_url, owner=True, cluster=True)
    finally:
        single.close()


def test_a_cluster_needs_postgresql(tmp_path: Any) -> None:
    with pytest.raises(StoreOwned, match="a cluster needs PostgreSQL"):
        Store(f"sqlite:///{tmp_path / 'c.db'}", owner=True, cluster=True)


async def test_node_leases_run_on_the_database_clock(db_url: str) -> None:
    """A node's own clock plays no part: its lease is the database's now() plus the lease."""
    cluster = Cluster("skewed", db_url, live=None, lease_s=5.0)  # type: ignore[arg-type]
    await cluster._register()
    try:
        left = await cluster._execute("SELECT extract(epoch FROM lease_until - now()) FROM clusternode WHERE name = 'skewed'")
        assert 4.5 < float(left[0][0]) <= 5.0
    finally:
        await cluster.stop()


class Resettable16(Counting16):
    @on("Reset")
    async def on_reset(self, type: str) -> call_result.Reset:
        self.received.append("Reset")
        return call_result.Reset(status="Accepted")


async def serve_node(db_url: str, name: str, seen: list[str]) -> tuple[asyncio.subprocess.Process, str, str]:
    """`ocpp-console serve --node-name NAME` in a process of its own: (process, OCPP URL, API URL)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", "serve", "--db", db_url, "--node-name", name, "--ocpp-port", "0",
        "--api-port", "0", "--no-sim", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    ocpp = (await read_until(process.stdout, r"OCPP central system listening on (ws://\S+)", seen, 60)).group(1)
    api = (await read_until(process.stdout, r"listening on (http://\S+)", seen, 60)).group(1)
    asyncio.get_running_loop().create_task(drain(process.stdout, seen))
    return process, ocpp, api


async def drain(stream: asyncio.StreamReader, seen: list[str]) -> None:
    while line := await stream.readline():
        seen.append(line.decode())


@pytest.mark.timeout(120)
async def test_two_serve_processes_a_charger_commanded_across_then_its_node_killed(db_url: str) -> None:
    """Node B holds the charger and A's API resets it; B is SIGKILLed, the charger reconnects to A and its
    session, started on B, ends there: one session, its energy whole, the Reset sent once."""
    import httpx

    ids = await make_fleet(db_url, ["CL-P"])
    charger_id = ids["CL-P"]
    code, key, _ = await ocpp_console("keys", "create", "--db", db_url, env=dict(os.environ))
    assert code == 0
    headers = {"Authorization": f"Bearer {key.strip()}"}
    seen_a: list[str] = []
    seen_b: list[str] = []
    (a, a_ocpp, a_api), (b, b_ocpp, _) = await asyncio.gather(serve_node(db_url, "a", seen_a), serve_node(db_url, "b", seen_b))
    try:
        async with charge_point(b_ocpp, "CL-P", client=Resettable16) as charger, httpx.AsyncClient(headers=headers) as http:
            await charger.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
            started = await charger.call(call.StartTransaction(connector_id=1, id_tag="TAG", meter_start=1000, timestamp=iso_now()))

            async def reset_via_a() -> bool:
                answer = await http.post(f"{a_api}/console/chargers/{charger_id}/reset", json={})
                return answer.status_code == 200 and answer.json()["state"] == "acknowledged"

            await eventually(reset_via_a, 10)
            assert charger.received == ["Reset"]

            b.kill()  # SIGKILL: no goodbye, its lease is left to lapse
            await b.wait()
        async with charge_point(a_ocpp, "CL-P", client=Resettable16) as charger:
            await charger.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            stopped = await charger.call(
                call.StopTransaction(meter_stop=5000, timestamp=iso_now(), transaction_id=started.transaction_id, id_tag="TAG")
            )
            assert stopped.id_tag_info["status"] == "Accepted"

        def sessions(session: Any) -> list[Any]:
            return list(session.execute(text("SELECT id, meter_start_wh, meter_stop_wh, stopped_at FROM transaction")).all())

        store = Store(db_url)
        try:
            rows = store.run_sync(sessions)
            resets = store.run_sync(lambda s: s.execute(text("SELECT count(*) FROM action WHERE operation = 'Reset'")).scalar())
        finally:
            store.close()
        assert len(rows) == 1 and rows[0][0] == started.transaction_id
        assert rows[0][1:3] == (1000, 5000) and rows[0][3] is not None
        assert resets >= 1
        # Node A swept node B once its heartbeat stopped and its sessions were gone.
        await eventually(lambda: [view.name for view in cluster_status(db_url)] == ["a"], 10)
    finally:
        for process in (a, b):
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(a.wait(), 20) == 0, "".join(seen_a)


def iso_now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


async def test_an_identity_rejected_on_one_node_is_refused_by_the_other(db_url: str) -> None:
    await make_fleet(db_url, [])
    async with node(db_url, "a") as a, node(db_url, "b") as b:
        with contextlib.suppress(Exception):
            async with charge_point(b.central.url, "CL-STRANGER"):
                pass
        await eventually(lambda: b.service.registrations._seen.get("CL-STRANGER") is not None, 2)
        await b.service.live.writer.flush()
        await a.service.registrations.decide_unknown("CL-STRANGER", "rejected")
        await eventually(lambda: b.service.registrations._decisions.get("CL-STRANGER") == "rejected", 2)


def test_cluster_status_lists_nodes_and_their_chargers(db_url: str) -> None:
    async def run() -> tuple[int, str]:
        await make_fleet(db_url, ["CL-S"])
        async with node(db_url, "north") as north, online(north, "CL-S"):
            await eventually(lambda: cluster_status(db_url)[0].chargers == ["CL-S"], 2)
            code, out, _ = await ocpp_console("cluster", "status", "--db", db_url, env=dict(os.environ))
            return code, out

    code, out = asyncio.run(run())
    assert code == 0
    first, charger = out.splitlines()[:2]
    assert first.startswith("north  alive, heartbeat ") and "1 chargers" in first and charger.strip() == "CL-S"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def haproxy(tmp_path: Any, ocpp_ports: list[int], api_ports: list[int]) -> AsyncIterator[tuple[str, str]]:
    """deploy/haproxy.cfg, run by a real HAProxy on free loopback ports in front of the nodes: (OCPP URL, API URL)."""
    import shutil
    from pathlib import Path

    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if binary is None:
        pytest.skip("no haproxy (Debian's haproxy package; .ci/run installs it)")
    ocpp_port, api_port = free_port(), free_port()
    config = (Path(__file__).parent.parent / "deploy" / "haproxy.cfg").read_text()
    config = config.replace("bind *:9000", f"bind 127.0.0.1:{ocpp_port}").replace("bind *:8080", f"bind 127.0.0.1:{api_port}")
    for template, port in zip(("9101", "9102", "8101", "8102"), [*ocpp_ports, *api_ports], strict=True):
        config = config.replace(f"127.0.0.1:{template} ", f"127.0.0.1:{port} ")
    (tmp_path / "haproxy.cfg").write_text(config)
    process = await asyncio.create_subprocess_exec(
        binary, "-db", "-f", str(tmp_path / "haproxy.cfg"), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:

        async def listening() -> bool:
            if process.returncode is not None:
                assert process.stderr is not None
                raise AssertionError(f"haproxy exited: {(await process.stderr.read()).decode()}")
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", ocpp_port)
            except OSError:
                return False
            writer.close()
            return True

        await eventually(listening, 10)
        yield f"ws://127.0.0.1:{ocpp_port}", f"http://127.0.0.1:{api_port}"
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


async def test_chargers_through_haproxy_reach_a_node_and_are_driven_from_the_other(db_url: str, tmp_path: Any) -> None:
    """The README's depot: two nodes behind HAProxy (deploy/haproxy.cfg); chargers spread by identity, each
    operated from the node that does not hold it; the API through HAProxy answers."""
    import httpx

    identities = [f"CL-H{n}" for n in range(6)]
    ids = await make_fleet(db_url, identities)
    settings = {"api_port": 0}
    async with node(db_url, "n1", **settings) as n1, node(db_url, "n2", **settings) as n2:
        assert n1.api is not None and n2.api is not None
        async with haproxy(tmp_path, [n1.central.port, n2.central.port], [n1.api.port, n2.api.port]) as (ocpp, api):
            async with contextlib.AsyncExitStack() as stack:
                chargers = {}
                for identity in identities:
                    chargers[identity] = await stack.enter_async_context(charge_point(ocpp, identity, client=Counting16))
                    await chargers[identity].call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
                await eventually(lambda: sum(n.central.connected_count() for n in (n1, n2)) == len(identities), 5)
                # Spread by the path's hash: both nodes hold some (six identities on two nodes).
                assert n1.central.connected_count() and n2.central.connected_count()
                for identity in identities:
                    other = n2 if n1.central.is_connected(identity) else n1
                    await eventually(lambda identity=identity, other=other: other.service.ledger.is_connected(identity), 5)
                    result = await other.service.operate(ids[identity], "TriggerMessage", {"requestedMessage": "Heartbeat"})
                    assert result.state == "acknowledged", result
                    assert chargers[identity].received == ["TriggerMessage"]
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{api}/health")).status_code == 200


async def test_webhooks_deliver_each_event_once_from_the_node_that_holds_the_charger(db_url: str) -> None:
    """Node A shows node B's charger as B says it is, and delivers none of those events: B offers them, and
    one node (the holder of the webhooks lock) sends every delivery, once."""
    import json

    from console.api.webhooks import WEBHOOK_TYPES
    from console.core.fleet import FleetService
    from console.core.webhooks import Webhooks

    received: list[dict[str, Any]] = []

    async def receiver(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
                received.append(json.loads(await reader.readexactly(length)))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()

    server = await asyncio.start_server(receiver, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ids = await make_fleet(db_url, ["CL-W"])
    store = Store(db_url)
    try:
        store.run_sync(
            lambda s: Webhooks(ManualClockless(), WEBHOOK_TYPES).create(
                s, FleetService(store, ManualClockless()).ensure_org(s, "default").id, f"http://127.0.0.1:{port}/hook"
            )
        )
    finally:
        store.close()
    async with node(db_url, "a", api_port=0) as a, node(db_url, "b", api_port=0) as b:
        async with online(b, "CL-W") as charger:
            await eventually(lambda: a.service.live.view(ids["CL-W"]).is_connected, 2)
            await charger.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            await eventually(lambda: a.service.live.view(ids["CL-W"]).connectors[0].status == "Charging", 2)
        await eventually(lambda: any(body["data"].get("status") == "offline" for body in received if body["type"] == "charger"), 10)
        await asyncio.sleep(1.5)  # anything sent twice would be here by now
    server.close()
    assert received
    assert len({body["id"] for body in received}) == len(received)  # no delivery sent twice
    assert b.api is not None and a.api is not None
    node_b = b.api.app.state.events.ids.__self__
    updates = [body for body in received if body["type"] == "charger" and body["data"].get("id") == ids["CL-W"]]
    assert updates and all(node_b._end - node_b.BLOCK <= body["id"] < node_b._end for body in updates), updates


class ManualClockless:
    def now(self) -> Any:
        from datetime import UTC, datetime

        return datetime.now(UTC)


async def test_nodes_ride_out_a_postgresql_restart(db_url: str) -> None:
    """The server stops and starts again: both nodes come back (neither swept as dead), and a charger on one is
    operated from the other again."""
    from tests.test_postgres_restart import pg_ctl

    ids = await make_fleet(db_url, ["CL-R"])
    async with node(db_url, "a") as a, node(db_url, "b") as b, online(b, "CL-R") as charger:
        await eventually(lambda: holds(b, a, "CL-R"), 5)
        await asyncio.sleep(1.5)  # both nodes sweep by now
        await pg_ctl("stop", "-m", "fast")
        try:
            await asyncio.sleep(2)
        finally:
            await pg_ctl("start")

        async def operated() -> bool:
            result = await a.service.operate(ids["CL-R"], "TriggerMessage", {"requestedMessage": "Heartbeat"})
            return result.state == "acknowledged"

        await eventually(operated, 20)
        assert charger.received[-1] == "TriggerMessage"
        await asyncio.sleep(2)
        assert [view.name for view in cluster_status(db_url)] == ["a", "b"]
        assert [view.chargers for view in cluster_status(db_url)] == [[], ["CL-R"]]


async def test_a_command_scheduled_on_one_node_is_known_to_and_cancelled_from_the_other(db_url: str) -> None:
    ids = await make_fleet(db_url, ["CL-C"])
    charger_id = ids["CL-C"]
    async with node(db_url, "a") as a, node(db_url, "b") as b, online(b, "CL-C") as charger:
        await eventually(lambda: holds(b, a, "CL-C"), 5)
        action = await a.service.engine.submit(charger_id, "charge", {"powerLimit": 7}, "scheduled", a.clock.now() + timedelta(seconds=2))
        await eventually(lambda: action.id in b.service.engine._open, 2)
        assert b.service.engine.current_schedule(charger_id) is not None
        cancelled = await b.service.engine.cancel(action.id)
        assert cancelled.state == "cancelled"
        await eventually(lambda: action.id not in a.service.engine._open, 2)
        await asyncio.sleep(2.5)  # past its start: run by neither node
        assert charger.received == []
        state = a.store.run_sync(lambda s: s.execute(text("SELECT state FROM action WHERE id = :id"), {"id": action.id}).scalar())
        assert state == "cancelled"


def test_serve_is_a_cluster_node_only_when_asked_and_never_on_sqlite(tmp_path: Any) -> None:
    import socket

    from console.cli import _settings, build_parser

    base = ["serve", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--no-sim"]
    single = _settings(build_parser().parse_args(base))
    assert single.node_name is None
    assert _settings(build_parser().parse_args([*base, "--node-name", "n1"])).node_name == "n1"
    assert _settings(build_parser().parse_args([*base, "--cluster"])).node_name == f"{socket.gethostname()}-{os.getpid()}"
    # A single node has none of the cluster's machinery: nothing claimed, no ids from blocks, no hooks.
    depot = Depot(single)
    try:
        assert depot.cluster is None and depot.service.engine.claim is None and depot.pruner.leads is None
        assert depot.service.live.log_ids is None and depot.central.connection_listeners == []
        assert not depot.service.live.resume_on_connect and depot.service.power_cap.leads is None
    finally:
        depot.store.close()
    with pytest.raises(StoreOwned, match="a cluster needs PostgreSQL"):
        Depot(_settings(build_parser().parse_args([*base, "--node-name", "n1"])))
