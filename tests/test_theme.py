"""The theme: a pick is saved at once (not only on a clean quit), and an unknown `--theme` is an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import _console_app, main
from console.core.clock import ManualClock
from console.core.service import ConsoleService


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "ocpp-console"


def saved(config_dir: Path) -> dict:
    return json.loads((config_dir / "settings.json").read_text())


async def test_a_theme_picked_in_the_embedded_console_is_saved_before_it_quits(
    service: ConsoleService, clock: ManualClock, config_dir: Path
) -> None:
    app = _console_app(service, clock, None)
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.theme == "console-dark"
        await pilot.pause()
        assert not (config_dir / "settings.json").exists()  # starting is not a choice
        app.theme = "console-light"
        await pilot.pause()
        assert saved(config_dir) == {"theme": "console-light"}
    assert _console_app(service, clock, None).theme == "console-light"


async def test_an_explicit_theme_is_not_saved_until_the_operator_picks_one(
    service: ConsoleService, clock: ManualClock, config_dir: Path
) -> None:
    config_dir.mkdir(parents=True)
    (config_dir / "settings.json").write_text(json.dumps({"theme": "console-light", "other": 1}))
    app = _console_app(service, clock, "console-high-contrast")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert saved(config_dir)["theme"] == "console-light"
        app.theme = "textual-dark"
        await pilot.pause()
        assert saved(config_dir) == {"theme": "textual-dark", "other": 1}


@pytest.mark.parametrize("argv", [["--theme", "nope"], ["attach", "http://127.0.0.1:1", "--key", "k", "--theme", "nope"]])
def test_an_unknown_theme_is_an_error_that_lists_the_themes(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "no theme named 'nope'" in error
    for name in ("console-dark", "console-light", "console-high-contrast", "textual-dark"):
        assert name in error
