"""Firmware updates and log uploads end to end: a simulated charger fetches the image the console serves,
reports each stage, reboots into the new version; it uploads a real log file to the console's receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from console.api.server import ApiServer
from console.core.models import ChargerEvent
from console.core.service import ConsoleService
from console.sim.charger import FIRMWARE_VERSION
from console.sim.manager import SimManager
from simtools import eventually, online_charger, rows, settle

STAGES = {
    "OCPP1.6": ["Downloading", "Downloaded", "Installing", "Installed"],
    "OCPP2.0.1": ["Downloading", "Downloaded", "Installing", "InstallRebooting", "Installed"],
}


@pytest.fixture
async def file_server(service: ConsoleService) -> AsyncIterator[ApiServer]:
    server = ApiServer(service, "127.0.0.1", 0, files_only=True)
    await server.start()
    service.firmware.serve_at(server.url)
    yield server
    await server.stop()


async def statuses(service: ConsoleService, charger_id: str, kind: str) -> list[str]:
    events = await rows(service, select(ChargerEvent).where(ChargerEvent.charger_id == charger_id, ChargerEvent.kind == kind))
    return [event.data["status"] for event in sorted(events, key=lambda event: event.id)]


async def firmware_image(service: ConsoleService, tmp_path: Path, name: str = "sim-0.3.0.bin") -> str:
    path = tmp_path / name
    path.write_bytes(b"\x7fELF" + bytes(range(256)) * 64)
    stored = await service.firmware.add_firmware_file(path)
    assert stored.size == path.stat().st_size and stored.url and stored.url.endswith(f"/{name}")
    return stored.id


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
async def test_a_charger_installs_the_served_firmware_and_boots_with_it(
    service: ConsoleService, manager: SimManager, file_server: ApiServer, tmp_path: Path, version: str
) -> None:
    charger_id = await online_charger(service, manager, version=version)
    assert (await service.get_charger(charger_id)).firmware_version == FIRMWARE_VERSION
    firmware_id = await firmware_image(service, tmp_path)

    result = await service.firmware.update(charger_id, firmware_id=firmware_id, retries=2, retry_interval=30)
    assert result.state == "acknowledged", result.detail
    assert result.operation == "UpdateFirmware" and result.command == "update_firmware"
    assert result.request["firmware" if version != "OCPP1.6" else "location"]

    async def installed() -> bool:
        view = await service.get_charger(charger_id)
        return view.firmware_status == "Installed" and view.firmware_version == "sim-0.3.0"

    await eventually(installed)
    await eventually(lambda: manager.state(charger_id)[0] == "online")
    await settle(manager)
    assert await statuses(service, charger_id, "FirmwareStatus") == STAGES[version]
    assert manager.charger(charger_id).firmware_version == "sim-0.3.0"


async def test_a_download_that_fails_is_reported_and_the_version_stays(
    service: ConsoleService, manager: SimManager, file_server: ApiServer
) -> None:
    charger_id = await online_charger(service, manager)
    result = await service.firmware.update(charger_id, location=f"{file_server.url}/files/firmware/fw-none/x.bin")
    assert result.state == "acknowledged"
    await eventually(lambda: service.live.view(charger_id).firmware_status == "DownloadFailed")
    assert await statuses(service, charger_id, "FirmwareStatus") == ["Downloading", "DownloadFailed"]
    assert service.live.view(charger_id).firmware_version == FIRMWARE_VERSION


async def test_a_signed_update_reports_the_signature_stage(
    service: ConsoleService, manager: SimManager, file_server: ApiServer, tmp_path: Path
) -> None:
    charger_id = await online_charger(service, manager)
    firmware_id = await firmware_image(service, tmp_path, "sim-0.4.0.bin")
    result = await service.firmware.update(
        charger_id, firmware_id=firmware_id, signed=True, signature="c2lnbmF0dXJl", signing_certificate="-----BEGIN CERTIFICATE-----"
    )
    assert result.state == "acknowledged" and result.operation == "SignedUpdateFirmware"
    await eventually(lambda: service.live.view(charger_id).firmware_version == "sim-0.4.0")
    await eventually(lambda: service.live.view(charger_id).firmware_status == "Installed")
    assert "SignatureVerified" in await statuses(service, charger_id, "FirmwareStatus")


@pytest.mark.parametrize(("version", "log_type", "kind"), [
    ("OCPP1.6", "DiagnosticsLog", "DiagnosticsStatus"),
    ("OCPP1.6", "SecurityLog", "LogStatus"),
    ("OCPP2.0.1", "DiagnosticsLog", "LogStatus"),
])
async def test_a_charger_uploads_its_log_to_the_console(
    service: ConsoleService, manager: SimManager, file_server: ApiServer, version: str, log_type: str, kind: str
) -> None:
    charger_id = await online_charger(service, manager, version=version)
    result = await service.firmware.request_logs(charger_id, log_type)
    assert result.state == "acknowledged", result.detail
    await eventually(lambda: service.firmware.uploads(charger_id))
    (upload,) = service.firmware.uploads(charger_id)
    assert upload.kind == log_type and upload.identity == "CP-1" and upload.size > 0
    _, path = service.firmware.upload_file(charger_id, upload.id)
    text = path.read_text()
    assert "CP-1" in text and f"firmware {FIRMWARE_VERSION}" in text
    await settle(manager)
    await eventually(lambda: statuses(service, charger_id, kind))
    assert await statuses(service, charger_id, kind) == ["Uploading", "Uploaded"]
    word = "diagnostics" if kind == "DiagnosticsStatus" else "log"
    assert service.live.view(charger_id).upload_status == f"{word} Uploaded"


async def test_an_upload_to_an_unknown_url_is_refused(service: ConsoleService, file_server: ApiServer) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.put(f"{file_server.url}/files/uploads/not-a-token/a.log", content=b"x")
    assert answer.status_code == 404


async def test_a_rollout_updates_n_at_a_time_and_stops_on_the_first_failure(
    service: ConsoleService, manager: SimManager, file_server: ApiServer, tmp_path: Path
) -> None:
    ids = [await online_charger(service, manager, identity=f"CP-{n}") for n in range(1, 4)]
    firmware_id = await firmware_image(service, tmp_path)
    rollout = await service.firmware.start_rollout(ids[:2], batch=2, firmware_id=firmware_id)
    assert rollout.state == "running" and rollout.running == () and rollout.pending == tuple(ids[:2])
    await eventually(lambda: service.firmware.rollout(rollout.id).state != "running")
    done = service.firmware.rollout(rollout.id)
    assert done.state == "completed" and set(done.installed) == set(ids[:2]), done
    assert all(service.live.view(charger_id).firmware_version == "sim-0.3.0" for charger_id in ids[:2])

    broken = f"{file_server.url}/files/firmware/fw-none/sim-9.bin"
    stopped = await service.firmware.start_rollout(ids, batch=1, location=broken)
    await eventually(lambda: service.firmware.rollout(stopped.id).state != "running")
    view = service.firmware.rollout(stopped.id)
    assert view.state == "stopped" and view.failed == (ids[0],) and view.pending == tuple(ids[1:])
    assert view.statuses[ids[0]] == "DownloadFailed"
    assert await statuses(service, ids[2], "FirmwareStatus") == []
