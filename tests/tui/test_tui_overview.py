"""The Overview reads as a person would say it; the raw record is one key away (y)."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from typing import Any

from textual.widgets import Static
from tui_fleet import make_app, settle

from console.core.service import ConsoleService
from console.tui.modals.frame_json import RawRecord
from console.tui.widgets.detail import ChargerDetail

SIZE = (160, 48)
CEST = timezone(timedelta(hours=2), "CEST")


def text_of(widget: Static) -> str:
    return str(widget.render())


async def test_the_overview_shows_labels_kilowatts_the_location_and_local_times(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    app.zone = CEST
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        detail = app.screen.query_one(ChargerDetail)
        assert detail.charger is not None and detail.charger.identity == "CP-A01"
        record = " ".join(text_of(detail.query_one("#overview-record", Static)).split())
        state = " ".join(text_of(detail.query_one("#overview-state", Static)).split())
        assert "max power 22 kW" in record
        assert "location North Depot" in record
        assert "vendor Wallbox Pulsar Plus" in record
        assert "connectors 1 × Type2" in record
        # The fleet was made at 08:00 UTC; the console's zone is CEST.
        assert "created 2026-04-01 10:00:00 CEST" in record
        assert "last seen 2026-04-02 11:15:02 CEST (3s ago)" in state
        for raw in ("max_charging_power", "location_id", "22000", "loc-north", "08:00:00"):
            assert raw not in record, raw


async def test_y_shows_the_charger_raw_record(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, RawRecord)
        record = json.loads(app.screen.text)
        assert record["max_charging_power"] == 22000
        assert record["location_id"] == "loc-north"
        assert record["identity"] == "CP-A01"
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, RawRecord)
