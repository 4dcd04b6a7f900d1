"""Charging profiles: the store's arithmetic, and the limits honoured in meter values (both versions)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from console.core.clock import ManualClock
from console.core.models import MeterSample, Transaction
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.manager import SimManager
from console.sim.profiles import ChargingProfile, ProfileRejected, ProfileStore
from simtools import online_charger, rows, run_clock, settle, status_of

T0 = datetime(2026, 4, 2, 9, 0, tzinfo=timezone.utc)


def profile16(profile_id: int, purpose: str, limit: float, unit: str = "W", stack: int = 0, **more: object) -> dict:
    schedule = {"charging_rate_unit": unit, "charging_schedule_period": [{"start_period": 0, "limit": limit}]}
    schedule.update(more.pop("schedule", {}))  # type: ignore[arg-type]
    return {
        "charging_profile_id": profile_id,
        "stack_level": stack,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": more.pop("kind", "Absolute"),
        "charging_schedule": schedule,
        **more,
    }


def test_the_highest_stack_level_wins_and_the_max_profile_caps_everything() -> None:
    store = ProfileStore()
    store.install(ChargingProfile.from_ocpp(0, profile16(1, "TxDefaultProfile", 11000), T0))
    store.install(ChargingProfile.from_ocpp(1, profile16(2, "TxDefaultProfile", 7000, stack=1), T0))
    store.install(ChargingProfile.from_ocpp(0, profile16(3, "ChargePointMaxProfile", 16, unit="A"), T0))

    on_one, on_two = store.limits(1, T0), store.limits(2, T0)
    assert on_one.tx_w == 7000 and on_two.tx_w == 11000
    assert on_one.max_w == pytest.approx(16 * 230 * 3)
    assert store.clear(profile_id=2) == 1
    assert store.limits(1, T0).tx_w == 11000
    with pytest.raises(ProfileRejected):
        store.install(ChargingProfile.from_ocpp(2, profile16(4, "ChargePointMaxProfile", 1000), T0))


def test_schedule_periods_duration_and_validity() -> None:
    store = ProfileStore()
    periods = [{"start_period": 0, "limit": 3000}, {"start_period": 600, "limit": 0}, {"start_period": 1200, "limit": 9000}]
    data = profile16(
        1,
        "TxDefaultProfile",
        0,
        schedule={"start_schedule": T0.isoformat(), "duration": 1800, "charging_schedule_period": periods},
        valid_to=(T0 + timedelta(hours=2)).isoformat(),
    )
    store.install(ChargingProfile.from_ocpp(0, data, T0))

    assert store.limits(1, T0).tx_w == 3000
    assert store.limits(1, T0).next_change == T0 + timedelta(seconds=600)
    assert store.limits(1, T0 + timedelta(seconds=700)).tx_w == 0
    assert store.limits(1, T0 + timedelta(seconds=1300)).tx_w == 9000
    assert store.limits(1, T0 + timedelta(seconds=1900)).tx_w is None
    composite = store.composite(1, T0, 3600, 22000)
    assert composite == [
        {"start_period": 0, "limit": 3000},
        {"start_period": 600, "limit": 0},
        {"start_period": 1200, "limit": 9000},
        {"start_period": 1800, "limit": 22000},
    ]


def test_a_relative_profile_counts_from_the_transaction_start() -> None:
    store = ProfileStore()
    periods = [{"start_period": 0, "limit": 5000}, {"start_period": 60, "limit": 2000}]
    store.install(
        ChargingProfile.from_ocpp(1, profile16(1, "TxProfile", 0, kind="Relative", schedule={"charging_schedule_period": periods}, transaction_id=9), T0)
    )
    start = T0 + timedelta(seconds=100)
    assert store.limits(1, start + timedelta(seconds=30), "9", start).tx_w == 5000
    assert store.limits(1, start + timedelta(seconds=90), "9", start).tx_w == 2000
    assert store.limits(1, start, "10", start).tx_w is None  # another transaction
    store.end_transaction("9")
    assert store.profiles == []


async def power_samples(service: ConsoleService) -> list[float]:
    samples = await rows(service, select(MeterSample).where(MeterSample.measurand == "Power.Active.Import").order_by(MeterSample.id))
    return [s.value for s in samples]


async def test_16_limits_are_respected_and_zero_suspends(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager, connectors=1, max_power=50000)
    call = central_system.call
    await call("CP-1", "RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    await settle(manager)
    await run_clock(clock, manager, 10)

    tx = {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3500}]},
    }}
    assert await call("CP-1", "SetChargingProfile", tx) == {"status": "Accepted"}
    # The charger reports its new power at once; count from after that report, not racing it.
    await settle(manager)
    before = len(await power_samples(service))
    await run_clock(clock, manager, 30)
    limited = (await power_samples(service))[before:]
    assert len(limited) == 3 and all(0 < p <= 3500 for p in limited)

    cap = {"connectorId": 0, "csChargingProfiles": {
        "chargingProfileId": 2, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0}]},
    }}
    assert await call("CP-1", "SetChargingProfile", cap) == {"status": "Accepted"}
    await settle(manager)
    assert await status_of(service, charger_id, 1) == "SuspendedEVSE"
    energy_before = (await rows(service, select(MeterSample).where(MeterSample.measurand == "Energy.Active.Import.Register")))[-1].value
    await run_clock(clock, manager, 20)
    assert (await power_samples(service))[-1] == 0
    energy_after = (await rows(service, select(MeterSample).where(MeterSample.measurand == "Energy.Active.Import.Register")))[-1].value
    assert energy_after == pytest.approx(energy_before, abs=0.5)
    composite = await call("CP-1", "GetCompositeSchedule", {"connectorId": 1, "duration": 600})
    assert composite["status"] == "Accepted"
    assert composite["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 0}]

    assert await call("CP-1", "ClearChargingProfile", {"id": 2}) == {"status": "Accepted"}
    assert await call("CP-1", "ClearChargingProfile", {"id": 2}) == {"status": "Unknown"}
    await settle(manager)
    assert await status_of(service, charger_id, 1) == "Charging"
    await run_clock(clock, manager, 10)
    assert 0 < (await power_samples(service))[-1] <= 3500

    (transaction,) = await rows(service, select(Transaction))
    await call("CP-1", "RemoteStopTransaction", {"transactionId": transaction.id})
    await settle(manager)
    # A TxProfile needs a transaction on its connector.
    bad = {"connectorId": 1, "csChargingProfiles": {**tx["csChargingProfiles"], "chargingProfilePurpose": "TxProfile"}}
    assert (await call("CP-1", "SetChargingProfile", bad))["status"] == "Rejected"


async def test_201_limits_in_amperes_are_respected(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager, connectors=1, version="OCPP2.0.1", max_power=50000)
    call = central_system.call
    profile = {"evseId": 1, "chargingProfile": {
        "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
        "chargingSchedule": [{"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}]}],
    }}
    assert (await call("CP-1", "SetChargingProfile", profile))["status"] == "Accepted"
    await call("CP-1", "RequestStartTransaction", {"idToken": {"idToken": "T", "type": "ISO14443"}, "remoteStartId": 1, "evseId": 1})
    await settle(manager)
    await run_clock(clock, manager, 30)
    powers = await power_samples(service)
    assert powers and all(0 < p <= 10 * 230 * 3 for p in powers)

    zero = {"evseId": 0, "chargingProfile": {
        "id": 2, "stackLevel": 1, "chargingProfilePurpose": "ChargingStationMaxProfile", "chargingProfileKind": "Absolute",
        "chargingSchedule": [{"id": 2, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0}]}],
    }}
    assert (await call("CP-1", "SetChargingProfile", zero))["status"] == "Accepted"
    await settle(manager)
    logs = await service.charger_logs(charger_id)
    assert '"chargingState":"SuspendedEVSE"' in [e for e in logs if e.action == "TransactionEvent" and e.direction == "in"][-1].message
    composite = await call("CP-1", "GetCompositeSchedule", {"evseId": 1, "duration": 300, "chargingRateUnit": "A"})
    assert composite["schedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 0.0}]
    cleared = await call("CP-1", "ClearChargingProfile", {"chargingProfileCriteria": {"chargingProfilePurpose": "ChargingStationMaxProfile"}})
    assert cleared["status"] == "Accepted"
    await run_clock(clock, manager, 10)
    assert 0 < (await power_samples(service))[-1] <= 6900
