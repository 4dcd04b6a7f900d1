"""A console started without its backend shows its frame saying "connecting…" until the backend is there."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from console.core.backend import Backend
from console.core.clock import ManualClock
from console.core.service import ConsoleService
from console.tui.app import ConsoleApp, StartingScreen
from console.tui.screens.main import MainScreen


def header(app: ConsoleApp) -> str:
    return str(app.screen.query_one("#header-summary").render())


async def test_the_frame_says_connecting_until_the_backend_started(live_service: ConsoleService, clock: ManualClock) -> None:
    ready = asyncio.Event()

    async def start() -> Backend:
        await ready.wait()
        return live_service

    app = ConsoleApp(None, clock, start=start)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartingScreen)
        assert "connecting…" in header(app)
        await pilot.press("ctrl+p")  # the palette's commands need the fleet
        assert isinstance(app.screen, StartingScreen)
        ready.set()
        while not isinstance(app.screen, MainScreen):
            await pilot.pause(0.05)
        while not app.screen._chargers:
            await pilot.pause(0.05)
        assert "connecting…" not in header(app)
        assert "connected" in header(app)


async def test_a_backend_that_cannot_start_ends_the_console_with_its_error(clock: ManualClock) -> None:
    async def start() -> Backend:
        raise OSError("address already in use")

    app = ConsoleApp(None, clock, start=start)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.is_running:
            await pilot.pause(0.05)
    assert isinstance(app.start_error, OSError)
    assert app.return_code == 1


def test_the_embedded_console_paints_before_importing_the_store_or_the_central_system() -> None:
    # What `ocpp-console` imports before its first frame: the rest waits for the background start.
    probe = (
        "import sys, console.cli, console.tui.app; "
        "print(' '.join(m for m in ('sqlalchemy', 'ocpp', 'console.depot', 'console.tui.screens.main') if m in sys.modules))"
    )
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert imported == []
