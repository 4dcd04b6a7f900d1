"""Attach mode: the Textual console over the RemoteBackend against a live server in the same test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from apitools import Api
from textual.widgets import Input
from textual.worker import WorkerCancelled

from console.api.client import RemoteBackend
from console.tui.app import ConsoleApp
from console.tui.modals.charger_form import ChargerForm
from console.tui.widgets.charger_table import ChargerTable

THEMES = Path(__file__).resolve().parents[2] / "themes"
SIZE = (160, 48)


@pytest.fixture
async def remote(api: Api) -> AsyncIterator[RemoteBackend]:
    backend = RemoteBackend(api.url, api.key, reconnect_delays=(0.05, 0.1))
    await backend.connect()
    yield backend
    await backend.aclose()


def table(app: Any) -> ChargerTable:
    return app.screen_stack[0].query_one(ChargerTable)


def identities(app: Any) -> list[str]:
    chargers = table(app)
    return [chargers.get_cell(charger_id, "identity") for charger_id in chargers.shown_ids]


async def settle(pilot: Any, rounds: int = 3) -> None:
    """Let the workers but the event stream finish (they wait on the server), then render."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause(0.05)
        for worker in [worker for worker in app.workers if worker.group != "events"]:
            with contextlib.suppress(WorkerCancelled):
                await worker.wait()
    app.screen_stack[0].flush()
    await pilot.pause()


async def until(pilot: Any, condition: Any, timeout: float = 5) -> None:
    async def poll() -> None:
        while not condition():
            await settle(pilot, 1)

    await asyncio.wait_for(poll(), timeout)


async def test_the_attached_console_shows_and_drives_the_servers_depot(api: Api, remote: RemoteBackend, runtime) -> None:  # type: ignore[no-untyped-def]
    app = ConsoleApp(remote, api.clock, themes_dir=THEMES)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: identities(app) == ["CP-A01", "CP-A02", "CP-A03"])  # only its organization's
        # x on the selected simulated charger stops its runtime on the server.
        table(app).move_cursor(row=0)
        await settle(pilot)
        await pilot.press("x")
        await until(pilot, lambda: ("stop", "dep-a01") in runtime.calls)
        # n creates a charger through the API; it shows up from the server's event stream.
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ChargerForm))
        await pilot.press(*"CP-REMOTE-1")
        app.screen.query_one("#field-max_charging_power", Input).value = "11000"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, ChargerForm))
        created = [view for view in api.service.org_chargers("org-default") if view.identity == "CP-REMOTE-1"]
        assert created and created[0].max_charging_power == 11000
        await until(pilot, lambda: "CP-REMOTE-1" in identities(app))
        # A change made on the server reaches the table.
        await api.service.update_charger("dep-a02", {"name": "Renamed on the server"})
        await until(pilot, lambda: app.screen_stack[0]._chargers["dep-a02"].name == "Renamed on the server")


async def test_losing_the_server_shows_a_notice_and_the_console_lives_on(api: Api, remote: RemoteBackend) -> None:
    app = ConsoleApp(remote, api.clock, themes_dir=THEMES)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(identities(app)) == 3)
        await api.server.stop()
        messages = lambda: [notification.message for notification in app._notifications]  # noqa: E731
        await until(pilot, lambda: any("lost the server" in message for message in messages()))
        # A banner stays under the table while the server is away.
        banner = app.screen_stack[0].query_one("#reason")
        await until(pilot, lambda: banner.display and "lost the server" in str(banner.render()))
        await pilot.press("x")  # goes nowhere, says so, and the console carries on
        await settle(pilot)
        assert len(identities(app)) == 3
