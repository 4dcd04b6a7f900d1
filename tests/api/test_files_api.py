"""Firmware and log files over the REST API, end to end with a simulated charger: the operator adds an image,
the charger fetches it from the console and boots with it; the charger uploads its log, the operator downloads it.
Bad input (over the limit, cut short) gets a clear error and changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from console.api.server import ApiServer
from console.core.clock import ManualClock
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.charger import FIRMWARE_VERSION
from console.sim.manager import SimManager


@dataclass
class Lab:
    service: ConsoleService
    server: ApiServer
    client: httpx.AsyncClient  # with the default organization's key
    charger_id: str
    acme_key: str


async def until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        while True:
            outcome = condition()
            if asyncio.iscoroutine(outcome):
                outcome = await outcome
            if outcome:
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


@pytest.fixture
async def lab(service: ConsoleService, clock: ManualClock) -> AsyncIterator[Lab]:
    central = CentralSystem(service, port=0, call_timeout=5)
    await central.start()
    manager = SimManager(service.live, clock, central.url, seed=1, auto_sessions=False)
    service.attach(runtime=manager)
    charger = await service.create_charger({"identity": "LAB-1", "simulated": True, "number_of_connectors": 1})
    await service.start_charger(charger.id)
    _, key = await service.create_api_key("default")
    _, acme_key = await service.create_api_key("acme")
    server = ApiServer(service, port=0, environment="test")
    await server.start()
    service.firmware.serve_at(server.url)
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": key}, timeout=10) as client:
            await until(lambda: manager.state(charger.id)[0] == "online")
            yield Lab(service, server, client, charger.id, acme_key)
    finally:
        await server.stop()
        await manager.close()
        await central.stop()


def leftovers(service: ConsoleService) -> list[Path]:
    """Files on the shelf that are not a kept file or its meta (a partial upload left behind)."""
    root = service.firmware.shelf.root
    return [path for path in root.rglob("*") if path.is_file() and path.parent.name == ".partial"]


async def test_firmware_from_the_console_and_a_log_back_through_the_api(lab: Lab) -> None:
    image = b"ocpp-console-firmware 2.0.0-lab\n" + b"\0" * 50_000
    added = await lab.client.put("/console/firmware/lab.bin", content=image)
    assert added.status_code == 201, added.text
    stored = added.json()
    assert stored["size"] == len(image) and stored["url"] == f"{lab.server.url}/files/firmware/{stored['id']}/lab.bin"
    assert [item["id"] for item in (await lab.client.get("/console/firmware")).json()] == [stored["id"]]
    served = await lab.client.get(stored["url"], headers={"x-api-key": ""})
    assert served.status_code == 200 and served.content == image

    update = await lab.client.post(f"/console/chargers/{lab.charger_id}/firmware", json={"firmware_id": stored["id"], "retries": 1})
    assert update.status_code == 200, update.text
    assert update.json()["state"] == "acknowledged" and update.json()["operation"] == "UpdateFirmware"

    async def installed() -> bool:
        view = (await lab.client.get(f"/console/chargers/{lab.charger_id}")).json()
        return view["firmware_version"] == "2.0.0-lab" and view["firmware_status"] == "Installed"

    await until(installed)
    actions = (await lab.client.get("/console/actions", params={"charger_id": lab.charger_id})).json()
    assert any(action["command"] == "update_firmware" for action in actions)

    logs = await lab.client.post(f"/console/chargers/{lab.charger_id}/logs", json={"log_type": "DiagnosticsLog"})
    assert logs.status_code == 200 and logs.json()["operation"] == "GetDiagnostics"

    async def uploaded() -> list:
        return (await lab.client.get(f"/console/chargers/{lab.charger_id}/uploads")).json()

    await until(uploaded)
    (upload,) = await uploaded()
    assert upload["kind"] == "DiagnosticsLog" and upload["identity"] == "LAB-1" and upload["size"] > 0
    download = await lab.client.get(f"/console/chargers/{lab.charger_id}/uploads/{upload['id']}")
    assert download.status_code == 200 and len(download.content) == upload["size"]
    assert b"LAB-1" in download.content and b"firmware 2.0.0-lab" in download.content


async def test_a_firmware_image_over_the_limit_is_refused_and_nothing_is_kept(lab: Lab) -> None:
    lab.service.firmware.shelf.firmware_max = 1000
    declared = await lab.client.put("/console/firmware/big.bin", content=b"x" * 1001)
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "1000 bytes" in declared.json()["error"]["message"]

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: found out while it arrives
        for _ in range(5):
            yield b"y" * 400

    chunked = await lab.client.put("/console/firmware/big.bin", content=streamed())
    assert chunked.status_code == 413
    assert (await lab.client.get("/console/firmware")).json() == []
    assert leftovers(lab.service) == []


async def test_a_truncated_firmware_upload_is_refused_and_nothing_is_kept(lab: Lab) -> None:
    host, port = lab.server.host, lab.server.port
    reader, writer = await asyncio.open_connection(host, port)
    key = lab.client.headers["x-api-key"]
    writer.write(
        f"PUT /console/firmware/cut.bin HTTP/1.1\r\nHost: {host}\r\nx-api-key: {key}\r\nContent-Length: 5000\r\n\r\n".encode()
        + b"z" * 1000
    )
    await writer.drain()
    writer.close()  # the connection ends 4000 bytes short
    await writer.wait_closed()
    await asyncio.sleep(0.2)
    assert (await lab.client.get("/console/firmware")).json() == []
    assert leftovers(lab.service) == []


async def test_a_chargers_upload_put_multipart_over_the_limit_and_cut_short(lab: Lab) -> None:
    result = await lab.service.firmware.request_logs(lab.charger_id, "DiagnosticsLog")
    location = result.request["location"]
    await until(lambda: lab.service.firmware.uploads(lab.charger_id))  # the charger's own upload
    async with httpx.AsyncClient(timeout=10) as charger:  # a charger has no API key
        put = await charger.put(f"{location}/manual.log", content=b"line 1\nline 2\n")
        assert put.status_code == 201 and put.json()["name"] == "manual.log" and put.json()["size"] == 14
        posted = await charger.post(location, files={"file": ("form.log", b"form data\n", "text/plain")}, data={"note": "x"})
        assert posted.status_code == 201 and posted.json()["name"] == "form.log" and posted.json()["size"] == 10

        lab.service.firmware.shelf.upload_max = 100
        too_big = await charger.post(location, files={"file": ("big.log", b"b" * 101, "text/plain")})
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        cut = b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="cut.log"\r\n\r\nonly part of it'
        truncated = await charger.post(location, content=cut, headers={"content-type": "multipart/form-data; boundary=XYZ"})
        assert truncated.status_code == 400 and truncated.json()["error"]["code"] == "TRUNCATED"
        no_file = b'--XYZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nx\r\n--XYZ--\r\n'
        nothing = await charger.post(location, content=no_file, headers={"content-type": "multipart/form-data; boundary=XYZ"})
        assert nothing.status_code == 422
    names = sorted(item.name for item in lab.service.firmware.uploads(lab.charger_id))
    assert len(names) == 3 and "manual.log" in names and "form.log" in names
    assert leftovers(lab.service) == []


async def test_files_are_the_default_organizations_and_need_a_key(lab: Lab) -> None:
    assert (await lab.client.get("/console/firmware", headers={"x-api-key": ""})).status_code == 401
    acme = {"x-api-key": lab.acme_key}
    assert (await lab.client.get("/console/firmware", headers=acme)).status_code == 404
    assert (await lab.client.get(f"/console/chargers/{lab.charger_id}/uploads", headers=acme)).status_code == 404
    refused = await lab.client.post(f"/console/chargers/{lab.charger_id}/firmware", json={"location": "not a url"})
    assert refused.status_code == 422
    both = await lab.client.post(f"/console/chargers/{lab.charger_id}/firmware", json={})
    assert both.status_code == 422
    assert (await lab.client.get(f"/console/chargers/{lab.charger_id}")).json()["firmware_version"] == FIRMWARE_VERSION


async def test_firmware_and_diagnostics_from_the_shell(lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from console.cli import build_parser
    from console.filescli import files_command

    key = lab.client.headers["x-api-key"]

    async def run(*words: str) -> int:
        return await files_command(build_parser().parse_args([*words, "--url", lab.server.url, "--key", key]))

    image = tmp_path / "sim-3.1.0.bin"
    image.write_bytes(b"\1" * 4096)
    assert await run("firmware", "update", "LAB-1", "--file", str(image), "--wait") == 0
    out = capsys.readouterr().out
    assert "added sim-3.1.0.bin (4,096 bytes)" in out and "UpdateFirmware acknowledged by LAB-1" in out
    assert "LAB-1: Installed (firmware sim-3.1.0)" in out
    assert await run("firmware", "status") == 0
    status = capsys.readouterr().out.splitlines()
    assert status[0].split() == ["CHARGER", "FIRMWARE", "UPDATE", "LOG", "UPLOAD"]
    assert status[1].split() == ["LAB-1", "sim-3.1.0", "Installed", "-"]
    assert await run("firmware", "list") == 0
    assert '"name": "sim-3.1.0.bin"' in capsys.readouterr().out

    assert await run("diagnostics", "request", "LAB-1") == 0
    assert "GetDiagnostics acknowledged by LAB-1" in capsys.readouterr().out
    await until(lambda: lab.service.firmware.uploads(lab.charger_id))
    (upload,) = lab.service.firmware.uploads(lab.charger_id)
    assert await run("diagnostics", "get", "LAB-1", upload.id, "-o", str(tmp_path / "got.log")) == 0
    assert b"firmware sim-3.1.0" in (tmp_path / "got.log").read_bytes()

    lab.service.firmware.shelf.firmware_max = 100
    assert await run("firmware", "add", str(image)) == 1
    assert "413" in capsys.readouterr().err
    assert await run("firmware", "update", "LAB-1", "--location", "nope") == 1


async def test_a_rolling_update_over_the_api(lab: Lab) -> None:
    image = b"ocpp-console-firmware 2.1.0\n"
    stored = (await lab.client.put("/console/firmware/r.bin", content=image)).json()
    started = await lab.client.post("/console/firmware/rollouts", json={"charger_ids": [lab.charger_id], "batch": 1, "firmware_id": stored["id"]})
    assert started.status_code == 202, started.text
    rollout_id = started.json()["id"]

    async def over() -> bool:
        return (await lab.client.get(f"/console/firmware/rollouts/{rollout_id}")).json()["state"] != "running"

    await until(over)
    done = (await lab.client.get(f"/console/firmware/rollouts/{rollout_id}")).json()
    assert done["state"] == "completed" and done["installed"] == [lab.charger_id] and done["statuses"][lab.charger_id] == "Installed"
    assert [item["id"] for item in (await lab.client.get("/console/firmware/rollouts")).json()] == [rollout_id]
    assert (await lab.client.get("/console/firmware/rollouts", headers={"x-api-key": lab.acme_key})).json() == []
    assert (await lab.client.get(f"/console/firmware/rollouts/{rollout_id}", headers={"x-api-key": lab.acme_key})).status_code == 404
    twice = await lab.client.post("/console/firmware/rollouts", json={"charger_ids": [lab.charger_id, lab.charger_id], "location": "http://x/a.bin"})
    assert twice.status_code == 422


async def test_the_embedded_console_serves_files_on_loopback(tmp_path: Path) -> None:
    from console.depot import Depot, DepotSettings

    depot = Depot(DepotSettings(db_url=f"sqlite:///{tmp_path / 'e.db'}", ocpp_port=0, simulate=False, first_run_fleet=None))
    await depot.start()
    try:
        firmware = depot.service.firmware
        assert depot.api is None and firmware.base_url is not None and firmware.base_url.startswith("http://127.0.0.1:")
        assert firmware.shelf.root == tmp_path / "e.db-files"
        image = tmp_path / "emb-1.0.bin"
        image.write_bytes(b"abc")
        stored = await firmware.add_firmware_file(image)
        async with httpx.AsyncClient() as client:
            served = await client.get(stored.url)
            assert served.status_code == 200 and served.content == b"abc"
            assert (await client.get(f"{firmware.base_url}/console/firmware")).status_code == 404  # no REST API here
    finally:
        await depot.stop()
