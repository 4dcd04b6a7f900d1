"""The :tokens view: create, edit, block and import id tokens; a form stays open on a bad field, a bad file changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input, Static
from tui_fleet import make_app, settle

from console.core.service import ConsoleService
from console.tui.modals.token_form import TokenForm, TokenImportForm
from console.tui.widgets.views import TokenTable

SIZE = (160, 48)


def main(app: Any) -> Any:
    return app.screen_stack[0]


async def type_into(pilot: Any, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.value = text
    await pilot.pause()


async def test_tokens_are_created_edited_and_blocked(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"tokens", "enter")
        await settle(pilot)
        assert main(app).view == "tokens"
        table = main(app).query_one(TokenTable)
        assert table.row_count == 0

        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, TokenForm)
        await type_into(pilot, "#field-token", "04A2B3C4")
        await type_into(pilot, "#field-expires_at", "next week")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, TokenForm)  # a bad field keeps the form open, its problem under it
        assert "ISO 8601" in str(app.screen.query_one("#error-expires_at", Static).render())
        await type_into(pilot, "#field-expires_at", "2027-01-31T00:00:00Z")
        await type_into(pilot, "#field-label", "Van 12")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, TokenForm)
        [token] = await live_service.list_tokens()
        assert (token.token, token.type, token.status, token.label) == ("04A2B3C4", "ISO14443", "Accepted", "Van 12")
        assert table.row_count == 1 and table.get_cell_at((0, 0)) == "04A2B3C4"

        table.focus()
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, TokenForm) and app.screen.query_one("#field-label", Input).value == "Van 12"
        await type_into(pilot, "#field-label", "Van 14")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert table.get_cell_at((0, 5)) == "Van 14"

        await pilot.press("b")
        await settle(pilot)
        [token] = await live_service.list_tokens()
        assert token.status == "Blocked" and "Blocked" in str(table.get_cell_at((0, 2)))
        assert live_service.tokens.authorize("org-default", "04A2B3C4").status == "Blocked"


async def test_a_token_file_with_bad_rows_is_refused_whole_in_the_view(
    live_service: ConsoleService, clock: Any, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("token,status\nGOOD-1,Accepted\nBAD-1,Lost\n,Accepted\n")
    good = tmp_path / "good.csv"
    good.write_text("token,status,label\nGOOD-1,Accepted,Van 1\nGOOD-2,Blocked,Van 2\n")
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"tok", "enter")
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, TokenImportForm)
        await type_into(pilot, "#field-path", str(bad))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TokenImportForm)
        error = str(app.screen.query_one("#error-path", Static).render())
        assert "nothing imported" in error and "row 2 (BAD-1): status" in error and "row 3: token: required" in error
        assert await live_service.list_tokens() == []

        await type_into(pilot, "#field-path", str(good))
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)
        assert not isinstance(app.screen, TokenImportForm)
        table = main(app).query_one(TokenTable)
        assert [table.get_cell_at((row, 0)) for row in range(table.row_count)] == ["GOOD-1", "GOOD-2"]


async def test_a_session_shows_its_tokens_label(live_service: ConsoleService, clock: Any) -> None:
    from console.tui.widgets.detail import TransactionTable

    await live_service.save_token({"token": "tag-0001", "label": "Van 12"})  # tokens match whatever their case
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        transactions = main(app).query_one(TransactionTable)
        assert transactions.row_count == 1 and transactions.get_cell_at((0, 2)) == "TAG-0001 · Van 12"
