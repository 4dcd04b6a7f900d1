"""Operations from the central system to chargers, both OCPP versions, over loopback.

Each test connects a real `ocpp` ChargePoint client (answering like a conforming
charger) to a real CentralSystem, sends through the core API, and checks the
Action row that was persisted and the frames the client saw on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from sqlmodel import select
from websockets.asyncio.client import connect

from console.core.errors import Conflict, NotFound, Unavailable, ValidationFailed
from console.core.models import Action, LogEntry, Transaction
from console.core.operations import OperationRefused
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import charge_point, eventually

V16, V201 = "OCPP1.6", "OCPP2.0.1"
SUBPROTOCOL = {V16: "ocpp1.6", V201: "ocpp2.0.1"}
COMPONENT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
SCHEDULE_PERIODS = [{"startPeriod": 0, "limit": 16.0}]

# operation -> (request the console sends, answer of a conforming charger)
OPERATIONS_16: dict[str, tuple[dict[str, Any], Any]] = {
    "RemoteStartTransaction": ({"connectorId": 1, "idTag": "TAG-1"}, result16.RemoteStartTransaction(status="Accepted")),
    "RemoteStopTransaction": ({"transactionId": 7}, result16.RemoteStopTransaction(status="Accepted")),
    "Reset": ({"type": "Hard"}, result16.Reset(status="Accepted")),
    "ChangeAvailability": ({"connectorId": 1, "type": "Inoperative"}, result16.ChangeAvailability(status="Accepted")),
    "UnlockConnector": ({"connectorId": 1}, result16.UnlockConnector(status="Unlocked")),
    "GetConfiguration": (
        {"key": ["HeartbeatInterval", "Nope"]},
        result16.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "60"}], unknown_key=["Nope"]
        ),
    ),
    "ChangeConfiguration": ({"key": "HeartbeatInterval", "value": "120"}, result16.ChangeConfiguration(status="Accepted")),
    "ClearCache": ({}, result16.ClearCache(status="Accepted")),
    "TriggerMessage": (
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        result16.TriggerMessage(status="Accepted"),
    ),
    "SetChargingProfile": (
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": SCHEDULE_PERIODS},
            },
        },
        result16.SetChargingProfile(status="Accepted"),
    ),
    "ClearChargingProfile": ({"id": 1}, result16.ClearChargingProfile(status="Accepted")),
    "GetCompositeSchedule": (
        {"connectorId": 1, "duration": 3600, "chargingRateUnit": "A"},
        result16.GetCompositeSchedule(
            status="Accepted",
            connector_id=1,
            schedule_start="2026-04-02T09:15:00Z",
            charging_schedule={"charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 16.0}]},
        ),
    ),
    "DataTransfer": (
        {"vendorId": "com.example", "messageId": "ping", "data": "hello"},
        result16.DataTransfer(status="Accepted", data="pong"),
    ),
    "GetLocalListVersion": ({}, result16.GetLocalListVersion(list_version=3)),
    "SendLocalList": (
        {"listVersion": 4, "updateType": "Full", "localAuthorizationList": [{"idTag": "TAG-1", "idTagInfo": {"status": "Accepted"}}]},
        result16.SendLocalList(status="Accepted"),
    ),
    "ReserveNow": (
        {"connectorId": 1, "expiryDate": "2026-04-02T10:15:00Z", "idTag": "TAG-1", "reservationId": 5},
        result16.ReserveNow(status="Accepted"),
    ),
    "CancelReservation": ({"reservationId": 5}, result16.CancelReservation(status="Accepted")),
}

OPERATIONS_201: dict[str, tuple[dict[str, Any], Any]] = {
    "RequestStartTransaction": (
        {"idToken": {"idToken": "TAG-1", "type": "Central"}, "remoteStartId": 42, "evseId": 1},
        result201.RequestStartTransaction(status="Accepted", transaction_id="tx-1"),
    ),
    "RequestStopTransaction": ({"transactionId": "tx-1"}, result201.RequestStopTransaction(status="Accepted")),
    "Reset": ({"type": "Immediate"}, result201.Reset(status="Accepted")),
    "ChangeAvailability": (
        {"operationalStatus": "Inoperative", "evse": {"id": 1}},
        result201.ChangeAvailability(status="Accepted"),
    ),
    "UnlockConnector": ({"evseId": 1, "connectorId": 1}, result201.UnlockConnector(status="Unlocked")),
    "GetVariables": (
        {"getVariableData": [COMPONENT]},
        result201.GetVariables(
            get_variable_result=[{"attribute_status": "Accepted", "attribute_value": "60", **COMPONENT}]
        ),
    ),
    "SetVariables": (
        {"setVariableData": [{"attributeValue": "120", **COMPONENT}]},
        result201.SetVariables(set_variable_result=[{"attribute_status": "Accepted", **COMPONENT}]),
    ),
    "GetBaseReport": ({"requestId": 1, "reportBase": "FullInventory"}, result201.GetBaseReport(status="Accepted")),
    "ClearCache": ({}, result201.ClearCache(status="Accepted")),
    "TriggerMessage": ({"requestedMessage": "Heartbeat"}, result201.TriggerMessage(status="Accepted")),
    "SetChargingProfile": (
        {
            "evseId": 1,
            "chargingProfile": {
                "id": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [{"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": SCHEDULE_PERIODS}],
            },
        },
        result201.SetChargingProfile(status="Accepted"),
    ),
    "ClearChargingProfile": ({"chargingProfileId": 1}, result201.ClearChargingProfile(status="Accepted")),
    "GetCompositeSchedule": (
        {"duration": 3600, "evseId": 1, "chargingRateUnit": "A"},
        result201.GetCompositeSchedule(status="Accepted"),
    ),
    "DataTransfer": (
        {"vendorId": "com.example", "messageId": "ping", "data": "hello"},
        result201.DataTransfer(status="Accepted", data="pong"),
    ),
    "SendLocalList": (
        {
            "versionNumber": 4,
            "updateType": "Full",
            "localAuthorizationList": [{"idToken": {"idToken": "TAG-1", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}],
        },
        result201.SendLocalList(status="Accepted"),
    ),
    "ReserveNow": (
        {"id": 5, "expiryDateTime": "2026-04-02T10:15:00Z", "idToken": {"idToken": "TAG-1", "type": "ISO14443"}, "evseId": 1},
        result201.ReserveNow(status="Accepted"),
    ),
    "CancelReservation": ({"reservationId": 5}, result201.CancelReservation(status="Accepted")),
}

OPERATIONS = {V16: OPERATIONS_16, V201: OPERATIONS_201}
BASES = {V16: ChargePoint16, V201: ChargePoint201}


class Wire:
    """The client's WebSocket, noting the CALLs it receives and the answers it sends."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[Any] = []

    async def recv(self) -> str:
        text = await self.connection.recv()
        frame = json.loads(text)
        if frame[0] == 2:
            self.calls.append((frame[2], frame[3]))
        return text

    async def send(self, text: str) -> None:
        frame = json.loads(text)
        if frame[0] in (3, 4):
            self.answers.append(frame[2:] if frame[0] == 4 else frame[2])
        await self.connection.send(text)


def handler(operation: str, answer: Callable[..., Any], **options: Any) -> Any:
    """An @on handler built at run time (the ocpp package routes by the function's name)."""
    answer.__name__ = f"on_{operation}"
    return on(operation, **options)(answer)


def answering(answer: Any) -> Callable[..., Any]:
    async def answer_with(self: Any, **_: Any) -> Any:
        return answer

    return answer_with


def conforming(version: str, **overrides: Any) -> type:
    """A client class answering every operation of its version like a conforming charger."""
    answers = {operation: answer for operation, (_, answer) in OPERATIONS[version].items()} | overrides
    namespace: dict[str, Any] = {
        f"on_{operation}": handler(operation, answering(answer)) for operation, answer in answers.items()
    }

    def __init__(self: Any, identity: str, connection: Any, **options: Any) -> None:
        self.wire = Wire(connection)
        BASES[version].__init__(self, identity, self.wire, **options)

    namespace["__init__"] = __init__
    return type(f"Conforming{version}", (BASES[version],), namespace)


@contextlib.asynccontextmanager
async def connected(
    service: ConsoleService, central: CentralSystem, identity: str, version: str, client: type | None = None
) -> AsyncIterator[tuple[str, Any]]:
    """A charger record and a conforming client connected for it: (charger id, client)."""
    charger = await service.create_charger({"identity": identity, "ocpp_version": version})
    async with charge_point(central.url, identity, SUBPROTOCOL[version], client or conforming(version)) as cp:
        await eventually(lambda: central.is_connected(identity))
        yield charger.id, cp


async def stored(service: ConsoleService, action_id: str | None) -> Action:
    assert action_id is not None
    row = await service.store.run(lambda session: session.get(Action, action_id))
    assert row is not None
    return row


async def actions_of(service: ConsoleService, charger_id: str) -> list[Action]:
    return list(await service.store.run(lambda s: s.exec(select(Action).where(Action.charger_id == charger_id)).all()))


CASES = [
    pytest.param(version, operation, id=f"{version}-{operation}")
    for version, table in OPERATIONS.items()
    for operation in table
]


@pytest.mark.parametrize(("version", "operation"), CASES)
async def test_every_operation_is_sent_answered_and_recorded(
    service: ConsoleService, central_system: CentralSystem, version: str, operation: str
) -> None:
    request, _ = OPERATIONS[version][operation]
    async with connected(service, central_system, "CP-OP", version) as (charger_id, cp):
        result = await service.operate(charger_id, operation, request)
    assert cp.wire.calls == [(operation, request)]
    assert (result.state, result.reason) == ("acknowledged", None)
    row = await stored(service, result.action_id)
    assert (row.command, row.operation, row.state) == (operation, operation, "acknowledged")
    assert row.parameters == request
    assert row.result == cp.wire.answers[0] == result.answer
    assert row.sent_at is not None and row.answered_at is not None
    assert row.duration_ms is not None and 0 <= row.duration_ms < 2000
    view = await service.get_charger(charger_id)
    assert view.last_action is not None and (view.last_action.id, view.last_action.state) == (row.id, "acknowledged")


HELPERS: list[tuple[str, Callable[[ConsoleService, str], Any], dict[str, tuple[str, dict[str, Any]]]]] = [
    (
        "reset-soft",
        lambda s, c: s.reset(c),
        {V16: ("Reset", {"type": "Soft"}), V201: ("Reset", {"type": "OnIdle"})},
    ),
    (
        "reset-hard",
        lambda s, c: s.reset(c, hard=True),
        {V16: ("Reset", {"type": "Hard"}), V201: ("Reset", {"type": "Immediate"})},
    ),
    (
        "unlock",
        lambda s, c: s.unlock(c, 2),
        {V16: ("UnlockConnector", {"connectorId": 2}), V201: ("UnlockConnector", {"evseId": 2, "connectorId": 1})},
    ),
    (
        "unavailable-charger",
        lambda s, c: s.change_availability(c, 0, operative=False),
        {
            V16: ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}),
            V201: ("ChangeAvailability", {"operationalStatus": "Inoperative"}),
        },
    ),
    (
        "available-connector",
        lambda s, c: s.change_availability(c, 1, operative=True),
        {
            V16: ("ChangeAvailability", {"connectorId": 1, "type": "Operative"}),
            V201: ("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 1}}),
        },
    ),
    (
        "remote-start",
        lambda s, c: s.remote_start(c, 1, "TAG-9", remote_start_id=77),
        {
            V16: ("RemoteStartTransaction", {"idTag": "TAG-9", "connectorId": 1}),
            V201: (
                "RequestStartTransaction",
                {"idToken": {"idToken": "TAG-9", "type": "Central"}, "remoteStartId": 77, "evseId": 1},
            ),
        },
    ),
    (
        "trigger",
        lambda s, c: s.trigger(c, "StatusNotification", 1),
        {
            V16: ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}),
            V201: ("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}}),
        },
    ),
    (
        "get-configuration",
        lambda s, c: s.get_configuration(c, ["OCPPCommCtrlr.HeartbeatInterval"]),
        {
            V16: ("GetConfiguration", {"key": ["OCPPCommCtrlr.HeartbeatInterval"]}),
            V201: ("GetVariables", {"getVariableData": [COMPONENT]}),
        },
    ),
    (
        "set-configuration",
        lambda s, c: s.set_configuration(c, "OCPPCommCtrlr.HeartbeatInterval", "120"),
        {
            V16: ("ChangeConfiguration", {"key": "OCPPCommCtrlr.HeartbeatInterval", "value": "120"}),
            V201: ("SetVariables", {"setVariableData": [{"attributeValue": "120", **COMPONENT}]}),
        },
    ),
]


@pytest.mark.parametrize(
    ("version", "helper", "expected"),
    [
        pytest.param(version, helper, expected[version], id=f"{version}-{name}")
        for name, helper, expected in HELPERS
        for version in (V16, V201)
    ],
)
async def test_version_neutral_operations(
    service: ConsoleService,
    central_system: CentralSystem,
    version: str,
    helper: Callable[[ConsoleService, str], Any],
    expected: tuple[str, dict[str, Any]],
) -> None:
    async with connected(service, central_system, "CP-HELP", version) as (charger_id, cp):
        result = await helper(service, charger_id)
    assert cp.wire.calls == [expected]
    assert result.acknowledged
    row = await stored(service, result.action_id)
    assert (row.operation, row.parameters, row.state) == (*expected, "acknowledged")


async def test_get_configuration_of_everything_is_16_only(service: ConsoleService, central_system: CentralSystem) -> None:
    async with connected(service, central_system, "CP-ALL", V16) as (charger_id, cp):
        result = await service.get_configuration(charger_id)
    assert cp.wire.calls == [("GetConfiguration", {})]
    assert result.answer is not None and result.answer["configurationKey"][0]["key"] == "HeartbeatInterval"
    other = await service.create_charger({"identity": "CP-ALL-201", "ocpp_version": V201})
    with pytest.raises(ValidationFailed, match="Component.Variable"):
        await service.get_configuration(other.id)
    with pytest.raises(ValidationFailed, match="Component.Variable"):
        await service.set_configuration(other.id, "HeartbeatInterval", "60")


@pytest.mark.parametrize("version", [V16, V201])
async def test_remote_stop_sends_the_chargers_own_transaction_id(
    service: ConsoleService, central_system: CentralSystem, version: str
) -> None:
    async with connected(service, central_system, "CP-STOP", version) as (charger_id, cp):
        if version == V16:
            started = await cp.call(
                call16.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=0, timestamp="2026-04-02T09:15:00Z")
            )
            reference: Any = started.transaction_id
        else:
            reference = "tx-abc"
            await cp.call(
                call201.TransactionEvent(
                    event_type="Started",
                    timestamp="2026-04-02T09:15:00Z",
                    trigger_reason="Authorized",
                    seq_no=0,
                    transaction_info={"transaction_id": reference},
                    evse={"id": 1, "connector_id": 1},
                    id_token={"id_token": "TAG-1", "type": "ISO14443"},
                )
            )
        transaction = await service.store.run(
            lambda s: s.exec(select(Transaction).where(Transaction.charger_id == charger_id)).one()
        )
        result = await service.remote_stop(charger_id, transaction.id)
        operation = "RemoteStopTransaction" if version == V16 else "RequestStopTransaction"
        assert cp.wire.calls == [(operation, {"transactionId": reference})]
        assert result.acknowledged and result.command == "remote_stop"
        with pytest.raises(NotFound):
            await service.remote_stop(charger_id, transaction.id + 100)


async def test_remote_stop_of_a_finished_transaction_is_refused(service: ConsoleService, central_system: CentralSystem) -> None:
    async with connected(service, central_system, "CP-DONE", V16) as (charger_id, cp):
        started = await cp.call(
            call16.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=0, timestamp="2026-04-02T09:15:00Z")
        )
        await cp.call(
            call16.StopTransaction(meter_stop=10, timestamp="2026-04-02T09:20:00Z", transaction_id=started.transaction_id)
        )
        with pytest.raises(Conflict, match="already stopped"):
            await service.remote_stop(charger_id, started.transaction_id)
    assert cp.wire.calls == []


@pytest.mark.parametrize(("version", "sent"), [(V16, {"type": "Soft"}), (V201, {"type": "OnIdle"})])
async def test_restart_of_a_real_charger_is_a_reset(
    service: ConsoleService, central_system: CentralSystem, version: str, sent: dict[str, Any]
) -> None:
    async with connected(service, central_system, "CP-RST", version) as (charger_id, cp):
        outcome = await service.restart_charger(charger_id)
    assert outcome == "Reset accepted by CP-RST"
    assert cp.wire.calls == [("Reset", sent)]
    (row,) = await actions_of(service, charger_id)
    assert (row.command, row.operation, row.state) == ("restart", "Reset", "acknowledged")


# -- what goes wrong ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "operation", "request_", "answer", "status"),
    [
        (V16, "Reset", {"type": "Soft"}, result16.Reset(status="Rejected"), "Rejected"),
        (V16, "ChangeConfiguration", {"key": "X", "value": "1"}, result16.ChangeConfiguration(status="NotSupported"), "NotSupported"),
        (V201, "Reset", {"type": "OnIdle"}, result201.Reset(status="Rejected"), "Rejected"),
        (
            V201,
            "SetVariables",
            {"setVariableData": [{"attributeValue": "x", **COMPONENT}]},
            result201.SetVariables(set_variable_result=[{"attribute_status": "Rejected", **COMPONENT}]),
            "Rejected",
        ),
    ],
    ids=["16-reset", "16-change-configuration", "201-reset", "201-set-variables"],
)
async def test_a_refusal_is_recorded_as_rejected(
    service: ConsoleService, central_system: CentralSystem, version: str, operation: str, request_: dict[str, Any], answer: Any, status: str
) -> None:
    client = conforming(version, **{operation: answer})
    async with connected(service, central_system, "CP-NO", version, client) as (charger_id, cp):
        result = await service.operate(charger_id, operation, request_)
    assert (result.state, result.status) == ("rejected", status)
    row = await stored(service, result.action_id)
    assert row.state == "rejected" and row.result == cp.wire.answers[0]
    assert row.detail == f"{operation}: {status}"


async def test_a_callerror_answer_fails_the_action_with_its_code(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    # The plain ocpp client has no handler for Reset: it answers CALLERROR NotImplemented.
    async with connected(service, central_system, "CP-ERR", V16, ChargePoint16) as (charger_id, _):
        result = await service.operate(charger_id, "Reset", {"type": "Soft"})
        with pytest.raises(Unavailable, match="CALLERROR NotImplemented"):
            await service.restart_charger(charger_id)
    assert (result.state, result.reason) == ("failed", "call_error")
    row = await stored(service, result.action_id)
    assert row.reason == "call_error" and row.detail is not None and row.detail.startswith("CALLERROR NotImplemented")
    assert row.result is not None and row.result["errorCode"] == "NotImplemented"
    assert row.answered_at is not None and row.duration_ms is not None


async def test_an_answer_the_schema_refuses_fails_the_action(service: ConsoleService, central_system: CentralSystem) -> None:
    async def on_reset(self: Any, **_: Any) -> Any:
        return result16.Reset(status="Maybe")

    sloppy = type("Sloppy", (conforming(V16),), {"on_Reset": handler("Reset", on_reset, skip_schema_validation=True)})
    async with connected(service, central_system, "CP-SLOPPY", V16, sloppy) as (charger_id, _):
        result = await service.operate(charger_id, "Reset", {"type": "Soft"})
    assert (result.state, result.reason, result.answer) == ("failed", "invalid_answer", {"status": "Maybe"})
    assert result.detail == "invalid answer: status: 'Maybe' is not one of ['Accepted', 'Rejected']"


async def test_no_answer_within_the_timeout_fails_the_action(service: ConsoleService) -> None:
    central = CentralSystem(service, port=0, call_timeout=0.3)
    await central.start()
    try:
        charger = await service.create_charger({"identity": "CP-MUTE"})
        async with connect(f"{central.url}/CP-MUTE", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            await eventually(lambda: central.is_connected("CP-MUTE"))
            began = time.monotonic()
            result = await service.operate(charger.id, "ClearCache", {})
            elapsed = time.monotonic() - began
            frame = json.loads(await ws.recv())
    finally:
        await central.stop()
    assert frame[2] == "ClearCache"  # it was sent, and never answered
    assert (result.state, result.reason) == ("failed", "timeout")
    assert 0.3 <= elapsed < 1.0
    row = await stored(service, result.action_id)
    assert (row.state, row.reason, row.answered_at) == ("failed", "timeout", None)
    assert row.sent_at is not None and row.duration_ms is not None and row.duration_ms >= 300


async def test_a_charger_that_drops_the_connection_before_answering_is_offline(service: ConsoleService) -> None:
    # The call does not wait out its timeout: the closed connection ends it.
    central = CentralSystem(service, port=0, call_timeout=30)
    await central.start()
    try:
        charger = await service.create_charger({"identity": "CP-GONE"})
        async with connect(f"{central.url}/CP-GONE", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            await eventually(lambda: central.is_connected("CP-GONE"))
            pending = asyncio.ensure_future(service.operate(charger.id, "ClearCache", {}))
            await ws.recv()
        result = await asyncio.wait_for(pending, 5)
    finally:
        await central.stop()
    assert (result.state, result.reason) == ("failed", "offline")
    assert result.detail == "offline: the connection closed before CP-GONE answered"


async def test_an_offline_charger_fails_at_once_and_nothing_is_sent(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "CP-OFF", "ocpp_version": V201})
    began = time.monotonic()
    result = await service.operate(charger.id, "Reset", {"type": "Immediate"})
    assert time.monotonic() - began < 0.5
    assert (result.state, result.reason) == ("failed", "offline")
    assert result.detail == "offline: CP-OFF is not connected"
    row = await stored(service, result.action_id)
    assert (row.state, row.reason, row.sent_at, row.result) == ("failed", "offline", None, None)
    with pytest.raises(Unavailable, match="CP-OFF is offline"):
        await service.restart_charger(charger.id)
    await service.writer.flush()
    frames = await service.store.run(lambda s: s.exec(select(LogEntry).where(LogEntry.identity == "CP-OFF")).all())
    assert [frame for frame in frames if frame.direction == "out"] == []


@pytest.mark.parametrize(
    ("version", "operation", "request_", "problem"),
    [
        (V16, "Reset", {"type": "Sideways"}, "type: 'Sideways' is not one of ['Hard', 'Soft']"),
        (V16, "Reset", {"type": "Soft", "when": "now"}, "Additional properties are not allowed ('when' was unexpected)"),
        (V201, "RequestStartTransaction", {"idToken": {"idToken": "T", "type": "Central"}}, "'remoteStartId' is a required property"),
        (V201, "SetVariables", {"setVariableData": [{"attributeValue": 5, **COMPONENT}]}, "setVariableData.0.attributeValue: 5 is not of type 'string'"),
    ],
    ids=["16-enum", "16-extra-field", "201-missing-field", "201-wrong-type"],
)
async def test_a_request_the_schema_refuses_is_never_sent(
    service: ConsoleService, central_system: CentralSystem, version: str, operation: str, request_: dict[str, Any], problem: str
) -> None:
    async with connected(service, central_system, "CP-BAD", version) as (charger_id, cp):
        with pytest.raises(OperationRefused) as refused:
            await service.operate(charger_id, operation, request_)
        # The next good call is the first thing the charger hears.
        await service.operate(charger_id, "ClearCache", {})
    assert problem in str(refused.value)
    assert refused.value.problems["payload"].endswith(problem)
    assert cp.wire.calls == [("ClearCache", {})]
    failed = refused.value.result
    assert failed is not None and (failed.state, failed.reason) == ("failed", "invalid_request")
    row = await stored(service, failed.action_id)
    assert (row.state, row.reason, row.parameters, row.sent_at) == ("failed", "invalid_request", request_, None)


@pytest.mark.parametrize(
    ("version", "operation", "valid"),
    [(V16, "GetVariables", "GetConfiguration"), (V201, "RemoteStartTransaction", "RequestStartTransaction")],
)
async def test_an_operation_of_the_other_version_is_refused(
    service: ConsoleService, central_system: CentralSystem, version: str, operation: str, valid: str
) -> None:
    async with connected(service, central_system, "CP-VER", version) as (charger_id, cp):
        with pytest.raises(OperationRefused) as refused:
            await service.operate(charger_id, operation, {})
    message = str(refused.value)
    assert f"{operation!r} is not an {version} operation" in message and valid in message
    assert cp.wire.calls == []
    assert await actions_of(service, charger_id) == []


async def test_operate_many_runs_concurrently_and_one_failure_does_not_stop_the_others(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    heard: list[str] = []
    both_heard = asyncio.Event()

    def waiting(version: str) -> type:
        # Each charger answers only once both have heard the call: sequential sends would time out.
        async def on_clear_cache(self: Any, **_: Any) -> Any:
            heard.append(self.id)
            if len(heard) == 2:
                both_heard.set()
            await both_heard.wait()
            return (result16 if version == V16 else result201).ClearCache(status="Accepted")

        return type("Waiting", (conforming(version),), {"on_ClearCache": handler("ClearCache", on_clear_cache)})

    offline = await service.create_charger({"identity": "CP-C", "ocpp_version": V16})
    async with (
        connected(service, central_system, "CP-A", V16, waiting(V16)) as (first, _),
        connected(service, central_system, "CP-B", V201, waiting(V201)) as (second, _),
    ):
        results = await service.operate_many([first, offline.id, second], "ClearCache", {})
        resets = await service.many([second, "dep-missing"], lambda charger_id: service.reset(charger_id), "reset")
    assert sorted(heard) == ["CP-A", "CP-B"]
    assert [(r.identity, r.state, r.reason) for r in results] == [
        ("CP-A", "acknowledged", None),
        ("CP-C", "failed", "offline"),
        ("CP-B", "acknowledged", None),
    ]
    assert all(r.action_id for r in results)
    assert [(r.identity, r.state, r.reason) for r in resets] == [
        ("CP-B", "acknowledged", None),
        ("dep-missing", "failed", "not_found"),
    ]


async def test_one_outstanding_call_per_connection(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "CP-SEQ"})
    async with connect(f"{central_system.url}/CP-SEQ", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await eventually(lambda: central_system.is_connected("CP-SEQ"))
        both = asyncio.gather(
            service.operate(charger.id, "ClearCache", {}),
            service.operate(charger.id, "GetLocalListVersion", {}),
        )
        first = json.loads(await ws.recv())
        # The second CALL waits its turn: nothing more arrives while the first is unanswered.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)
        await ws.send(json.dumps([3, first[1], {"status": "Accepted"} if first[2] == "ClearCache" else {"listVersion": 1}]))
        second = json.loads(await ws.recv())
        assert {first[2], second[2]} == {"ClearCache", "GetLocalListVersion"}
        await asyncio.sleep(0.2)
        await ws.send(json.dumps([3, second[1], {"status": "Accepted"} if second[2] == "ClearCache" else {"listVersion": 1}]))
        results = await both
    assert [(r.operation, r.state) for r in results] == [("ClearCache", "acknowledged"), ("GetLocalListVersion", "acknowledged")]
    by_operation = {r.operation: r for r in results}
    # Both were handed over at once; the second waited for the first's answer, then took its own time
    # (0.3 s + 0.2 s). Its clock starts once its own action row is written, after the first's: a few ms
    # on a quiet machine, tens under load, so the bounds leave 50 ms for it.
    assert by_operation[second[2]].duration_ms >= 450 and 500 > by_operation[first[2]].duration_ms >= 300
    assert by_operation[second[2]].duration_ms >= by_operation[first[2]].duration_ms + 150
