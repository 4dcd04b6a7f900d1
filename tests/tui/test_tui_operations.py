"""The operations menu (`m`): a charger's every operation, a form for its parameters, the outcome as a
notification and in the Actions tab — against an independent strict-schema charge point (tests/node)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Checkbox, Input, OptionList, Select
from operation_samples import params_for
from tui_fleet import make_app, settle

from console.core.service import ConsoleService
from console.core.versions import OcppVersion
from console.csms.server import CentralSystem
from console.tui.modals.confirm import ConfirmDialog
from console.tui.modals.operation_form import OperationForm
from console.tui.modals.operations_menu import OperationsMenu
from console.tui.widgets.action_table import ActionTable

NODE_SCRIPT = Path(__file__).resolve().parent.parent / "node" / "operations.js"
SIZE = (160, 48)


class StrictCharger:
    """A 1.6 charger, STRICT-16, run by tests/node/operations.js; `finish` ends it and gives what it received."""

    def __init__(self, charger_id: str, process: asyncio.subprocess.Process) -> None:
        self.id = charger_id
        self.process = process
        self.lines: list[dict[str, Any]] | None = None

    async def finish(self) -> list[dict[str, Any]]:
        if self.lines is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                out, _ = await asyncio.wait_for(self.process.communicate(), 5)
            except TimeoutError:
                self.process.kill()
                out = b""
            self.lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        return self.lines


@pytest.fixture
async def strict_charger(live_service: ConsoleService) -> AsyncIterator[StrictCharger]:
    if not shutil.which("node") or not (NODE_SCRIPT.parent / "node_modules" / "ocpp-rpc").is_dir():
        pytest.skip("needs Node.js and tests/node's ocpp-rpc (npm ci in tests/node)")
    central = CentralSystem(live_service, port=0, heartbeat_interval=30, call_timeout=3)
    await central.start()
    charger = await live_service.create_charger({"identity": "STRICT-16"})
    process = await asyncio.create_subprocess_exec(
        "node", str(NODE_SCRIPT), central.url, "STRICT-16", "ocpp1.6",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert json.loads(await asyncio.wait_for(process.stdout.readline(), 15)) == {"ready": "Accepted"}
    strict = StrictCharger(charger.id, process)
    try:
        yield strict
    finally:
        await strict.finish()
        await central.stop()


async def until(pilot: Any, kind: type) -> Any:
    """Wait (bounded) for a modal of `kind` on top: the menu's worker waits on each modal, so `settle` would too."""
    for _ in range(100):
        await pilot.pause(0.02)
        if isinstance(pilot.app.screen, kind):
            return pilot.app.screen
    raise AssertionError(f"no {kind.__name__}: {pilot.app.screen}")


async def sent(pilot: Any, app: Any, title: str) -> list[str]:
    """Wait (bounded) for the notification whose title starts with `title`."""
    for _ in range(250):
        await pilot.pause(0.02)
        found = [note for note in notifications(app) if note.startswith(title)]
        if found:
            return found
    raise AssertionError(notifications(app))


async def choose(pilot: Any, operation: str) -> OperationForm:
    await pilot.press("m")
    menu = await until(pilot, OperationsMenu)
    assert isinstance(menu, OperationsMenu)
    options = menu.query_one(OptionList)
    options.highlighted = next(index for index in range(options.option_count) if options.get_option_at_index(index).id == operation)
    await pilot.press("enter")
    form = await until(pilot, OperationForm)
    assert form.spec.name == operation
    return form


def notifications(app: Any) -> list[str]:
    return [f"{note.title}: {note.message}" for note in app._notifications]


async def test_the_menu_sends_trigger_message_and_get_configuration_and_asks_before_a_hard_reset(
    live_service: ConsoleService, clock: Any, strict_charger: StrictCharger
) -> None:
    charger_id = strict_charger.id
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.run_on(charger_id, "select")
        await settle(pilot)
        # The menu lists every operation of the charger's version.
        await pilot.press("m")
        menu = await until(pilot, OperationsMenu)
        assert "GetConfiguration" in menu.operations and "GetVariables" not in menu.operations
        await pilot.press("escape")
        await settle(pilot)

        form = await choose(pilot, "TriggerMessage")
        form.query_one("#field-requested_message", Select).value = "Heartbeat"
        await pilot.press("ctrl+s")
        (told,) = await sent(pilot, app, "TriggerMessage")
        assert told.startswith("TriggerMessage · STRICT-16: acknowledged (Accepted) in "), told

        form = await choose(pilot, "GetConfiguration")
        form.query_one("#field-keys", Input).value = "HeartbeatInterval"
        await pilot.press("enter")  # enter in a field sends, as in every form
        (told,) = await sent(pilot, app, "GetConfiguration")
        assert '"key": "HeartbeatInterval"' in told, told

        # A bad value is shown under its field; the form stays open.
        form = await choose(pilot, "ReserveNow")
        form.query_one("#field-expiry", Input).value = "whenever"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        assert "relative" in str(form.query_one("#error-expiry").render())
        assert "required" in str(form.query_one("#error-id_tag").render())
        await pilot.press("escape")
        await settle(pilot)

        # A hard reset asks first (default No): nothing is sent.
        form = await choose(pilot, "Reset")
        form.query_one("#field-type", Select).value = "Hard"
        await pilot.press("ctrl+s")
        await until(pilot, ConfirmDialog)
        await pilot.press("n")
        await settle(pilot)

        # The Actions tab has both, with their round trips.
        await pilot.press("3")
        await settle(pilot)
        await pilot.pause(0.6)
        actions = await live_service.list_actions(charger_id)
        assert [action.operation for action in actions] == ["GetConfiguration", "TriggerMessage"] or [
            action.operation for action in actions
        ] == ["TriggerMessage", "GetConfiguration"]
        table = app.screen.query_one("#charger-actions", ActionTable)
        for action in actions:
            assert table.get_cell(action.id, "timing").startswith("took ")
    received = await strict_charger.finish()
    methods = [call["method"] for call in received if "method" in call]
    assert methods == ["TriggerMessage", "GetConfiguration"]
    assert not [call for call in received if "invalid" in call]


class AnsweringGateway:
    """Chargers that answer every CALL at once with Accepted."""

    def __init__(self, connected: set[str]) -> None:
        self.connected = connected
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def is_connected(self, identity: str) -> bool:
        return identity in self.connected

    async def call(self, identity: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((identity, action, payload))
        return {"status": "Accepted"}

    def disconnect(self, identity: str, reason: str) -> None:
        self.connected.discard(identity)


async def test_on_the_marked_set_the_menu_offers_what_every_version_shares_and_asks_first(live_service: ConsoleService, clock: Any) -> None:
    gateway = AnsweringGateway({"CP-A01", "CP-A02", "CP-B01"})
    live_service.attach(gateway=gateway)
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for charger_id in ("dep-0001", "dep-0004"):  # CP-A01 speaks 1.6, CP-B01 2.0.1
            app.screen.table.toggle_mark(charger_id)
        form = await choose(pilot, "Reset")
        form.query_one("#field-type", Select).value = "Hard"
        await pilot.press("ctrl+s")
        dialog = await until(pilot, ConfirmDialog)
        assert "2 chargers" in dialog.question and "CP-B01" in dialog.question
        await pilot.press("y")
        (told,) = await sent(pilot, app, "Reset 2 chargers")
        assert "2 done, 0 failed" in told
    assert sorted((identity, payload["type"]) for identity, _, payload in gateway.calls) == [("CP-A01", "Hard"), ("CP-B01", "Immediate")]


async def test_the_marked_set_menu_lists_only_shared_operations(live_service: ConsoleService, clock: Any) -> None:
    live_service.attach(gateway=AnsweringGateway({"CP-A01", "CP-B01"}))
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for charger_id in ("dep-0001", "dep-0004"):
            app.screen.table.toggle_mark(charger_id)
        await pilot.press("m")
        menu = await until(pilot, OperationsMenu)
        assert {"Reset", "TriggerMessage", "SendLocalList"} <= set(menu.operations)
        assert not {"GetConfiguration", "GetVariables", "CertificateSigned"} & set(menu.operations)
        await pilot.press("escape")


async def test_a_firmware_update_and_a_log_request_start_from_the_menu(live_service: ConsoleService, clock: Any) -> None:
    gateway = AnsweringGateway({"CP-A01"})
    live_service.attach(gateway=gateway)
    live_service.firmware.serve_at("http://depot-box:8080")
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = await choose(pilot, "UpdateFirmware")
        form.query_one("#field-location", Input).value = "https://vendor.example/terra-1.2.bin"
        form.query_one("#field-retries", Input).value = "3"
        await pilot.press("ctrl+s")
        dialog = await until(pilot, ConfirmDialog)
        assert "installs the image and reboots" in dialog.question
        await pilot.press("y")
        await sent(pilot, app, "UpdateFirmware · CP-A01")
        form = await choose(pilot, "GetDiagnostics")
        form.query_one("#field-since", Input).value = "2h"
        await pilot.press("ctrl+s")
        await sent(pilot, app, "GetDiagnostics · CP-A01")
    (update, logs) = gateway.calls
    assert update[1] == "UpdateFirmware" and update[2]["location"] == "https://vendor.example/terra-1.2.bin" and update[2]["retries"] == 3
    assert logs[1] == "GetDiagnostics" and logs[2]["location"].startswith("http://depot-box:8080/files/uploads/") and "startTime" in logs[2]


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
async def test_every_operation_from_the_menu_arrives_valid_and_is_recorded(live_service: ConsoleService, clock: Any, version: str) -> None:
    """Each operation of the charger's version, its form filled as an operator would, answered by a strict charge point."""
    if not shutil.which("node") or not (NODE_SCRIPT.parent / "node_modules" / "ocpp-rpc").is_dir():
        pytest.skip("needs Node.js and tests/node's ocpp-rpc (npm ci in tests/node)")
    live_service.firmware.serve_at("http://127.0.0.1:8080")  # where the charger would fetch firmware and upload logs
    central = CentralSystem(live_service, port=0, heartbeat_interval=30, call_timeout=3)
    await central.start()
    identity = f"STRICT-{version[4:].replace('.', '')}"
    record = await live_service.create_charger({"identity": identity, "ocpp_version": version})
    process = await asyncio.create_subprocess_exec(
        "node", str(NODE_SCRIPT), central.url, identity, OcppVersion.parse(version).subprotocol,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    strict = StrictCharger(record.id, process)
    try:
        assert process.stdout is not None
        assert json.loads(await asyncio.wait_for(process.stdout.readline(), 15)) == {"ready": "Accepted"}
        names = [spec.name for spec in await live_service.operation_catalogue(record.id)]
        app = make_app(live_service, clock)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.screen.run_on(record.id, "select")
            await settle(pilot)
            for name in names:
                form = await choose(pilot, name)
                for key, value in params_for(version, name).items():
                    widget = form.query_one(f"#field-{key}")
                    if isinstance(widget, Select):
                        widget.value = str(value)
                    elif isinstance(widget, Checkbox):
                        widget.value = bool(value)
                    else:
                        widget.value = str(value)
                await pilot.press("ctrl+s")
                for _ in range(50):  # a destructive one asks first: yes
                    await pilot.pause(0.02)
                    if isinstance(app.screen, ConfirmDialog):
                        await pilot.press("y")
                        break
                    if not isinstance(app.screen, OperationForm):
                        break
                assert not isinstance(app.screen, OperationForm), (name, [str(e.render()) for e in form.query(".field-error")])
                (told,) = await sent(pilot, app, f"{name} · {identity}")
                assert ": acknowledged" in told, told
                app.clear_notifications()
        actions = await live_service.list_actions(record.id)
        assert len(actions) == len(names)
        assert all(action.state == "acknowledged" and action.duration_ms is not None for action in actions), actions
    finally:
        received = await strict.finish()
        await central.stop()
    methods = {call["method"] for call in received if "method" in call}
    assert methods == {action.operation for action in actions}
    assert not [call for call in received if "invalid" in call]
