"""`ocpp-console attach`: the API key from `$OCPP_CONSOLE_KEY` (kept out of `ps`), and the theme saved as it is picked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apitools import Api

from console.api.client import RemoteBackend
from console.cli import _attach, _console_app, build_parser
from console.tui.app import ConsoleApp


async def test_attach_takes_the_key_from_the_environment(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    async def run_async(app: ConsoleApp) -> None:
        # The console's backend reached the server with the key from the environment.
        seen.extend(charger.identity for charger in await app.backend.list_chargers())

    monkeypatch.setattr(ConsoleApp, "run_async", run_async)
    monkeypatch.setenv("OCPP_CONSOLE_KEY", api.key)
    assert await _attach(build_parser().parse_args(["attach", api.url])) == 0
    assert sorted(seen) == ["CP-A01", "CP-A02", "CP-A03"]


async def test_attach_without_a_key_says_where_to_put_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OCPP_CONSOLE_KEY", raising=False)
    assert await _attach(build_parser().parse_args(["attach", "http://127.0.0.1:1"])) == 2
    assert "$OCPP_CONSOLE_KEY" in capsys.readouterr().err


async def test_a_theme_picked_in_attach_mode_is_saved_at_once(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    backend = RemoteBackend(api.url, api.key)
    await backend.connect()
    try:
        app = _console_app(backend, api.clock, None)
        app.animation_level = "none"
        async with app.run_test(size=(120, 40)) as pilot:
            app.theme = "console-high-contrast"
            await pilot.pause()
            settings = json.loads((tmp_path / "config" / "ocpp-console" / "settings.json").read_text())
            assert settings == {"theme": "console-high-contrast"}
    finally:
        await backend.aclose()
