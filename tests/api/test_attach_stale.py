"""Attach mode while the server is away: every figure looks stale and says how old it is; when the
server is back, every pane (the detail's Logs tab too) follows the server again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from apitools import Api
from textual.worker import WorkerCancelled

from console.api.client import RemoteBackend
from console.api.server import ApiServer
from console.tui.app import ConsoleApp
from console.tui.widgets.charger_table import ChargerTable
from console.tui.widgets.detail import ChargerDetail
from console.tui.widgets.frame_log import LogPanel

THEMES = Path(__file__).resolve().parents[2] / "themes"
SIZE = (160, 48)


@pytest.fixture
async def remote(api: Api) -> AsyncIterator[RemoteBackend]:
    backend = RemoteBackend(api.url, api.key, reconnect_delays=(0.05, 0.1))
    await backend.connect()
    yield backend
    await backend.aclose()


async def settle(pilot: Any, rounds: int = 3) -> None:
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


def text(app: Any, selector: str) -> str:
    return str(app.screen_stack[0].query_one(selector).render())


def log_messages(app: Any) -> list[str]:
    log = app.screen_stack[0].query_one("#charger-logs", LogPanel).log
    return [entry.message for entry in log.entries]


async def test_a_lost_server_shows_stale_figures_and_every_pane_follows_it_again(api: Api, remote: RemoteBackend) -> None:
    app = ConsoleApp(remote, api.clock, themes_dir=THEMES, zone=timezone.utc)
    app.animation_level = "none"
    main: Any = None
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen_stack[0]
        await until(pilot, lambda: len(main.query_one(ChargerTable).shown_ids) == 3)
        main.query_one(ChargerTable).move_cursor(row=0)
        api.service.live.log("CP-A01", "event", "before the outage")
        await pilot.press("4")  # the detail's Logs tab
        await until(pilot, lambda: "before the outage" in log_messages(app))
        assert main.query_one(ChargerDetail).charger.identity == "CP-A01"
        assert "connected" in text(app, "#header-summary") and "disconnected" not in text(app, "#header-summary")

        port = api.server.port
        await api.server.stop()
        await until(pilot, lambda: "disconnected" in text(app, "#header-summary"))
        assert main.has_class("-stale")
        api.clock.advance(30)
        await settle(pilot)
        # The header and the line under the table say how old what is shown is.
        assert "data 30s old" in text(app, "#header-clock")
        assert "lost the server" in text(app, "#reason") and "30s ago" in text(app, "#reason")

        api.service.live.log("CP-A01", "event", "while the console was away")
        api.server = ApiServer(api.service, port=port, heartbeat_s=0.2)
        await api.server.start()
        try:
            await until(pilot, lambda: "disconnected" not in text(app, "#header-summary"))
            assert not main.has_class("-stale")
            assert "data" not in text(app, "#header-clock")
            # The Logs tab reads what it missed (no event told it), and follows what comes next.
            await until(pilot, lambda: "while the console was away" in log_messages(app))
            api.service.live.log("CP-A01", "event", "after the outage")
            await until(pilot, lambda: "after the outage" in log_messages(app))
        finally:
            await api.server.stop()
