"""The Overview tab says which local authorization list version a charger holds and whether it is the registry now."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static
from tui_fleet import make_app, settle

from console.core.service import ConsoleService
from console.csms.server import CentralSystem

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))
sys.path.insert(0, str(Path(__file__).parents[1] / "csms"))
from ocpp_clients import charge_point, eventually  # noqa: E402
from test_tokens_api import LocalListCharger  # noqa: E402
from test_tui_events import select, until  # noqa: E402

SIZE = (160, 48)


@pytest.fixture
async def central(live_service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(live_service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


async def test_the_overview_shows_the_local_list_version_and_whether_it_is_current(
    live_service: ConsoleService, clock: Any, central: CentralSystem
) -> None:
    await live_service.save_token({"token": "VAN-1"})
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot, charge_point(central.url, "CP-A02", "ocpp1.6", client=LocalListCharger) as cp:
        await eventually(lambda: central.is_connected("CP-A02"))
        await settle(pilot)
        await select(pilot, "CP-A02")
        state = app.screen_stack[0].query_one("#overview-state", Static)
        await until(pilot, lambda: "never sent: the registry has tokens for it" in str(state.render()))

        await live_service.push_local_list("dep-0002")
        assert cp.version == 1
        await until(pilot, lambda: "version 1 · 1 tokens · current" in str(state.render()))

        await live_service.save_token({"token": "VAN-2"})
        await pilot.press("2", "1")  # the Overview again: read anew
        await until(pilot, lambda: "version 1 · 1 tokens · behind the registry" in str(state.render()))
