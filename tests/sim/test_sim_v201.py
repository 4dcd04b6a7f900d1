"""OCPP 2.0.1 simulated chargers against the real central system over loopback, on a manual clock."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from console.core.clock import ManualClock
from console.core.events import LogAppended
from console.core.models import MeterSample, Transaction
from console.core.service import ConsoleService
from console.core.store import Store
from console.csms.server import CentralSystem
from console.sim.manager import SimManager
from simtools import eventually, online_charger, rows, run_clock, settle, status_of

V201 = "OCPP2.0.1"


def frames_in(logs: list, action: str) -> list:
    return [entry for entry in logs if entry.direction == "in" and entry.action == action]


async def test_a_201_charger_boots_and_reports_each_evse(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem
) -> None:
    charger_id = await online_charger(service, manager, version=V201)

    view = await service.get_charger(charger_id)
    assert view.is_connected and view.runtime == "online"
    assert [(c.connector_id, c.status) for c in view.connectors if c.connector_id > 0] == [(1, "Available"), (2, "Available")]
    logs = await service.charger_logs(charger_id)
    (boot,) = frames_in(logs, "BootNotification")
    assert '"reason":"PowerUp"' in boot.message and '"chargingStation"' in boot.message
    assert len(frames_in(logs, "StatusNotification")) == 2  # one per EVSE, none for "connector 0"


async def test_a_201_remote_start_runs_a_transaction_with_events(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager, version=V201)

    answer = await central_system.call(
        "CP-1", "RequestStartTransaction", {"idToken": {"idToken": "TAG1", "type": "ISO14443"}, "remoteStartId": 7, "evseId": 1}
    )
    assert answer["status"] == "Accepted"
    await settle(manager)
    await run_clock(clock, manager, 30)

    (transaction,) = await rows(service, select(Transaction))
    assert uuid.UUID(transaction.transaction_ref).version == 4
    assert transaction.connector_id == 1 and transaction.id_tag == "TAG1"
    assert await status_of(service, charger_id, 1) in ("Occupied", "Charging")
    logs = await service.charger_logs(charger_id)
    events = frames_in(logs, "TransactionEvent")
    assert '"eventType":"Started"' in events[0].message and '"remoteStartId":7' in events[0].message
    assert '"seqNo":0' in events[0].message and '"seqNo":1' in events[1].message
    assert any('"chargingState":"Charging"' in e.message for e in events)
    samples = await rows(service, select(MeterSample).where(MeterSample.measurand == "Power.Active.Import"))
    assert len(samples) == 3 and all(s.value > 0 for s in samples)

    assert (await central_system.call("CP-1", "RequestStopTransaction", {"transactionId": "nope"}))["status"] == "Rejected"
    stop = await central_system.call("CP-1", "RequestStopTransaction", {"transactionId": transaction.transaction_ref})
    assert stop["status"] == "Accepted"
    await settle(manager)
    (transaction,) = await rows(service, select(Transaction))
    assert transaction.stop_reason == "Remote" and transaction.meter_stop_wh is not None
    ended = frames_in(await service.charger_logs(charger_id), "TransactionEvent")[-1]
    assert '"eventType":"Ended"' in ended.message and '"triggerReason":"RemoteStop"' in ended.message
    await run_clock(clock, manager, 20)
    assert await status_of(service, charger_id, 1) == "Available"


async def test_the_201_device_model_is_readable_and_writable(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager, version=V201)
    call = central_system.call

    def item(component: str, variable: str, **more: str) -> dict:
        return {"component": {"name": component}, "variable": {"name": variable}, **more}

    got = await call(
        "CP-1",
        "GetVariables",
        {"getVariableData": [item("OCPPCommCtrlr", "HeartbeatInterval"), item("Nope", "X"), item("AuthCtrlr", "Nope")]},
    )
    assert [(r["attributeStatus"], r.get("attributeValue")) for r in got["getVariableResult"]] == [
        ("Accepted", "60"),
        ("UnknownComponent", None),
        ("UnknownVariable", None),
    ]
    changes = [
        item("SampledDataCtrlr", "TxUpdatedInterval", attributeValue="5"),
        item("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="soon"),
        item("TxCtrlr", "StopTxOnEVSideDisconnect", attributeValue="false"),
        item("AuthCtrlr", "AuthorizeRemoteStart", attributeValue="TRUE"),
    ]
    answer = await call("CP-1", "SetVariables", {"setVariableData": changes})
    assert [r["attributeStatus"] for r in answer["setVariableResult"]] == ["Accepted", "Rejected", "Rejected", "Accepted"]

    assert await call("CP-1", "GetBaseReport", {"requestId": 3, "reportBase": "FullInventory"}) == {"status": "Accepted"}
    await settle(manager)
    (report,) = frames_in(await service.charger_logs(charger_id), "NotifyReport")
    assert '"requestId":3' in report.message and '"TxUpdatedInterval"' in report.message

    assert await call("CP-1", "ClearCache", {}) == {"status": "Accepted"}
    assert (await call("CP-1", "DataTransfer", {"vendorId": "acme"}))["status"] == "UnknownVendorId"
    assert (await call("CP-1", "TriggerMessage", {"requestedMessage": "Heartbeat"}))["status"] == "Accepted"
    assert (await call("CP-1", "TriggerMessage", {"requestedMessage": "LogStatusNotification"}))["status"] == "NotImplemented"
    assert (await call("CP-1", "UnlockConnector", {"evseId": 1, "connectorId": 1}))["status"] == "Unlocked"
    assert (await call("CP-1", "UnlockConnector", {"evseId": 9, "connectorId": 1}))["status"] == "UnknownConnector"

    # AuthorizeRemoteStart is now true: the remote start is authorized first.
    await call("CP-1", "RequestStartTransaction", {"idToken": {"idToken": "T2", "type": "ISO14443"}, "remoteStartId": 1})
    await settle(manager)
    assert frames_in(await service.charger_logs(charger_id), "Authorize")
    unlock = await call("CP-1", "UnlockConnector", {"evseId": 1, "connectorId": 1})
    assert unlock["status"] == "OngoingAuthorizedTransaction"
    await run_clock(clock, manager, 10)
    updates = [e for e in frames_in(await service.charger_logs(charger_id), "TransactionEvent") if "MeterValuePeriodic" in e.message]
    assert len(updates) == 2  # every 5 s now

    availability = await call("CP-1", "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}})
    assert availability["status"] == "Accepted"
    await settle(manager)
    assert await status_of(service, charger_id, 2) == "Unavailable"
    assert (await call("CP-1", "Reset", {"type": "OnIdle"}))["status"] == "Scheduled"


async def test_a_201_immediate_reset_ends_the_transaction_and_boots_again(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem
) -> None:
    charger_id = await online_charger(service, manager, version=V201)
    await central_system.call(
        "CP-1", "RequestStartTransaction", {"idToken": {"idToken": "T", "type": "ISO14443"}, "remoteStartId": 1}
    )
    await settle(manager)
    assert (await central_system.call("CP-1", "Reset", {"type": "Immediate"}))["status"] == "Accepted"

    async def booted_twice() -> bool:
        boots = frames_in(await service.charger_logs(charger_id), "BootNotification")
        return len(boots) == 2 and manager.state(charger_id)[0] == "online"

    await eventually(booted_twice)
    await settle(manager)
    boots = frames_in(await service.charger_logs(charger_id), "BootNotification")
    assert '"reason":"RemoteReset"' in boots[1].message
    (transaction,) = await rows(service, select(Transaction))
    assert transaction.stop_reason == "ImmediateReset" and transaction.stopped_at is not None


async def test_local_list_and_reservations_201(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager, version=V201)
    call = central_system.call
    entry = {"idToken": {"idToken": "LOCAL1", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}
    sent = await call("CP-1", "SendLocalList", {"versionNumber": 2, "updateType": "Full", "localAuthorizationList": [entry]})
    assert sent["status"] == "Accepted"
    assert (await call("CP-1", "GetLocalListVersion", {}))["versionNumber"] == 2
    stale = await call("CP-1", "SendLocalList", {"versionNumber": 1, "updateType": "Differential"})
    assert stale["status"] == "VersionMismatch"

    expiry = (clock.now() + timedelta(seconds=60)).isoformat().replace("+00:00", "Z")
    reserve = {"id": 5, "expiryDateTime": expiry, "idToken": {"idToken": "R", "type": "ISO14443"}, "evseId": 1}
    assert (await call("CP-1", "ReserveNow", reserve))["status"] == "Accepted"
    await settle(manager)
    assert await status_of(service, charger_id, 1) == "Reserved"
    assert (await call("CP-1", "CancelReservation", {"reservationId": 99}))["status"] == "Rejected"
    assert (await call("CP-1", "ReserveNow", {**reserve, "id": 6}))["status"] == "Occupied"
    await run_clock(clock, manager, 61, step=10)
    assert await status_of(service, charger_id, 1) == "Available"
    assert frames_in(await service.charger_logs(charger_id), "ReservationStatusUpdate")


async def test_the_same_seed_gives_the_same_201_frames(tmp_path: Path) -> None:
    async def one_run(name: str) -> list[tuple[str, str | None, str]]:
        clock = ManualClock()
        service = ConsoleService(Store(f"sqlite:///{tmp_path / name}"), clock=clock, flush_interval=0.05)
        await service.open()
        central = CentralSystem(service, port=0)
        await central.start()
        manager = SimManager(service.live, clock, central.url, seed=42)
        subscription = service.subscribe()
        try:
            view = await service.create_charger(
                {"identity": "CP-7", "simulated": True, "number_of_connectors": 2, "ocpp_version": V201}
            )
            await manager.start(view.id)
            await eventually(lambda: manager.state(view.id)[0] == "online")
            await settle(manager)
            await run_clock(clock, manager, 240, step=2)
            frames = [
                (event.entry.direction, event.entry.action, event.entry.message)
                for event in subscription.drain()
                if isinstance(event, LogAppended) and event.entry.direction in ("in", "out")
            ]
        finally:
            subscription.close()
            await manager.close()
            await central.stop()
            await service.close()
            service.store.close()
        return frames

    first, second = await one_run("a.db"), await one_run("b.db")
    assert {"TransactionEvent", "Authorize"} <= {action for direction, action, _ in first if direction == "in"}
    assert first == second
