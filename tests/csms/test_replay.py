"""Replays of what real chargers send on flaky links, as raw OCPP-J frames over a real WebSocket.

Each case checks the answer on the wire and what the store holds afterwards:
every kWh a charger reported is recorded exactly once, never negative, and
what had to be repaired says so.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import select
from websockets.asyncio.client import connect

from console.core.models import MeterSample, SignedMeterValue, Transaction
from console.core.service import ConsoleService
from console.csms.server import CentralSystem

T0 = "2026-04-02T09:15:00Z"  # the manual clock's time: the server's now
T1 = "2026-04-02T09:20:00Z"
T2 = "2026-04-02T09:25:00Z"
T3 = "2026-04-02T09:30:00Z"


class RawCharger:
    """A charger that speaks in frames: each CALL is sent as text and its answer read back as JSON."""

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket
        self._ids = itertools.count(1)

    async def send(self, action: str, payload: dict[str, Any], message_id: str | None = None) -> list[Any]:
        message_id = message_id or f"m{next(self._ids)}"
        await self.websocket.send(json.dumps([2, message_id, action, payload]))
        answer = json.loads(await self.websocket.recv())
        assert answer[1] == message_id, answer
        return answer


@contextlib.asynccontextmanager
async def raw_charger(central: CentralSystem, identity: str, subprotocol: str) -> AsyncIterator[RawCharger]:
    async with connect(f"{central.url}/{identity}", subprotocols=[subprotocol]) as websocket:
        yield RawCharger(websocket)


async def transactions(service: ConsoleService, charger_id: str) -> list[Transaction]:
    await service.writer.flush()
    return list(
        await service.store.run(
            lambda session: session.exec(
                select(Transaction).where(Transaction.charger_id == charger_id).order_by(Transaction.id)
            ).all()
        )
    )


def open_per_connector(rows: list[Transaction]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in rows:
        if row.stopped_at is None:
            counts[row.connector_id] = counts.get(row.connector_id, 0) + 1
    return counts


def energy_16(at: str, wh: float, phase: str | None = None, unit: str = "Wh") -> dict[str, Any]:
    sampled: dict[str, Any] = {"value": f"{wh:g}", "measurand": "Energy.Active.Import.Register", "unit": unit}
    if phase:
        sampled["phase"] = phase
    return {"timestamp": at, "sampledValue": [sampled]}


# -- OCPP 1.6J -------------------------------------------------------------------------


@pytest.fixture
async def charger16(service: ConsoleService) -> str:
    return (await service.create_charger({"identity": "RP-16", "number_of_connectors": 2})).id


async def booted16(central: CentralSystem, identity: str = "RP-16") -> AsyncIterator[RawCharger]:
    async with raw_charger(central, identity, "ocpp1.6") as charger:
        boot = await charger.send("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        assert boot[2]["status"] == "Accepted"
        yield charger


online16 = contextlib.asynccontextmanager(booted16)


async def test_a_stop_for_a_session_never_started_is_recorded_reconstructed(
    service: ConsoleService, central_system: CentralSystem, charger16: str
) -> None:
    stop = {
        "transactionId": 987654,
        "idTag": "FLEET-1",
        "meterStop": 1_014_000,
        "timestamp": T2,
        "reason": "Local",
        "transactionData": [energy_16(T0, 1_000_000), energy_16(T1, 1_007_000), energy_16(T2, 1_014_000)],
    }
    async with online16(central_system) as charger:
        answer = await charger.send("StopTransaction", stop)
        assert answer[0] == 3 and answer[2]["idTagInfo"]["status"] == "Accepted"
        again = await charger.send("StopTransaction", stop)  # its answer was lost: the same stop again
        assert again[0] == 3 and again[2] == answer[2]
    [row] = await transactions(service, charger16)
    assert (row.transaction_ref, row.reconstructed, row.start_known) == ("987654", True, True)
    assert (row.meter_start_wh, row.meter_stop_wh, row.energy_wh, row.id_tag) == (1_000_000, 1_014_000, 14_000, "FLEET-1")
    assert row.started_at.isoformat().startswith("2026-04-02T09:15:00") and row.stopped_at is not None
    samples = await service.store.run(
        lambda session: session.exec(select(MeterSample).where(MeterSample.transaction_id == row.id)).all()
    )
    assert len(samples) == 3  # stored once, not again with the repeated stop
    [view] = await service.list_transactions(charger16)
    assert view.energy_kwh == 14.0 and "reconstructed" in view.repairs


async def test_a_stop_with_no_readings_for_an_unknown_session_keeps_its_energy_unknown(
    service: ConsoleService, central_system: CentralSystem, charger16: str
) -> None:
    async with online16(central_system) as charger:
        answer = await charger.send("StopTransaction", {"transactionId": 55, "meterStop": 9000, "timestamp": T2})
        assert answer[0] == 3
    [row] = await transactions(service, charger16)
    assert (row.reconstructed, row.start_known, row.energy_wh, row.meter_stop_wh) == (True, False, None, 9000)


async def test_a_start_sent_twice_gets_the_same_transaction_id(
    service: ConsoleService, central_system: CentralSystem, charger16: str
) -> None:
    start = {"connectorId": 1, "idTag": "FLEET-1", "meterStart": 5000, "timestamp": T0}
    async with online16(central_system) as charger:
        first = await charger.send("StartTransaction", start)
        second = await charger.send("StartTransaction", start)
        assert first[2]["transactionId"] == second[2]["transactionId"]
        later = await charger.send("StartTransaction", {**start, "timestamp": T1, "meterStart": 5100})
        assert later[2]["transactionId"] != first[2]["transactionId"]
    rows = await transactions(service, charger16)
    assert len(rows) == 2 and open_per_connector(rows) == {1: 1}


async def test_a_start_on_a_connector_with_an_open_session_supersedes_it(
    service: ConsoleService, central_system: CentralSystem, charger16: str
) -> None:
    async with online16(central_system) as charger:
        first = (await charger.send("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 1000, "timestamp": T0}))[2]
        await charger.send("MeterValues", {"connectorId": 1, "transactionId": first["transactionId"], "meterValue": [energy_16(T1, 4000)]})
        other = await charger.send("StartTransaction", {"connectorId": 2, "idTag": "C", "meterStart": 0, "timestamp": T1})
        second = (await charger.send("StartTransaction", {"connectorId": 1, "idTag": "B", "meterStart": 4100, "timestamp": T2}))[2]
        assert second["transactionId"] != first["transactionId"] and other[0] == 3
        rows = {row.id: row for row in await transactions(service, charger16)}
        old = rows[first["transactionId"]]
        assert (old.stop_reason, old.closed_by, old.meter_stop_wh, old.energy_wh) == ("Superseded", "superseded", 4000, 3000)
        assert old.stopped_at is not None and old.stopped_at.isoformat().startswith("2026-04-02T09:25:00")
        assert open_per_connector(list(rows.values())) == {1: 1, 2: 1}
        # The charger's own stop, when it comes after all, wins over ours.
        await charger.send("StopTransaction", {"transactionId": first["transactionId"], "meterStop": 4050, "timestamp": T1, "reason": "EVDisconnected"})
    old = next(row for row in await transactions(service, charger16) if row.id == first["transactionId"])
    assert (old.stop_reason, old.closed_by, old.meter_stop_wh, old.energy_wh) == ("EVDisconnected", None, 4050, 3050)


async def test_a_meter_that_went_backwards_never_gives_negative_energy(
    service: ConsoleService, central_system: CentralSystem, charger16: str
) -> None:
    async with online16(central_system) as charger:
        swapped = (await charger.send("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 5000, "timestamp": T0}))[2]["transactionId"]
        for at, wh in ((T1, 5500), ("2026-04-02T09:21:00Z", 6000), ("2026-04-02T09:22:00Z", 200)):
            await charger.send("MeterValues", {"connectorId": 1, "transactionId": swapped, "meterValue": [energy_16(at, wh)]})
        await charger.send("StopTransaction", {"transactionId": swapped, "meterStop": 400, "timestamp": T2})
        bare = (await charger.send("StartTransaction", {"connectorId": 2, "idTag": "B", "meterStart": 9000, "timestamp": T0}))[2]["transactionId"]
        await charger.send("StopTransaction", {"transactionId": bare, "meterStop": 100, "timestamp": T2})
    rows = {row.id: row for row in await transactions(service, charger16)}
    assert rows[swapped].energy_wh == 1200  # 500 + 500 before the jump, 200 after it
    assert rows[swapped].meter_stop_wh == 400 and "backwards" in (rows[swapped].meter_anomaly or "")
    assert rows[bare].energy_wh is None and rows[bare].meter_anomaly  # nothing tells: unknown, not negative, not 0
    views = {view.id: view for view in await service.list_transactions(charger16)}
    assert views[swapped].energy_kwh == 1.2 and "meter" in views[swapped].repairs and views[bare].energy_kwh is None


async def test_per_phase_meters_are_summed_and_the_station_meter_is_kept_apart(
    service: ConsoleService, central_system: CentralSystem, charger16: str
) -> None:
    def phases(at: str, measurand: str, unit: str, values: tuple[float, float, float]) -> dict[str, Any]:
        return {
            "timestamp": at,
            "sampledValue": [
                {"value": f"{value:g}", "measurand": measurand, "unit": unit, "phase": phase}
                for phase, value in zip(("L1", "L2", "L3"), values)
            ],
        }

    async with online16(central_system) as charger:
        tx = (await charger.send("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 3000, "timestamp": T0}))[2]["transactionId"]
        await charger.send("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
            phases(T1, "Energy.Active.Import.Register", "Wh", (1500, 1500, 1500)),
            phases(T1, "Power.Active.Import", "W", (3700, 3700, 3700)),
        ]})
        # The station's main meter on connector 0 sees the same 11.1 kW.
        await charger.send("MeterValues", {"connectorId": 0, "meterValue": [
            {"timestamp": T1, "sampledValue": [{"value": "11100", "measurand": "Power.Active.Import", "unit": "W"},
                                               {"value": "250000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]},
        ]})
        view = await service.get_charger(charger16)
        assert (view.current_power_kw, view.session_energy_kwh) == (11.1, 1.5)
        assert (view.station_power_kw, view.station_energy_kwh) == (11.1, 250.0)
        await charger.send("StopTransaction", {"transactionId": tx, "meterStop": 4800, "timestamp": T2})
    [row] = await transactions(service, charger16)
    assert row.energy_wh == 1800


async def test_signed_meter_values_are_kept_verbatim_and_exported_with_the_session(
    service: ConsoleService, central_system: CentralSystem, charger16: str
) -> None:
    ocmf = 'OCMF|{"FV":"1.0","GI":"ABL","RD":[{"TM":"2026-04-02T09:20:00,000+0000 S","RV":1.5,"RI":"1-b:1.8.0","RU":"kWh"}]}|{"SD":"3045"}'
    async with online16(central_system) as charger:
        tx = (await charger.send("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": T0}))[2]["transactionId"]
        answer = await charger.send("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": T1, "sampledValue": [
            {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": ocmf, "format": "SignedData", "measurand": "Energy.Active.Import.Register", "context": "Sample.Periodic"},
        ]}]})
        assert answer[0] == 3
        await charger.send("StopTransaction", {"transactionId": tx, "meterStop": 3000, "timestamp": T2, "transactionData": [
            {"timestamp": T2, "sampledValue": [{"value": ocmf + "-end", "format": "SignedData", "context": "Transaction.End"}]},
        ]})
    await service.writer.flush()
    signed = await service.store.run(lambda session: session.exec(select(SignedMeterValue).order_by(SignedMeterValue.id)).all())
    assert [row.data for row in signed] == [ocmf, ocmf + "-end"] and {row.transaction_id for row in signed} == {tx}
    export = await service.export_transaction(charger16, tx)
    assert export["transaction"]["energy_kwh"] == 3.0
    assert [item["data"] for item in export["signed_meter_values"]] == [ocmf, ocmf + "-end"]
    assert [item["value"] for item in export["meter_values"]] == [1500.0]


async def test_times_decades_away_are_kept_but_ordered_by_arrival_and_the_clock_flagged(
    service: ConsoleService, central_system: CentralSystem, charger16: str
) -> None:
    async with online16(central_system) as charger:
        tx = (await charger.send("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "1970-01-01T00:00:10Z"}))[2]["transactionId"]
        await charger.send("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [energy_16("1970-01-01T00:05:00Z", 700)]})
        view = await service.get_charger(charger16)
        assert view.clock_offset_s is not None and view.clock_offset_s < -50 * 365 * 86400
        await charger.send("StopTransaction", {"transactionId": tx, "meterStop": 900, "timestamp": "2099-01-01T00:00:00Z"})
        await charger.send("Heartbeat", {})
        await charger.send("MeterValues", {"connectorId": 1, "meterValue": [energy_16(T0, 900)]})
        assert (await service.get_charger(charger16)).clock_offset_s is None  # right again
    [row] = await transactions(service, charger16)
    assert row.clock_skewed and row.charger_started_at is not None and row.charger_started_at.year == 1970
    assert row.started_at.year == 2026 and row.stopped_at is not None and row.stopped_at.year == 2026
    assert row.charger_stopped_at is not None and row.charger_stopped_at.year == 2099
    samples = await service.store.run(lambda session: session.exec(select(MeterSample).where(MeterSample.transaction_id == tx)).all())
    assert samples and all(sample.at.year == 2026 for sample in samples)


async def test_a_fresh_boot_closes_sessions_left_open_and_a_late_stop_still_wins(
    service: ConsoleService, central_system: CentralSystem, charger16: str
) -> None:
    async with online16(central_system) as charger:
        tx = (await charger.send("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 2000, "timestamp": T0}))[2]["transactionId"]
        await charger.send("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [energy_16(T1, 6000)]})
    async with online16(central_system) as charger:  # rebooted: a new connection, a new boot
        [row] = await transactions(service, charger16)
        assert (row.stop_reason, row.closed_by, row.meter_stop_wh, row.energy_wh) == ("Reboot", "reboot", 6000, 4000)
        assert open_per_connector([row]) == {}
        await charger.send("StopTransaction", {"transactionId": tx, "meterStop": 6500, "timestamp": T1, "reason": "PowerLoss"})
    [row] = await transactions(service, charger16)
    assert (row.stop_reason, row.closed_by, row.meter_stop_wh, row.energy_wh) == ("PowerLoss", None, 6500, 4500)


# -- OCPP 2.0.1 and 2.1 -------------------------------------------------------------------


def event(event_type: str, seq_no: int, at: str, transaction_id: str = "tx-1", **extra: Any) -> dict[str, Any]:
    info = {"transactionId": transaction_id}
    info.update(extra.pop("info", {}))
    payload = {
        "eventType": event_type,
        "timestamp": at,
        "triggerReason": "Authorized" if event_type == "Started" else "EVCommunicationLost" if event_type == "Ended" else "MeterValuePeriodic",
        "seqNo": seq_no,
        "transactionInfo": info,
        "evse": {"id": 1, "connectorId": 1},
    }
    payload.update(extra)
    return payload


def energy_201(at: str, wh: float, context: str = "Sample.Periodic", phase: str | None = None) -> dict[str, Any]:
    sampled: dict[str, Any] = {"value": wh, "measurand": "Energy.Active.Import.Register", "context": context, "unitOfMeasure": {"unit": "Wh"}}
    if phase:
        sampled["phase"] = phase
    return {"timestamp": at, "sampledValue": [sampled]}


@pytest.fixture(params=["ocpp2.0.1", "ocpp2.1"])
async def station(request: pytest.FixtureRequest, service: ConsoleService) -> tuple[str, str]:
    version = {"ocpp2.0.1": "OCPP2.0.1", "ocpp2.1": "OCPP2.1"}[request.param]
    charger = await service.create_charger({"identity": "RP-201", "ocpp_version": version})
    return charger.id, request.param


@contextlib.asynccontextmanager
async def online201(central: CentralSystem, subprotocol: str) -> AsyncIterator[RawCharger]:
    async with raw_charger(central, "RP-201", subprotocol) as charger:
        boot = await charger.send("BootNotification", {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"})
        assert boot[2]["status"] == "Accepted"
        yield charger


async def test_an_ended_event_sent_twice_changes_nothing(
    service: ConsoleService, central_system: CentralSystem, station: tuple[str, str]
) -> None:
    charger_id, subprotocol = station
    token = {"idToken": "TAG-1", "type": "ISO14443"}
    async with online201(central_system, subprotocol) as charger:
        await charger.send("TransactionEvent", event("Started", 0, T0, idToken=token, meterValue=[energy_201(T0, 1000, "Transaction.Begin")]))
        ended = event("Ended", 1, T1, idToken=token, info={"stoppedReason": "EVDisconnected"}, meterValue=[energy_201(T1, 8000, "Transaction.End")])
        first = await charger.send("TransactionEvent", ended)
        second = await charger.send("TransactionEvent", ended)
        assert first[0] == second[0] == 3 and first[2] == second[2]
    [row] = await transactions(service, charger_id)
    assert (row.energy_wh, row.stop_reason, row.seq_nos, row.incomplete) == (7000, "EVDisconnected", "0-1", False)


async def test_an_ended_event_whose_started_was_lost_is_recorded_incomplete(
    service: ConsoleService, central_system: CentralSystem, station: tuple[str, str]
) -> None:
    charger_id, subprotocol = station
    async with online201(central_system, subprotocol) as charger:
        only_end = await charger.send("TransactionEvent", event("Ended", 4, T1, "tx-end", meterValue=[energy_201(T1, 8000, "Transaction.End")]))
        bare = await charger.send("TransactionEvent", event("Ended", 2, T2, "tx-bare"))
        with_begin = await charger.send("TransactionEvent", event("Ended", 3, T3, "tx-begin", meterValue=[
            energy_201(T0, 2000, "Transaction.Begin"), energy_201(T3, 9000, "Transaction.End"),
        ]))
        assert only_end[0] == bare[0] == with_begin[0] == 3
    rows = {row.transaction_ref: row for row in await transactions(service, charger_id)}
    assert set(rows) == {"tx-end", "tx-bare", "tx-begin"} and all(row.incomplete and row.stopped_at for row in rows.values())
    assert (rows["tx-end"].energy_wh, rows["tx-end"].meter_stop_wh) == (None, 8000)  # unknown, not 0 kWh
    assert rows["tx-bare"].energy_wh is None
    assert (rows["tx-begin"].energy_wh, rows["tx-begin"].start_known) == (7000, True)


async def test_a_started_on_an_evse_with_an_open_transaction_supersedes_it_and_gaps_are_recorded(
    service: ConsoleService, central_system: CentralSystem, station: tuple[str, str]
) -> None:
    charger_id, subprotocol = station
    async with online201(central_system, subprotocol) as charger:
        await charger.send("TransactionEvent", event("Started", 0, T0, "tx-old", meterValue=[energy_201(T0, 100, "Transaction.Begin")]))
        await charger.send("TransactionEvent", event("Updated", 1, T1, "tx-old", meterValue=[energy_201(T1, 900)]))
        await charger.send("TransactionEvent", event("Started", 0, T2, "tx-new", meterValue=[energy_201(T2, 1000, "Transaction.Begin")]))
        await charger.send("TransactionEvent", event("Updated", 2, T2, "tx-new", meterValue=[energy_201(T2, 1500)]))
        await charger.send("TransactionEvent", event("Ended", 5, T3, "tx-new", meterValue=[energy_201(T3, 3000, "Transaction.End")]))
    rows = {row.transaction_ref: row for row in await transactions(service, charger_id)}
    assert (rows["tx-old"].closed_by, rows["tx-old"].energy_wh, rows["tx-old"].meter_stop_wh) == ("superseded", 800, 900)
    assert (rows["tx-new"].missing_seq_nos, rows["tx-new"].incomplete, rows["tx-new"].energy_wh) == ("1,3,4", True, 2000)
    assert open_per_connector(list(rows.values())) == {}
    views = {view.reference: view for view in await service.list_transactions(charger_id)}
    assert views["tx-new"].repairs == ("incomplete",) and views["tx-old"].repairs == ("superseded",)


async def test_a_station_metering_per_phase_and_signing_its_values(
    service: ConsoleService, central_system: CentralSystem, station: tuple[str, str]
) -> None:
    charger_id, subprotocol = station
    signed = {"signedMeterData": "AQIDBA==", "signingMethod": "ECDSA-secp256r1-SHA256", "encodingMethod": "OCMF", "publicKey": "BAUG"}

    def per_phase(at: str, context: str, total: float) -> dict[str, Any]:
        return {"timestamp": at, "sampledValue": [
            {"value": total / 3, "measurand": "Energy.Active.Import.Register", "phase": phase, "context": context,
             "unitOfMeasure": {"unit": "kWh", "multiplier": 0}}
            for phase in ("L1-N", "L2-N", "L3-N")
        ]}

    async with online201(central_system, subprotocol) as charger:
        await charger.send("TransactionEvent", event("Started", 0, T0, meterValue=[per_phase(T0, "Transaction.Begin", 30.0)]))
        end = per_phase(T1, "Transaction.End", 42.0)
        end["sampledValue"].append({"value": 42000, "measurand": "Energy.Active.Import.Register", "context": "Transaction.End",
                                    "signedMeterValue": signed})
        await charger.send("TransactionEvent", event("Ended", 1, T1, meterValue=[end]))
    [row] = await transactions(service, charger_id)
    assert row.energy_wh == pytest.approx(12_000)
    export = await service.export_transaction(charger_id, row.id)
    assert [item["data"] for item in export["signed_meter_values"]] == [signed]
    assert export["signed_meter_values"][0]["value"] == 42000


async def test_a_unit_in_lower_case_is_still_kilowatt_hours(
    service: ConsoleService, central_system: CentralSystem, station: tuple[str, str]
) -> None:
    charger_id, subprotocol = station

    def reading(at: str, context: str, kwh: float) -> dict[str, Any]:
        return {"timestamp": at, "sampledValue": [
            {"value": kwh, "measurand": "Energy.Active.Import.Register", "context": context, "unitOfMeasure": {"unit": "kwh"}},
        ]}

    async with online201(central_system, subprotocol) as charger:
        await charger.send("TransactionEvent", event("Started", 0, T0, meterValue=[reading(T0, "Transaction.Begin", 10.0)]))
        await charger.send("TransactionEvent", event("Ended", 1, T1, meterValue=[reading(T1, "Transaction.End", 12.5)]))
    [row] = await transactions(service, charger_id)
    assert (row.meter_start_wh, row.energy_wh) == (10_000, 2_500)
