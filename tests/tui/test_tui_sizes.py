"""What the console shows at the sizes operators use: the footer keeps the essential keys and cuts none."""

from __future__ import annotations

from typing import Any

import pytest
from tui_fleet import make_app, settle

from console.core.service import ConsoleService

ESSENTIAL = ("? Help", ": View", "/ Filter", "space Mark", "esc Back", "^q Quit")


def footer_line(app: Any) -> str:
    """The bottom line of the screen as the terminal shows it."""
    update = app.screen._compositor.render_full_update()
    return "".join(segment.text for strip in update.strips[-1] for segment in strip)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 48), (200, 60)], ids=lambda size: f"{size[0]}x{size[1]}")
async def test_the_footer_always_shows_the_essential_keys(live_service: ConsoleService, clock: Any, size: tuple[int, int]) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        line = footer_line(app)
        for key in ESSENTIAL:
            assert key in " ".join(line.split()), f"{key!r} missing at {size}: {line!r}"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda size: f"{size[0]}x{size[1]}")
async def test_the_footer_drops_whole_keys_never_a_word(live_service: ConsoleService, clock: Any, size: tuple[int, int]) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        words = footer_line(app).replace("▏", " ").split()
        descriptions = {binding.description for binding in [*app.screen.BINDINGS, *app.BINDINGS]} | {"palette"}
        # Keys and descriptions alternate; the last word is a whole description.
        assert words[-1] in descriptions, words


async def test_the_footer_follows_a_resize(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        line = " ".join(footer_line(app).split())
        assert all(key in line for key in ESSENTIAL), line


def screen_text(app: Any) -> str:
    update = app.screen._compositor.render_full_update()
    return "\n".join("".join(segment.text for strip in chop for segment in strip) for chop in update.strips)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda size: f"{size[0]}x{size[1]}")
async def test_help_scrolls_down_only_and_explains_keys_and_the_filter(live_service: ConsoleService, clock: Any, size: tuple[int, int]) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        seen = [" ".join(screen_text(app).split())]
        for key in ("pagedown", "right", "pagedown", "end", "pagedown"):
            await pilot.press(key)
            await pilot.pause()
            assert all(widget.scroll_x == 0 for widget in help_screen.query("*")), key
            seen.append(" ".join(screen_text(app).split()))
        # Each key with its longer description, the keys' column always in view.
        assert any("c Charge Charge: now, scheduled or in a window" in text for text in seen)
        assert any("^q Quit Quit the console" in text for text in seen)
        # At the end, the filter's syntax.
        assert "status:charging" in seen[-1]
        assert "location:" in seen[-1] and "vendor:" in seen[-1]
        await pilot.press("home")
        await pilot.pause()
        assert "? Help List every key of this view" in " ".join(screen_text(app).split())


async def test_a_wide_terminal_gives_names_and_last_action_the_width_there_is(live_service: ConsoleService, clock: Any) -> None:
    await live_service.update_charger("dep-0006", {"name": "Quayside rapid 150"})
    app = make_app(live_service, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        narrow = screen_text(app)
        assert "Quayside rapi…" in narrow  # 14 columns for the name at 120
        await pilot.resize_terminal(200, 60)
        await settle(pilot)
        wide = screen_text(app)
        assert "Quayside rapid 150 " in wide and "…" not in wide
        header = next(line for line in wide.splitlines() if "Identity" in line)
        # The table fills the width: its last column's header sits in the right third.
        assert header.index("Last action") < 150 and len(header.rstrip(" │")) > 150
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        assert "Quayside rapi…" in screen_text(app)
