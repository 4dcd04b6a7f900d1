"""Keys that arrive in one burst after `/` or `:` (a paste, tmux, a laggy ssh link) go into that input."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.widgets import Input
from tui_fleet import FakeRuntime, make_app, settle

from console.core.service import ConsoleService
from console.tui.screens.main import MainScreen
from console.tui.widgets.frame_log import LogPanel

SIZE = (160, 48)
KEY_NAMES = {"/": "slash", ":": "colon"}


async def burst(pilot: Any, text: str) -> None:
    """Queue every key of `text` before the app handles the first, as a paste or a slow link delivers them."""
    app = pilot.app
    for char in text:
        key = KEY_NAMES.get(char, char)
        app.post_message(events.Key(key, char))
    await settle(pilot)


def main(app: Any) -> MainScreen:
    return app.screen_stack[0]


async def test_a_burst_after_slash_goes_into_the_filter(live_service: ConsoleService, clock: Any, runtime: FakeRuntime) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await burst(pilot, "/north")
        assert app.screen is main(app), "no form opened"
        assert main(app).query_one("#filter", Input).value == "north"
        assert app.focused is main(app).query_one("#filter", Input)
        assert runtime.calls == []
        assert main(app).table.sort_column == "identity"
        assert await live_service.list_actions("dep-0001") == []


async def test_a_burst_after_colon_goes_into_the_view_line(live_service: ConsoleService, clock: Any, runtime: FakeRuntime) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await burst(pilot, ":logs")
        assert app.screen is main(app)
        assert main(app).query_one("#command-line", Input).value == "logs"
        assert runtime.calls == []
        await pilot.press("enter")
        await settle(pilot)
        assert main(app).view == "logs"
        assert runtime.calls == []


async def test_pilot_press_after_slash_and_colon_types_into_the_inputs(
    live_service: ConsoleService, clock: Any, runtime: FakeRuntime
) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("/", "n", "o", "r", "t", "h")
        await settle(pilot)
        assert app.screen is main(app)
        assert main(app).query_one("#filter", Input).value == "north"
        await pilot.press("enter", ":", "l", "o", "g", "s")
        await settle(pilot)
        assert main(app).query_one("#command-line", Input).value == "logs"
        assert runtime.calls == []


async def test_a_colon_or_slash_typed_in_the_filter_stays_in_it(live_service: ConsoleService, clock: Any, runtime: FakeRuntime) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await burst(pilot, "/status:charging a/b")
        assert main(app).query_one("#filter", Input).value == "status:charging a/b"
        assert not main(app).query_one("#command-line", Input).display
        assert runtime.calls == []


async def test_a_burst_after_slash_in_the_logs_tab_goes_into_its_filter(
    live_service: ConsoleService, clock: Any, runtime: FakeRuntime
) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        panel = main(app).query_one("#charger-logs", LogPanel)
        panel.log.focus()
        await settle(pilot)
        await burst(pilot, "/stop")  # s, o, p: start, sort, pause as main-screen keys
        field = panel.query_one(".log-filter", Input)
        assert app.screen is main(app)
        assert field.value == "stop"
        assert app.focused is field
        assert not main(app).query_one("#filter", Input).display
        assert runtime.calls == []
        assert main(app).table.sort_column == "identity"
        await burst(pilot, "/x")
        assert field.value == "stop/x"  # a `/` in the filter is text
