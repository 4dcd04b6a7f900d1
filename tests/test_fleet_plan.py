"""A location's planner from the fleet file: its tariff and base load, checked slot by slot."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from console.core.errors import ImportRefused
from console.core.models import LocationPlan
from console.core.service import ConsoleService


async def test_a_fleet_file_sets_a_locations_tariff_and_a_bad_one_is_refused(service: ConsoleService, sample_fleet: dict) -> None:
    bad = copy.deepcopy(sample_fleet)
    bad["locations"][0]["plan"] = {"tariff": [0.2] * 95 + [-0.1]}
    bad["locations"][1]["plan"] = {"tariff": [0.2] * 90}
    with pytest.raises(ImportRefused) as refused:
        await service.store.run(lambda s: service.fleet.import_fleet(s, bad))
    messages = {field: message for _, field, message in refused.value.problems}
    assert "negative" in messages["plan.tariff"] or "90 slots" in messages["plan.tariff"]
    assert len([field for _, field, _ in refused.value.problems if field == "plan.tariff"]) == 2

    good = copy.deepcopy(sample_fleet)
    tariff = [0.1] * 24 + [0.3] * 72
    good["locations"][0]["plan"] = {"tariff": tariff, "base_load_kw": [5] * 96}
    await service.store.run(lambda s: service.fleet.import_fleet(s, good))
    location_id = good["locations"][0]["id"]

    def read(session: Any) -> LocationPlan | None:
        return session.get(LocationPlan, location_id)

    row = await service.store.run(read)
    assert row is not None and row.enabled and row.tariff == tariff and row.base_load_kw == [5.0] * 96
    await service.store.run(service.planner.load)
    assert service.planner.planned(location_id)
