"""Tolerant mode: quirky firmware's transaction and meter messages, frame by frame over a real connection.

A strict charger (the default) gets today's CALLERROR for each deviation,
exactly; a tolerant one (its record, or the server's --tolerant) has the same
frames taken, stored, and each deviation kept as a protocol warning on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select
from websockets.asyncio.client import ClientConnection, connect

from console.api.server import ApiServer
from console.cli import build_parser
from console.core.errors import ImportRefused
from console.core.models import Charger, MeterSample, Transaction
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import eventually

T = "2026-04-01T08:00:00Z"
VERSIONS = {"ocpp1.6": "OCPP1.6", "ocpp2.0.1": "OCPP2.0.1"}
SYNTAX = "Payload for Action is syntactically incorrect or structure for Action"
TYPES = (
    "Payload for Action is syntactically correct but at least one of the fields violates data type constraints "
    "(e.g. \u201csomestring\u201d: 12)"
)
LONG_TAG = "A" * 21  # 1.6 idTag: at most 20
LONG_TOKEN = "B" * 37  # 2.0.1 idToken: at most 36

# Each deviation alone, and the CALLERROR a strict charger gets for it today: (code, description, cause).
DEVIATIONS: list[tuple[str, str, dict[str, Any], tuple[str, str, str]]] = [
    (
        "ocpp1.6", "StartTransaction",
        {"connectorId": 1, "idTag": "TAG-1", "meterStart": 1000, "timestamp": T, "vendorX": "1"},
        ("FormationViolation", SYNTAX, "Additional properties are not allowed ('vendorX' was unexpected)"),
    ),
    (
        "ocpp1.6", "StartTransaction",
        {"connectorId": 1, "idTag": LONG_TAG, "meterStart": 1000, "timestamp": T},
        ("TypeConstraintViolation", TYPES, f"'{LONG_TAG}' is too long"),
    ),
    (
        "ocpp1.6", "StopTransaction",
        {"transactionId": 1, "meterStop": 5000, "timestamp": T, "vendorX": 1},
        ("FormationViolation", SYNTAX, "Additional properties are not allowed ('vendorX' was unexpected)"),
    ),
    (
        "ocpp1.6", "MeterValues",
        {"connectorId": 1, "meterValue": [{"timestamp": T, "sampledValue": [{"value": 1234}]}]},
        ("TypeConstraintViolation", TYPES, "1234 is not of type 'string'"),
    ),
    (
        "ocpp1.6", "MeterValues",
        {"connectorId": 1, "meterValue": [{"timestamp": T, "sampledValue": [{"value": "1234", "unit": "wh"}]}]},
        # The package's cause for an enum quotes the payload and the schema: its start and its point are checked.
        ("FormationViolation", SYNTAX, "'wh' is not one of ['Wh', 'kWh',"),
    ),
    (
        "ocpp2.0.1", "TransactionEvent",
        {
            "eventType": "Started", "timestamp": T, "triggerReason": "Authorized", "seqNo": 0,
            "transactionInfo": {"transactionId": "TX-1"}, "evse": {"id": 1}, "vendorX": 1,
        },
        ("FormatViolation", SYNTAX, "Additional properties are not allowed ('vendorX' was unexpected)"),
    ),
    (
        "ocpp2.0.1", "TransactionEvent",
        {
            "eventType": "Started", "timestamp": T, "triggerReason": "Authorized", "seqNo": 0,
            "transactionInfo": {"transactionId": "TX-1"}, "evse": {"id": 1},
            "idToken": {"idToken": LONG_TOKEN, "type": "ISO14443"},
        },
        ("TypeConstraintViolation", TYPES, f"'{LONG_TOKEN}' is too long"),
    ),
    (
        "ocpp2.0.1", "MeterValues",
        {"evseId": 1, "meterValue": [{"timestamp": T, "sampledValue": [{"value": "1234"}]}]},
        ("TypeConstraintViolation", TYPES, "'1234' is not of type 'number'"),
    ),
]


@contextlib.asynccontextmanager
async def charger(
    service: ConsoleService, url: str, subprotocol: str, identity: str, **fields: Any
) -> AsyncIterator[ClientConnection]:
    """A registered charger spoken to by hand, frame by frame."""
    await service.create_charger({"identity": identity, "ocpp_version": VERSIONS[subprotocol], **fields})
    async with connect(f"{url}/{identity}", subprotocols=[subprotocol]) as ws:  # type: ignore[list-item]
        yield ws


async def call(ws: ClientConnection, message_id: str, action: str, payload: dict[str, Any]) -> list[Any]:
    await ws.send(json.dumps([2, message_id, action, payload]))
    return json.loads(await asyncio.wait_for(ws.recv(), 2))


def assert_refused(answer: list[Any], message_id: str, refusal: tuple[str, str, str]) -> None:
    code, description, cause = refusal
    assert answer[:4] == [4, message_id, code, description], answer
    assert set(answer[4]) == {"cause"}, answer
    if "is not one of" in cause:
        assert answer[4]["cause"].startswith("Payload '{'connectorId': 1, 'meterValue':") and cause in answer[4]["cause"]
    else:
        assert answer[4] == {"cause": cause}


def view_of(service: ConsoleService, identity: str) -> Any:
    charger_id = service.live.charger_id_for(identity)
    assert charger_id is not None
    return service.live.view(charger_id)


def warnings_of(service: ConsoleService, identity: str) -> dict[str, int]:
    return {warning.text: warning.count for warning in view_of(service, identity).protocol_warnings}


async def transactions_of(service: ConsoleService, identity: str) -> list[Transaction]:
    charger_id = service.live.charger_id_for(identity)
    return await service.store.run(
        lambda session: list(session.exec(select(Transaction).where(Transaction.charger_id == charger_id).order_by(Transaction.id)))
    )


async def samples_of(service: ConsoleService, identity: str) -> list[tuple[str, str | None, float, int | None]]:
    charger_id = service.live.charger_id_for(identity)
    rows = await service.store.run(
        lambda session: list(session.exec(select(MeterSample).where(MeterSample.charger_id == charger_id).order_by(MeterSample.id)))
    )
    return [(row.measurand, row.unit, row.value, row.transaction_id) for row in rows]


async def event_lines(service: ConsoleService, identity: str) -> list[str]:
    charger_id = service.live.charger_id_for(identity)
    assert charger_id is not None
    return [entry.message for entry in await service.charger_logs(charger_id) if entry.direction == "event"]


# -- strict mode: today's CALLERRORs, exactly ----------------------------------------------


@pytest.mark.parametrize(("subprotocol", "action", "payload", "refusal"), DEVIATIONS)
async def test_a_strict_charger_gets_today_s_callerror_for_each_deviation(
    service: ConsoleService, central_system: CentralSystem, subprotocol: str, action: str, payload: dict[str, Any], refusal: tuple[str, str, str]
) -> None:
    async with charger(service, central_system.url, subprotocol, "STRICT") as ws:
        assert_refused(await call(ws, "m-1", action, payload), "m-1", refusal)
    assert await transactions_of(service, "STRICT") == []
    assert view_of(service, "STRICT").protocol_warnings == ()
    assert not view_of(service, "STRICT").tolerant


@pytest.mark.parametrize(("subprotocol", "action", "payload", "refusal"), DEVIATIONS)
async def test_a_tolerant_charger_takes_each_deviation_alone(
    service: ConsoleService, central_system: CentralSystem, subprotocol: str, action: str, payload: dict[str, Any], refusal: tuple[str, str, str]
) -> None:
    async with charger(service, central_system.url, subprotocol, "QUIRKY", tolerant=True) as ws:
        answer = await call(ws, "m-1", action, payload)
        assert answer[:2] == [3, "m-1"], answer
    assert len(warnings_of(service, "QUIRKY")) == 1


# -- tolerant mode: taken, stored, warned ------------------------------------------------


async def test_a_tolerant_1_6_charger_s_quirky_session_is_stored_with_its_warnings(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    async with charger(service, central_system.url, "ocpp1.6", "QUIRKY", tolerant=True) as ws:
        started = await call(
            ws, "s-1", "StartTransaction",
            {"connectorId": 1, "idTag": LONG_TAG, "meterStart": 1000, "timestamp": T, "vendorX": "abc"},
        )
        assert started[:2] == [3, "s-1"] and started[2]["idTagInfo"] == {"status": "Accepted"}, started
        transaction_id = started[2]["transactionId"]
        metered = await call(
            ws, "m-1", "MeterValues",
            {
                "connectorId": 1, "transactionId": transaction_id,
                "meterValue": [{"timestamp": T, "sampledValue": [
                    {"value": 2500, "unit": "wh", "measurand": "Energy.Active.Import.Register"},
                    {"value": "7.4", "unit": "kw", "measurand": "power.active.import"},
                ]}],
            },
        )
        assert metered == [3, "m-1", {}]
        stopped = await call(
            ws, "t-1", "StopTransaction",
            {
                "transactionId": transaction_id, "meterStop": 5000, "timestamp": T, "reason": "local", "vendorX": 1,
                "transactionData": [{"timestamp": T, "sampledValue": [{"value": 5, "unit": "kwh"}]}],
            },
        )
        assert stopped == [3, "t-1", {"idTagInfo": {"status": "Accepted"}}]
    (stored,) = await transactions_of(service, "QUIRKY")
    assert (stored.id, stored.id_tag, stored.meter_start_wh, stored.meter_stop_wh) == (transaction_id, LONG_TAG, 1000, 5000)
    assert stored.stopped_at is not None and stored.stop_reason == "Local"
    expected_samples = [
        ("Energy.Active.Import.Register", "Wh", 2500.0, transaction_id),
        ("Power.Active.Import", "kW", 7.4, transaction_id),
        ("Energy.Active.Import.Register", "kWh", 5.0, transaction_id),
    ]

    async def samples_stored() -> bool:
        return await samples_of(service, "QUIRKY") == expected_samples

    await eventually(samples_stored, 5)
    assert warnings_of(service, "QUIRKY") == {
        "StartTransaction: idTag of 21 characters (at most 20)": 1,
        "StartTransaction: extra field vendorX dropped": 1,
        "MeterValues: value sent as a number, read as text": 1,
        "MeterValues: unit 'wh' read as 'Wh'": 1,
        "MeterValues: unit 'kw' read as 'kW'": 1,
        "MeterValues: measurand 'power.active.import' read as 'Power.Active.Import'": 1,
        "StopTransaction: reason 'local' read as 'Local'": 1,
        "StopTransaction: extra field vendorX dropped": 1,
        "StopTransaction: value sent as a number, read as text": 1,
        "StopTransaction: unit 'kwh' read as 'kWh'": 1,
    }
    # Newest first, and each kept in the charger's log as well.
    assert view_of(service, "QUIRKY").protocol_warnings[0].text.startswith("StopTransaction:")
    lines = await event_lines(service, "QUIRKY")
    assert "protocol warning: StartTransaction: extra field vendorX dropped" in lines
    assert not any("CALLERROR" in line for line in lines)


async def test_a_tolerant_2_0_1_charger_s_quirky_session_is_stored_with_its_warnings(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    async with charger(service, central_system.url, "ocpp2.0.1", "QUIRKY", tolerant=True) as ws:
        started = await call(
            ws, "s-1", "TransactionEvent",
            {
                "eventType": "Started", "timestamp": T, "triggerReason": "Authorized", "seqNo": 0,
                "transactionInfo": {"transactionId": "TX-1", "chargingState": "Charging"}, "evse": {"id": 1},
                "idToken": {"idToken": LONG_TOKEN, "type": "ISO14443"}, "vendorX": {"any": "thing"},
                "meterValue": [{"timestamp": T, "sampledValue": [{"value": "1000", "context": "Transaction.Begin"}]}],
            },
        )
        assert started == [3, "s-1", {"idTokenInfo": {"status": "Accepted"}}]
        metered = await call(
            ws, "m-1", "MeterValues",
            {"evseId": 1, "meterValue": [{"timestamp": T, "sampledValue": [{"value": "2500", "measurand": "energy.active.import.register"}]}]},
        )
        assert metered == [3, "m-1", {}]
        ended = await call(
            ws, "e-1", "TransactionEvent",
            {
                "eventType": "Ended", "timestamp": T, "triggerReason": "StopAuthorized", "seqNo": "1",
                "transactionInfo": {"transactionId": "TX-1", "stoppedReason": "Local", "vendorY": 2},
                "evse": {"id": 1},
                "meterValue": [{"timestamp": T, "sampledValue": [{"value": 4000, "context": "Transaction.End"}]}],
            },
        )
        assert ended == [3, "e-1", {}]
    (stored,) = await transactions_of(service, "QUIRKY")
    assert (stored.transaction_ref, stored.id_tag, stored.meter_start_wh, stored.meter_stop_wh) == ("TX-1", LONG_TOKEN, 1000, 4000)
    assert stored.stopped_at is not None and stored.stop_reason == "Local"

    async def samples_stored() -> bool:
        return [value for _, _, value, _ in await samples_of(service, "QUIRKY")] == [1000.0, 2500.0, 4000.0]

    await eventually(samples_stored, 5)
    assert warnings_of(service, "QUIRKY") == {
        "TransactionEvent: extra field vendorX dropped": 1,
        "TransactionEvent: idToken of 37 characters (at most 36)": 1,
        "TransactionEvent: value sent as text, read as a number": 1,
        "TransactionEvent: seqNo sent as text, read as a number": 1,
        "TransactionEvent: extra field transactionInfo.vendorY dropped": 1,
        "MeterValues: value sent as text, read as a number": 1,
        "MeterValues: measurand 'energy.active.import.register' read as 'Energy.Active.Import.Register'": 1,
    }


async def test_a_repeated_deviation_is_one_warning_counted(service: ConsoleService, central_system: CentralSystem) -> None:
    reading = {"connectorId": 1, "meterValue": [{"timestamp": T, "sampledValue": [{"value": 10}, {"value": 20}]}]}
    async with charger(service, central_system.url, "ocpp1.6", "QUIRKY", tolerant=True) as ws:
        for number in range(3):
            assert await call(ws, f"m-{number}", "MeterValues", reading) == [3, f"m-{number}", {}]
    (warning,) = view_of(service, "QUIRKY").protocol_warnings
    assert (warning.text, warning.count) == ("MeterValues: value sent as a number, read as text", 3)


async def test_what_tolerant_mode_cannot_read_gets_strict_mode_s_callerror(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    unreadable = {"connectorId": "one", "idTag": "TAG-1", "meterStart": 1000, "timestamp": T, "vendorX": 1}
    async with charger(service, central_system.url, "ocpp1.6", "STRICT") as strict:
        refused = await call(strict, "s-1", "StartTransaction", unreadable)
    async with charger(service, central_system.url, "ocpp1.6", "QUIRKY", tolerant=True) as quirky:
        assert await call(quirky, "s-1", "StartTransaction", unreadable) == refused
        # Other messages are never tolerated: an extra field in a BootNotification is refused as ever.
        boot = {"chargePointVendor": "Acme", "chargePointModel": "One", "vendorX": 1}
        assert (await call(quirky, "b-1", "BootNotification", boot))[:3] == [4, "b-1", "FormationViolation"]
    assert refused[:3] == [4, "s-1", "TypeConstraintViolation"]
    assert await transactions_of(service, "QUIRKY") == []
    assert view_of(service, "QUIRKY").protocol_warnings == ()


async def test_the_server_flag_makes_every_charger_tolerant(service: ConsoleService) -> None:
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2, tolerant=True)
    await central.start()
    try:
        async with charger(service, central.url, "ocpp1.6", "PLAIN") as ws:
            payload = {"connectorId": 1, "idTag": "TAG-1", "meterStart": 0, "timestamp": T, "vendorX": 1}
            assert (await call(ws, "s-1", "StartTransaction", payload))[:2] == [3, "s-1"]
    finally:
        await central.stop()
    assert not view_of(service, "PLAIN").tolerant  # its own setting is unchanged
    assert warnings_of(service, "PLAIN") == {"StartTransaction: extra field vendorX dropped": 1}
    assert len(await transactions_of(service, "PLAIN")) == 1
    assert build_parser().parse_args(["serve", "--tolerant"]).tolerant
    assert not build_parser().parse_args(["--no-sim"]).tolerant


async def test_tolerant_is_set_and_cleared_on_the_record_as_it_serves(service: ConsoleService, central_system: CentralSystem) -> None:
    payload = {"connectorId": 1, "idTag": "TAG-1", "meterStart": 0, "timestamp": T, "vendorX": 1}
    async with charger(service, central_system.url, "ocpp1.6", "SWITCH") as ws:
        assert (await call(ws, "s-1", "StartTransaction", payload))[0] == 4
        view = await service.update_charger(view_of(service, "SWITCH").id, {"tolerant": True})
        assert view.tolerant
        assert (await call(ws, "s-2", "StartTransaction", payload))[0] == 3
        await service.update_charger(view.id, {"tolerant": False})
        assert (await call(ws, "s-3", "StartTransaction", payload))[0] == 4


# -- the setting in the fleet file and the API ---------------------------------------------


async def test_the_fleet_file_round_trips_the_setting(service: ConsoleService) -> None:
    fleet = {
        "locations": [],
        "chargers": [
            {"id": "dep-q1", "identity": "Q-1", "tolerant": True},
            {"id": "dep-q2", "identity": "Q-2"},
            {"id": "dep-q3", "identity": "Q-3", "tolerant": False},
        ],
    }
    await service.store.run(lambda session: service.fleet.import_fleet(session, fleet))
    exported = await service.store.run(service.fleet.export_fleet)
    by_identity = {item["identity"]: item for item in exported["chargers"]}
    # Listed only where it is on: a file of strict chargers reads as it did before the setting.
    assert by_identity["Q-1"]["tolerant"] is True
    assert "tolerant" not in by_identity["Q-2"] and "tolerant" not in by_identity["Q-3"]
    stored = await service.store.run(service.fleet.chargers)
    assert [(charger.identity, charger.tolerant) for charger in stored] == [("Q-1", True), ("Q-2", False), ("Q-3", False)]
    with pytest.raises(ImportRefused) as refused:
        await service.store.run(
            lambda session: service.fleet.import_fleet(session, {"chargers": [{"identity": "Q-4", "tolerant": "maybe"}]})
        )
    assert ("charger Q-4", "tolerant", "must be true or false") in refused.value.problems


async def test_the_api_sets_the_setting_and_reads_the_warnings(service: ConsoleService) -> None:
    _, key = await service.create_api_key("default")
    bearer = {"Authorization": f"Bearer {key}"}
    server = ApiServer(service, port=0, environment="test", heartbeat_s=0.2)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            created = await client.post("/ocpp/chargers", headers=bearer, json={"identity": "Q-API", "tolerant": True})
            assert created.status_code == 201, created.text
            charger_id = created.json()["id"]
            assert "tolerant" not in created.json()  # the seed's charger object, as ever
            assert (await service.store.run(lambda session: session.get(Charger, charger_id))).tolerant
            service.live.protocol_warning(charger_id, "StartTransaction: extra field vendorX dropped")
            service.live.protocol_warning(charger_id, "StartTransaction: extra field vendorX dropped")
            state = (await client.get(f"/ocpp/chargers/{charger_id}/provisioning", headers=bearer)).json()
            assert state["tolerant"] is True
            (warning,) = state["protocol_warnings"]
            assert warning["text"] == "StartTransaction: extra field vendorX dropped" and warning["count"] == 2
            assert warning["first_at"].endswith("Z") and warning["last_at"].endswith("Z")
            full = (await client.get(f"/console/chargers/{charger_id}", headers=bearer)).json()
            assert full["tolerant"] is True and full["protocol_warnings"] == state["protocol_warnings"]
            updated = await client.put(f"/ocpp/chargers/{charger_id}", headers=bearer, json={"tolerant": False})
            assert updated.status_code == 200, updated.text
            assert not service.live.record(charger_id).tolerant  # type: ignore[union-attr]
            refused = await client.put(f"/ocpp/chargers/{charger_id}", headers=bearer, json={"tolerant": "maybe"})
            assert refused.status_code == 422
            assert [item["field"] for item in refused.json()["error"]["details"]] == ["tolerant"]
    finally:
        await server.stop()
