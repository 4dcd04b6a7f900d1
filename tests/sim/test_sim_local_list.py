"""Local authorization lists pushed to simulated chargers of both versions: full, then differential, version by version."""

from __future__ import annotations

import pytest

from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.manager import SimManager
from simtools import online_charger


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
async def test_a_local_list_round_trips_with_its_version(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, version: str
) -> None:
    charger_id = await online_charger(service, manager, version=version)
    simulated = manager.charger(charger_id)
    assert simulated is not None
    card = await service.save_token({"token": "CARD-1", "label": "Van 1"})
    gone = await service.save_token({"token": "CARD-2"})
    await service.save_token({"token": "X" * 30, "type": "eMAID"})  # longer than a 1.6 idTag: 2.0.1 only
    before = await service.local_list(charger_id)
    assert (before.version, before.current) == (0, False)

    pushed = await service.push_local_list(charger_id)
    assert pushed.acknowledged and pushed.request["updateType"] == "Full"
    expected = {"CARD-1": "Accepted", "CARD-2": "Accepted"} | ({"X" * 30: "Accepted"} if version != "OCPP1.6" else {})
    assert simulated.local_list == expected and simulated.local_list_version == 1
    status = await service.local_list(charger_id)
    assert (status.version, status.entries, status.current) == (1, len(expected), True)
    asked = await service.local_list_version(charger_id)
    assert asked.acknowledged and list(asked.answer.values()) == [1]  # listVersion / versionNumber

    await service.save_token({"status": "Blocked"}, card.id)
    await service.delete_token(gone.id)
    assert not (await service.local_list(charger_id)).current
    pushed = await service.push_local_list(charger_id)
    assert pushed.acknowledged and pushed.request["updateType"] == "Differential"
    assert len(pushed.request["localAuthorizationList"]) == 2  # the change and the removal, nothing else
    expected = {"CARD-1": "Blocked"} | ({"X" * 30: "Accepted"} if version != "OCPP1.6" else {})
    assert simulated.local_list == expected and simulated.local_list_version == 2
    status = await service.local_list(charger_id)
    assert (status.version, status.current) == (2, True)

    pushed = await service.push_local_list(charger_id, full=True)
    assert pushed.request["updateType"] == "Full" and simulated.local_list_version == 3


async def test_a_charger_without_local_lists_keeps_its_version(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem
) -> None:
    charger_id = await online_charger(service, manager)
    simulated = manager.charger(charger_id)
    assert simulated is not None
    simulated.config["LocalAuthListEnabled"] = "false"
    await service.save_token({"token": "CARD-1"})
    pushed = await service.push_local_list(charger_id)
    assert (pushed.state, pushed.status) == ("rejected", "NotSupported")
    status = await service.local_list(charger_id)
    assert (status.version, status.current) == (0, False)
