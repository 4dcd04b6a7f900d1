"""`ocpp-console doctor`: the sessions the console had to repair, made by raw OCPP frames through the real
central system, listed per charger from the store alone; and `--clock-skew` reaching the live state."""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from console.cli import _settings, build_parser, main
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.depot import Depot

T0 = "2026-04-02T09:15:00Z"  # the manual clock's time: the server's now
T1 = "2026-04-02T09:20:00Z"
T2 = "2026-04-02T09:25:00Z"
T3 = "2026-04-02T09:30:00Z"


class RawCharger:
    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket
        self._ids = itertools.count(1)

    async def send(self, action: str, payload: dict[str, Any]) -> Any:
        message_id = f"m{next(self._ids)}"
        await self.websocket.send(json.dumps([2, message_id, action, payload]))
        answer = json.loads(await self.websocket.recv())
        assert answer[:2] == [3, message_id], answer
        return answer[2]


@contextlib.asynccontextmanager
async def online(central: CentralSystem, identity: str, subprotocol: str) -> AsyncIterator[RawCharger]:
    async with connect(f"{central.url}/{identity}", subprotocols=[subprotocol]) as websocket:
        charger = RawCharger(websocket)
        if subprotocol == "ocpp1.6":
            await charger.send("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        else:
            await charger.send("BootNotification", {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"})
        yield charger


@pytest.fixture
async def central_system(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


def energy_16(at: str, wh: float) -> dict[str, Any]:
    return {"timestamp": at, "sampledValue": [{"value": f"{wh:g}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}


def event(event_type: str, seq_no: int, at: str, reference: str, wh: float | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": at,
        "triggerReason": "Authorized" if event_type == "Started" else "EVCommunicationLost" if event_type == "Ended" else "MeterValuePeriodic",
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": reference},
        "evse": {"id": 1, "connectorId": 1},
    }
    if wh is not None:
        context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(event_type, "Sample.Periodic")
        payload["meterValue"] = [
            {"timestamp": at, "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register", "context": context}]}
        ]
    return payload


async def repaired_depot(service: ConsoleService, central: CentralSystem) -> None:
    """Three chargers with one of each repair among them, a clean session, and a fourth charger with none."""
    await service.create_charger({"identity": "DR-16", "number_of_connectors": 2})
    await service.create_charger({"identity": "DR-201", "ocpp_version": "OCPP2.0.1"})
    await service.create_charger({"identity": "DR-FINE"})
    await service.create_charger({"identity": "DR-CLOCK"})
    async with online(central, "DR-16", "ocpp1.6") as charger:
        start = {"connectorId": 1, "idTag": "A", "meterStart": 1_000, "timestamp": T0}
        superseded = (await charger.send("StartTransaction", start))["transactionId"]
        await charger.send("MeterValues", {"connectorId": 1, "transactionId": superseded, "meterValue": [energy_16(T0, 3_000)]})
        later = (await charger.send("StartTransaction", {**start, "meterStart": 3_000, "timestamp": T1}))["transactionId"]
        assert later != superseded
        # the meter went backwards (swapped): the session counts only its forward steps
        await charger.send("StopTransaction", {"transactionId": later, "meterStop": 500, "timestamp": T2, "reason": "Local"})
        await charger.send("StopTransaction", {
            "transactionId": 987654, "idTag": "FLEET-1", "meterStop": 1_014_000, "timestamp": T2, "reason": "Local",
            "transactionData": [energy_16(T0, 1_000_000), energy_16(T2, 1_014_000)],
        })
        clean = (await charger.send("StartTransaction", {**start, "connectorId": 2, "meterStart": 0}))["transactionId"]
        await charger.send("StopTransaction", {"transactionId": clean, "meterStop": 7_000, "timestamp": T1})
        await charger.send("StartTransaction", {**start, "connectorId": 2, "meterStart": 7_000, "timestamp": T3})
    async with online(central, "DR-16", "ocpp1.6"):
        pass  # booted afresh: the session left open on connector 2 is closed at the reboot
    async with online(central, "DR-CLOCK", "ocpp1.6") as lost_rtc:
        skewed = {"connectorId": 1, "idTag": "B", "meterStart": 0, "timestamp": "1970-01-01T00:00:10Z"}
        skewed_id = (await lost_rtc.send("StartTransaction", skewed))["transactionId"]
        await lost_rtc.send("StopTransaction", {"transactionId": skewed_id, "meterStop": 900, "timestamp": "1970-01-01T00:10:00Z"})
    async with online(central, "DR-201", "ocpp2.0.1") as station:
        await station.send("TransactionEvent", event("Ended", 3, T2, "tx-lost-start", wh=8_000))
        await station.send("TransactionEvent", event("Started", 0, T0, "tx-gaps", wh=1_000))
        await station.send("TransactionEvent", event("Updated", 2, T1, "tx-gaps", wh=2_000))
        await station.send("TransactionEvent", event("Ended", 4, T2, "tx-gaps", wh=3_000))
    async with online(central, "DR-FINE", "ocpp1.6") as fine:
        tx = (await fine.send("StartTransaction", {"connectorId": 1, "idTag": "C", "meterStart": 0, "timestamp": T0}))["transactionId"]
        await fine.send("StopTransaction", {"transactionId": tx, "meterStop": 5_000, "timestamp": T1})
    await service.writer.flush()


async def test_doctor_lists_each_repaired_session_per_charger(
    service: ConsoleService, central_system: CentralSystem, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await repaired_depot(service, central_system)
    assert main(["doctor", "--db", db_url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_identity = {entry["identity"]: entry for entry in report["chargers"]}
    assert list(by_identity) == ["DR-16", "DR-201", "DR-CLOCK"]  # the charger whose sessions went by the book is not listed
    dr16 = by_identity["DR-16"]
    assert dr16["clock_offset_s"] is None
    assert sorted(session["repairs"] for session in dr16["sessions"]) == [["meter"], ["reboot"], ["reconstructed"], ["superseded"]]
    wrong_clock = by_identity["DR-CLOCK"]
    assert wrong_clock["clock_offset_s"] is not None and wrong_clock["clock_offset_s"] < -50 * 365 * 86_400
    [skewed] = wrong_clock["sessions"]
    assert skewed["repairs"] == ["clock"] and skewed["charger_started_at"] == "1970-01-01T00:00:10Z"
    reconstructed = next(session for session in dr16["sessions"] if session["reference"] == "987654")
    # from its transactionData; its connector unknown on a charger of two
    assert (reconstructed["energy_kwh"], reconstructed["start_known"], reconstructed["connector_id"]) == (14.0, True, 0)
    station = {session["reference"]: session for session in by_identity["DR-201"]["sessions"]}
    assert station["tx-lost-start"]["repairs"] == ["reconstructed", "incomplete"]
    assert (station["tx-gaps"]["repairs"], station["tx-gaps"]["missing_seq_nos"]) == (["incomplete"], "1,3")
    assert station["tx-gaps"]["energy_kwh"] == 2.0
    total = report["total"]
    assert (total["sessions"], total["chargers"], total["clock_wrong_now"]) == (7, 3, 1)
    assert [total[word] for word in ("reconstructed", "superseded", "reboot", "incomplete", "meter", "clock")] == [2, 1, 1, 2, 1, 1]

    assert main(["doctor", "--db", db_url]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith("DR-16 (") and "clock" not in lines[0]
    assert any(line.startswith("DR-CLOCK (") and line.endswith("clock 56.3 years behind now") for line in lines)
    assert any("session 987654  connector 0  2026-04-02 09:15:00 → 2026-04-02 09:25:00  14.000 kWh  reconstructed" in line for line in lines)
    assert any("incomplete: seq 1,3" in line for line in lines)
    assert any("closed at reboot" in line for line in lines)
    assert any("meter went backwards" in line for line in lines)
    assert any("the charger's own times: 1970-01-01 00:00:10 → 1970-01-01 00:10:00" in line for line in lines)
    assert "DR-FINE" not in text
    assert lines[-1] == (
        "total: 7 sessions on 3 chargers needed repair (2 reconstructed, 1 superseded, 1 closed at reboot, "
        "2 incomplete, 1 meter, 1 clock), 18.900 kWh among them; chargers with a wrong clock now: 1"
    )


def test_doctor_on_a_store_with_nothing_repaired_runs_as_its_own_process(db_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "console", "doctor", "--db", db_url], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("total: 0 sessions on 0 chargers needed repair")


def test_clock_skew_in_hours_sets_the_live_states_allowed_skew(db_url: str) -> None:
    args = build_parser().parse_args(["serve", "--db", db_url, "--clock-skew", "1.5"])
    depot = Depot(_settings(args))
    try:
        assert depot.service.live.max_clock_skew_s == 5400
    finally:
        depot.store.close()
    assert _settings(build_parser().parse_args(["--db", db_url])).max_clock_skew_s == 86400
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--clock-skew", "0"])
