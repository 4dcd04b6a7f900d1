"""Bad input on a live connection: each case gets the answer OCPP-J prescribes, and the depot keeps serving.

Every test keeps a well-behaved charger connected beside the bad one and ends
by having it boot, so a bad frame never costs anyone else their connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v16.enums import RegistrationStatus
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from console.core.service import ConsoleService
from console.core.views import ChargerView
from console.csms.server import CentralSystem
from ocpp_clients import charge_point, eventually, websocket_by_hand

VERSIONS = {"ocpp1.6": "OCPP1.6", "ocpp2.0.1": "OCPP2.0.1"}
HEARTBEAT = '[2,"hb-1","Heartbeat",{}]'


@pytest.fixture
async def good(service: ConsoleService, central_system: CentralSystem) -> AsyncIterator[Any]:
    """A well-behaved 1.6 charger, connected and booted before the bad input arrives."""
    await service.create_charger({"identity": "GOOD"})
    async with charge_point(central_system.url, "GOOD") as client:
        await served(client)
        yield client


async def served(client: Any) -> None:
    boot = await client.call(call16.BootNotification(charge_point_vendor="Alfen", charge_point_model="Eve Single"))
    assert boot.status == RegistrationStatus.accepted


@contextlib.asynccontextmanager
async def raw(
    service: ConsoleService, url: str, subprotocol: str, identity: str = "BAD", **options: Any
) -> AsyncIterator[ClientConnection]:
    """A registered charger spoken to by hand, frame by frame."""
    await service.create_charger({"identity": identity, "ocpp_version": VERSIONS[subprotocol]})
    async with connect(f"{url}/{identity}", subprotocols=[subprotocol], **options) as ws:  # type: ignore[list-item]
        yield ws


async def exchange(ws: ClientConnection, frame: str | bytes) -> list[Any]:
    await ws.send(frame)
    return json.loads(await asyncio.wait_for(ws.recv(), 2))


async def still_open(ws: ClientConnection) -> None:
    """The connection lives on: the next good CALL is answered."""
    answer = await exchange(ws, HEARTBEAT)
    assert answer[:2] == [3, "hb-1"] and "currentTime" in answer[2]


async def events(service: ConsoleService, identity: str = "BAD") -> list[str]:
    (charger,) = [view for view in await service.list_chargers() if view.identity == identity]
    return [entry.message for entry in await service.charger_logs(charger.id) if entry.direction == "event"]


# -- not an OCPP-J message at all --------------------------------------------------------


@pytest.mark.parametrize(
    ("subprotocol", "code"), [("ocpp1.6", "FormationViolation"), ("ocpp2.0.1", "RpcFrameworkError")]
)
async def test_text_that_is_not_json_gets_a_framing_callerror_with_id_minus_one(
    service: ConsoleService, central_system: CentralSystem, good: Any, subprotocol: str, code: str
) -> None:
    async with raw(service, central_system.url, subprotocol) as bad:
        answer = await exchange(bad, "hello, central system")
        assert answer[:3] == [4, "-1", code]
        assert len(answer) == 5 and isinstance(answer[3], str) and isinstance(answer[4], dict)
        await still_open(bad)
    assert any("not JSON" in line and code in line for line in await events(service))
    await served(good)


@pytest.mark.parametrize(
    ("subprotocol", "code"), [("ocpp1.6", "FormationViolation"), ("ocpp2.0.1", "RpcFrameworkError")]
)
@pytest.mark.parametrize(
    ("frame", "message_id"),
    [
        ('{"action": "Heartbeat"}', "-1"),  # JSON, but not an array
        ("[]", "-1"),
        ('[2, 17, "Heartbeat", {}]', "-1"),  # MessageId not a string: it cannot be read
        ('[2, "m-1", "Heartbeat"]', "m-1"),  # a CALL of three elements
        ('[2, "m-2", 5, {}]', "m-2"),  # action not a string
    ],
)
async def test_json_that_is_not_an_ocpp_message_gets_a_framing_callerror(
    service: ConsoleService, central_system: CentralSystem, good: Any, subprotocol: str, code: str, frame: str, message_id: str
) -> None:
    async with raw(service, central_system.url, subprotocol) as bad:
        assert (await exchange(bad, frame))[:3] == [4, message_id, code]
        await still_open(bad)
    assert any(code in line for line in await events(service))
    await served(good)


@pytest.mark.parametrize(
    ("subprotocol", "code"), [("ocpp1.6", "FormationViolation"), ("ocpp2.0.1", "MessageTypeNotSupported")]
)
async def test_an_unknown_message_type_gets_the_version_s_callerror(
    service: ConsoleService, central_system: CentralSystem, good: Any, subprotocol: str, code: str
) -> None:
    async with raw(service, central_system.url, subprotocol) as bad:
        assert (await exchange(bad, '[7, "m-7", "Heartbeat", {}]'))[:3] == [4, "m-7", code]
        await still_open(bad)
    assert any("unknown MessageTypeId 7" in line for line in await events(service))
    await served(good)


# -- a well-formed CALL the central system cannot take ----------------------------------


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("FlyToTheMoon", "NotImplemented"),  # in no OCPP version: "not known by receiver"
        ("Reset", "NotSupported"),  # a central-system-to-charger action: "recognized but not supported"
    ],
)
async def test_an_action_we_do_not_take_gets_notimplemented_or_notsupported(
    service: ConsoleService, central_system: CentralSystem, good: Any, subprotocol: str, action: str, code: str
) -> None:
    async with raw(service, central_system.url, subprotocol) as bad:
        answer = await exchange(bad, json.dumps([2, "m-3", action, {"type": "Hard"}]))
        assert answer[:3] == [4, "m-3", code]
        assert action in answer[4]["cause"]
        await still_open(bad)
    assert any(action in line and code in line for line in await events(service))
    await served(good)


async def test_an_action_of_another_version_is_not_supported(
    service: ConsoleService, central_system: CentralSystem, good: Any
) -> None:
    async with raw(service, central_system.url, "ocpp1.6") as bad:
        answer = await exchange(bad, '[2, "m-4", "TransactionEvent", {}]')
        assert answer[:3] == [4, "m-4", "NotSupported"]
        await still_open(bad)
    await served(good)


@pytest.mark.parametrize(
    ("subprotocol", "payload", "code"),
    [
        ("ocpp1.6", {"chargePointVendor": "Alfen"}, "ProtocolError"),  # a required field missing
        ("ocpp1.6", {"chargePointVendor": 7, "chargePointModel": "Eve"}, "TypeConstraintViolation"),
        ("ocpp1.6", {"chargePointVendor": "Alfen", "chargePointModel": "Eve", "colour": "red"}, "FormationViolation"),
        ("ocpp2.0.1", {"reason": "PowerUp", "chargingStation": {"vendorName": "Alfen"}}, "ProtocolError"),
        ("ocpp2.0.1", {"reason": "PowerUp", "chargingStation": {"vendorName": "Alfen", "model": 5}}, "TypeConstraintViolation"),
        ("ocpp2.0.1", {"reason": "PowerUp", "chargingStation": {"vendorName": "A", "model": "E"}, "x": 1}, "FormatViolation"),
    ],
)
async def test_a_payload_that_breaks_the_schema_gets_the_schema_error(
    service: ConsoleService, central_system: CentralSystem, good: Any, subprotocol: str, payload: dict, code: str
) -> None:
    async with raw(service, central_system.url, subprotocol) as bad:
        answer = await exchange(bad, json.dumps([2, "m-5", "BootNotification", payload]))
        assert answer[:3] == [4, "m-5", code]
        assert set(answer[4]) == {"cause"}  # the cause only: the offending message is not echoed back
        await still_open(bad)
    assert any("BootNotification refused" in line and code in line for line in await events(service))
    assert (await _view(service, "BAD")).provisioning != "accepted"  # the bad boot counted for nothing
    await served(good)


async def test_a_handler_that_fails_answers_internalerror_and_the_connection_lives_on(
    service: ConsoleService, central_system: CentralSystem, good: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = service.live
    heartbeat = live.heartbeat

    def failing(charger_id: str) -> None:
        if live.record(charger_id).identity == "BAD":
            raise RuntimeError("store on fire")
        heartbeat(charger_id)

    monkeypatch.setattr(live, "heartbeat", failing)
    async with raw(service, central_system.url, "ocpp1.6") as bad:
        answer = await exchange(bad, HEARTBEAT)
        assert answer[:3] == [4, "hb-1", "InternalError"]
        assert "store on fire" not in json.dumps(answer)  # internals stay inside
        answer = await exchange(bad, '[2, "b-1", "BootNotification", {"chargePointVendor": "A", "chargePointModel": "B"}]')
        assert answer[:2] == [3, "b-1"]
    assert any("Heartbeat failed on the central system (RuntimeError)" in line for line in await events(service))
    await served(good)
    await good.call(call16.Heartbeat())


# -- answers nobody asked for --------------------------------------------------------------


@pytest.mark.parametrize(
    "stray", ['[3, "nobody-asked", {"status": "Accepted"}]', '[4, "nobody-asked", "GenericError", "", {}]']
)
async def test_an_answer_to_an_unknown_id_is_logged_and_ignored(
    service: ConsoleService, central_system: CentralSystem, good: Any, stray: str
) -> None:
    async with raw(service, central_system.url, "ocpp1.6") as bad:
        await bad.send(stray)
        # No CALLERROR comes back: the first frame we get answers the next CALL.
        answer = await exchange(bad, HEARTBEAT)
        assert answer[:2] == [3, "hb-1"]
        # And the stray answer did not take the place of the answer to a real CALL of ours.
        outbound = asyncio.create_task(central_system.call("BAD", "Reset", {"type": "Soft"}))
        request = json.loads(await asyncio.wait_for(bad.recv(), 2))
        assert request[0] == 2 and request[2] == "Reset"
        await bad.send(json.dumps([3, request[1], {"status": "Accepted"}]))
        assert await asyncio.wait_for(outbound, 2) == {"status": "Accepted"}
    assert any("unknown message id 'nobody-asked'" in line for line in await events(service))
    await served(good)


async def test_a_charger_that_drops_with_a_call_outstanding_fails_the_call_at_once(service: ConsoleService) -> None:
    # A long call timeout: the call must end because the charger went, not because time ran out.
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=30)
    await central.start()
    try:
        async with raw(service, central.url, "ocpp1.6") as bad:
            outbound = asyncio.create_task(central.call("BAD", "Reset", {"type": "Soft"}))
            request = json.loads(await asyncio.wait_for(bad.recv(), 2))
            assert request[2] == "Reset"
            started = asyncio.get_running_loop().time()
        # The client is gone without answering.
        with pytest.raises(ConnectionError, match="the connection closed before BAD answered"):
            await asyncio.wait_for(outbound, 5)
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        await central.stop()


async def test_a_malformed_answer_is_logged_and_not_answered(
    service: ConsoleService, central_system: CentralSystem, good: Any
) -> None:
    async with raw(service, central_system.url, "ocpp2.0.1") as bad:
        await bad.send('[3, "x"]')
        assert (await exchange(bad, HEARTBEAT))[:2] == [3, "hb-1"]
    assert any("malformed CALLRESULT" in line for line in await events(service))
    await served(good)


# -- frames that end the connection -----------------------------------------------------


async def test_a_binary_frame_closes_the_connection_with_1003(
    service: ConsoleService, central_system: CentralSystem, good: Any
) -> None:
    async with raw(service, central_system.url, "ocpp1.6") as bad:
        await bad.send(HEARTBEAT.encode())
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(bad.recv(), 2)
        assert bad.close_code == 1003
    assert any("binary frame" in line and "1003" in line for line in await events(service))
    await eventually(lambda: _offline(service, "BAD"))
    await served(good)


async def test_an_oversized_frame_closes_with_1009_and_others_are_unaffected(service: ConsoleService) -> None:
    central = CentralSystem(service, port=0, max_frame_bytes=4096)
    await central.start()
    try:
        await service.create_charger({"identity": "GOOD"})
        async with charge_point(central.url, "GOOD") as good:
            async with raw(service, central.url, "ocpp1.6", max_size=None) as bad:
                big = json.dumps([2, "big-1", "DataTransfer", {"vendorId": "x", "data": "y" * 5000}])
                await bad.send(big)
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(bad.recv(), 2)
                assert bad.close_code == 1009
            # The server notes it once its side of the connection has ended.
            await eventually(lambda: _said(service, "BAD", "exceeds limit of 4096 bytes; connection closed with 1009"))
            await served(good)
    finally:
        await central.stop()


# -- connections: replacement, dead sockets, quality ---------------------------------------


async def _said(service: ConsoleService, identity: str, text: str) -> bool:
    return any(text in line for line in await events(service, identity))


async def _view(service: ConsoleService, identity: str) -> ChargerView:
    (view,) = [view for view in await service.list_chargers() if view.identity == identity]
    return view


async def _offline(service: ConsoleService, identity: str) -> bool:
    return not (await _view(service, identity)).is_connected


async def _online(service: ConsoleService, identity: str) -> bool:
    return (await _view(service, identity)).is_connected


async def test_a_reconnect_replaces_a_half_dead_socket_at_once(
    service: ConsoleService, central_system: CentralSystem, good: Any
) -> None:
    await service.create_charger({"identity": "FLAKY"})
    reader, writer = await websocket_by_hand(central_system.url, "FLAKY")  # then silent: never reads, so pings go unanswered
    try:
        await eventually(lambda: _online(service, "FLAKY"))
        async with charge_point(central_system.url, "FLAKY") as again:
            # No "already connected" lock-out, and no wait for the dead socket's close timeout.
            await asyncio.wait_for(served(again), 1)
            # The old socket is told to go: a close frame (opcode 8) is the next thing it gets.
            assert (await asyncio.wait_for(reader.read(1), 1))[0] & 0x0F == 0x8
            assert await _online(service, "FLAKY")
        assert any("replaces the previous one" in line for line in await events(service, "FLAKY"))
    finally:
        writer.close()
    await served(good)


async def test_a_second_connection_closes_the_first(service: ConsoleService, central_system: CentralSystem) -> None:
    await service.create_charger({"identity": "TWICE"})
    async with connect(f"{central_system.url}/TWICE", subprotocols=["ocpp1.6"]) as first:  # type: ignore[list-item]
        await eventually(lambda: _online(service, "TWICE"))
        async with charge_point(central_system.url, "TWICE") as second:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(first.recv(), 2)
            assert first.close_code == 1000
            await served(second)
            view = await _view(service, "TWICE")
            assert view.is_connected and view.reconnects == 1


async def test_a_dead_socket_is_found_by_ping(service: ConsoleService) -> None:
    central = CentralSystem(service, port=0, ping_interval=0.2, ping_timeout=0.2)
    await central.start()
    try:
        await service.create_charger({"identity": "GONE"})
        await service.create_charger({"identity": "GOOD"})
        async with charge_point(central.url, "GOOD") as good:
            _, writer = await websocket_by_hand(central.url, "GONE")
            try:
                await eventually(lambda: _online(service, "GONE"))
                await eventually(lambda: _offline(service, "GONE"), timeout=1.5)
            finally:
                writer.close()
            assert any("dead connection: keepalive ping timeout" in line for line in await events(service, "GONE"))
            # The good charger answers its pings and stays.
            assert await _online(service, "GOOD")
            await served(good)
    finally:
        await central.stop()


async def test_connection_quality_is_reported(service: ConsoleService) -> None:
    central = CentralSystem(service, port=0, ping_interval=0.1, ping_timeout=1)
    await central.start()
    try:
        charger = await service.create_charger({"identity": "Q-1"})
        async with charge_point(central.url, "Q-1"):
            await eventually(lambda: _online(service, "Q-1"))
        await eventually(lambda: _offline(service, "Q-1"))
        async with charge_point(central.url, "Q-1") as client:
            await served(client)
            await eventually(lambda: _rtt(service, charger.id))
            view = await service.get_charger(charger.id)
            assert view.reconnects == 1
            assert view.connected_since is not None and view.last_seen is not None
            assert 0 < view.ping_rtt_ms < 1000
        await eventually(lambda: _offline(service, "Q-1"))
        assert (await service.get_charger(charger.id)).ping_rtt_ms is None
    finally:
        await central.stop()


async def _rtt(service: ConsoleService, charger_id: str) -> bool:
    return (await service.get_charger(charger_id)).ping_rtt_ms is not None


async def test_an_answer_after_the_call_timed_out_is_ignored(service: ConsoleService) -> None:
    central = CentralSystem(service, port=0, call_timeout=0.2)
    await central.start()
    try:
        await service.create_charger({"identity": "GOOD"})
        async with charge_point(central.url, "GOOD") as good, raw(service, central.url, "ocpp2.0.1") as bad:
            with pytest.raises(TimeoutError):
                await central.call("BAD", "ClearCache", {})
            request = json.loads(await asyncio.wait_for(bad.recv(), 2))
            await bad.send(json.dumps([3, request[1], {"status": "Accepted"}]))
            # The late answer is not taken for the answer to the next CALL.
            outbound = asyncio.create_task(central.call("BAD", "ClearCache", {}))
            second = json.loads(await asyncio.wait_for(bad.recv(), 2))
            assert second[1] != request[1]
            await bad.send(json.dumps([3, second[1], {"status": "Rejected"}]))
            assert await asyncio.wait_for(outbound, 2) == {"status": "Rejected"}
            assert any(f"unknown message id {request[1]!r}" in line for line in await events(service))
            await served(good)
    finally:
        await central.stop()
