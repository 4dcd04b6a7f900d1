"""The depot power cap with simulated chargers: what their meters report adds up to at most the cap."""

from __future__ import annotations

from typing import Any

from simtools import eventually, rows, run_clock, settle
from sqlmodel import select

from console.core.clock import ManualClock
from console.core.models import Location, MeterSample
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.manager import SimManager

CAP_KW = 40.0


async def latest_power(service: ConsoleService, charger_ids: list[str]) -> dict[str, float]:
    """Each charger's last reported power (W), summed over its connectors."""
    samples = await rows(
        service,
        select(MeterSample).where(MeterSample.measurand == "Power.Active.Import").order_by(MeterSample.id),
    )
    last: dict[tuple[str, int], float] = {}
    for sample in samples:
        if sample.charger_id in charger_ids and sample.phase is None:
            last[(sample.charger_id, sample.connector_id)] = sample.value
    return {charger_id: sum(v for (c, _), v in last.items() if c == charger_id) for charger_id in charger_ids}


async def test_simulated_sessions_share_the_cap_and_rebalance(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    def add_location(session: Any) -> str:
        org = service.fleet.ensure_org(session)
        location = Location(organization_id=org.id, name="Yard", power_cap_kw=CAP_KW, created_at=clock.now(), updated_at=clock.now())
        session.add(location)
        session.commit()
        return location.id

    location_id = await service.store.run(add_location)
    service.live.locations_changed(await service.store.run(service.fleet.locations))
    chargers = []
    for number in range(1, 5):
        view = await service.create_charger(
            {"identity": f"YARD-{number}", "simulated": True, "max_charging_power": 22000, "location_id": location_id}
        )
        chargers.append(view.id)
        await service.start_charger(view.id)
    for charger_id in chargers:
        await eventually(lambda charger_id=charger_id: manager.state(charger_id)[0] == "online")
    await settle(manager)

    for charger_id in chargers:
        action = await service.send_command(charger_id, "charge", {"connectorId": 1, "idTag": "FLEET"})
        await eventually(lambda action=action: _done(service, action.id))
        await settle(manager)
    await run_clock(clock, manager, 40, step=2)
    power = await latest_power(service, chargers)
    assert all(value > 0 for value in power.values())
    assert sum(power.values()) <= CAP_KW * 1000 + 1
    location = next(item for item in await service.list_locations() if item.id == location_id)
    assert location.headroom_kw is not None and location.headroom_kw >= -0.01

    # One session ends: the other three get its share.
    stop = await service.send_command(chargers[0], "idle", {"stopSession": True})
    await eventually(lambda: _done(service, stop.id))
    await run_clock(clock, manager, 40, step=2)
    assert (await service.get_charger(chargers[0])).current_power_kw == 0
    power = await latest_power(service, chargers[1:])
    assert sum(power.values()) <= CAP_KW * 1000 + 1
    assert all(value > CAP_KW * 1000 / 4 for value in power.values())
    assert sum(view.current_power_kw for view in await service.list_chargers()) <= CAP_KW + 0.001


async def _done(service: ConsoleService, action_id: str) -> bool:
    return (await service.get_action(action_id)).state in ("completed", "failed", "rejected")
