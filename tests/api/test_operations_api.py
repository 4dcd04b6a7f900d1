"""Every operation of the catalogue, sent from the REST API and from `ocpp-console op`, to an independent
strict-schema charge point (npm's ocpp-rpc in strict mode, tests/node/operations.js) of each version: each
arrives valid and is recorded as an action with its timing and outcome."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.api.server import ApiServer
from console.cli import main
from console.core import catalogue
from console.core.operations import BUILDERS, OPERATIONS
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from operation_samples import BY_VERSION, PARAMS, params_for

NODE_DIR = Path(__file__).resolve().parent.parent / "node"


def steady(payload: dict[str, Any]) -> dict[str, Any]:
    """A payload without what is new each time (request ids, a log upload's URL, a local list's version)."""
    changing = {"requestId", "remoteStartId", "location", "listVersion", "versionNumber", "log"}
    return {key: value for key, value in payload.items() if key not in changing}


@dataclass
class Charger:
    """The strict charge point's process and what it received."""

    process: asyncio.subprocess.Process
    received: list[dict[str, Any]]
    invalid: list[str]

    async def read_until(self, method: str, count: int) -> None:
        """Read its lines until `method` has arrived `count` times."""
        while sum(1 for call in self.received if call["method"] == method) < count:
            assert self.process.stdout is not None
            line = await asyncio.wait_for(self.process.stdout.readline(), 10)
            assert line, "the charge point stopped"
            item = json.loads(line)
            if "invalid" in item:
                self.invalid.append(item["invalid"])
            elif "method" in item:
                self.received.append(item)


@dataclass
class Setup:
    service: ConsoleService
    url: str
    key: str
    ocpp_url: str
    client: httpx.AsyncClient


@pytest.fixture(scope="session")
def node_script() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "the tests need Node.js and npm"
    if not (NODE_DIR / "node_modules" / "ocpp-rpc").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, capture_output=True, timeout=300)
    return NODE_DIR / "operations.js"


@pytest.fixture
async def setup(service: ConsoleService) -> AsyncIterator[Setup]:
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=3)
    await central.start()
    _, key = await service.create_api_key("default")
    server = ApiServer(service, port=0, environment="test")
    await server.start()
    service.firmware.serve_at(server.url)
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers={"x-api-key": key}) as client:
        yield Setup(service, server.url, key, central.url, client)
    await server.stop()
    await central.stop()


async def start_charger(script: Path, ocpp_url: str, identity: str, version: str) -> Charger:
    protocol = "ocpp1.6" if version == "OCPP1.6" else "ocpp2.0.1"
    process = await asyncio.create_subprocess_exec(
        "node", str(script), ocpp_url, identity, protocol,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 15)
    assert json.loads(line) == {"ready": "Accepted"}, line
    return Charger(process, [], [])


async def stop_charger(charger: Charger) -> None:
    assert charger.process.stdin is not None
    charger.process.stdin.close()
    try:
        await asyncio.wait_for(charger.process.wait(), 5)
    except TimeoutError:
        charger.process.kill()


def test_the_catalogue_covers_every_operation_of_every_version() -> None:
    for version, names in OPERATIONS.items():
        assert {spec.name for spec in catalogue.catalogue_for(version)} == set(names), version
    built_elsewhere = {"SendLocalList", "UpdateFirmware", "SignedUpdateFirmware", "GetDiagnostics", "GetLog"}
    assert set(BUILDERS) | built_elsewhere == set(catalogue.BY_NAME)
    assert set(PARAMS) == set(catalogue.BY_NAME)


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
async def test_every_operation_from_rest_and_cli_arrives_valid_and_is_recorded(
    node_script: Path, setup: Setup, version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    service = setup.service
    identity = f"STRICT-{version[4:].replace('.', '')}"
    record = await service.create_charger({"identity": identity, "ocpp_version": version})
    charger = await start_charger(node_script, setup.ocpp_url, identity, version)
    try:
        listed = (await setup.client.get(f"/console/chargers/{record.id}/operations")).json()
        names = [entry["name"] for entry in listed]
        assert set(names) == set(OPERATIONS[version])
        sent: dict[str, int] = {}
        for name in names:
            spec = catalogue.BY_NAME[name]
            params = params_for(version, name)
            # From the REST API: the operation's own endpoint.
            response = await setup.client.post(f"/console/chargers/{record.id}/operations/{spec.slug}", json=params)
            assert response.status_code == 200, (name, response.text)
            result = response.json()
            assert result["state"] == "acknowledged", (name, result)
            assert result["duration_ms"] is not None and result["sent_at"] and result["answered_at"], result
            action = await service.get_action(result["action_id"])
            assert (action.state, action.operation) == ("acknowledged", result["operation"])
            assert action.duration_ms is not None
            # From the CLI, by the charger's identity.
            words = [f"{key}={str(value).lower() if isinstance(value, bool) else value}" for key, value in params.items()]
            argv = ["op", identity, spec.slug, *(arg for word in words for arg in ("--param", word)), "--url", setup.url, "--key", setup.key]
            code = await asyncio.to_thread(main, argv)
            out = capsys.readouterr().out
            assert code == 0, (name, out)
            assert f"{result['operation']} to {identity}: acknowledged" in out, out
            action_id = re.search(r"\(action (\S+)\)", out).group(1)  # type: ignore[union-attr]
            by_cli = await service.get_action(action_id)
            assert (by_cli.operation, by_cli.state, steady(by_cli.parameters)) == (result["operation"], "acknowledged", steady(action.parameters))
            assert by_cli.duration_ms is not None
            sent[result["operation"]] = sent.get(result["operation"], 0) + 2
            await charger.read_until(result["operation"], sent[result["operation"]])
        assert charger.invalid == []
    finally:
        await stop_charger(charger)


async def test_refusals_and_failures_from_the_cli_rest_and_the_attach_client(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    from console.api.client import RemoteBackend
    from console.core.errors import ValidationFailed

    service = setup.service
    record = await service.create_charger({"identity": "AWAY-201", "ocpp_version": "OCPP2.0.1"})

    def op(*words: str) -> list[str]:
        return ["op", *words, "--url", setup.url, "--key", setup.key]

    # An operation the charger's version does not have: a bad command line, nothing sent.
    assert await asyncio.to_thread(main, op("AWAY-201", "get-configuration")) == 2
    assert "has no get-configuration" in capsys.readouterr().err
    # A bad parameter: the server names it.
    assert await asyncio.to_thread(main, op("AWAY-201", "get-base-report", "-p", "report_base=Everything")) == 1
    assert "report_base" in capsys.readouterr().err
    # Offline: recorded as failed, exit 1.
    assert await asyncio.to_thread(main, op("AWAY-201", "reset", "-p", "type=immediate")) == 1
    out = capsys.readouterr().out
    assert "Reset to AWAY-201: failed" in out and "offline" in out
    assert await service.list_actions(record.id) != []
    # Either version's word for a reset.
    response = await setup.client.post(f"/console/chargers/{record.id}/operations/reset", json={"type": "Hard"})
    assert response.json()["request"] == {"type": "Immediate"}
    # The raw escape hatch is checked against the charger's schema all the same.
    response = await setup.client.post(f"/console/chargers/{record.id}/operations", json={"operation": "Reset", "payload": {"type": "Hard"}})
    assert response.status_code == 422 and "type" in response.text
    # Attach mode: the same catalogue and outcomes through the HTTP backend.
    backend = RemoteBackend(setup.url, setup.key)
    try:
        await backend.connect()
        specs = await backend.operation_catalogue(record.id)
        assert [spec.name for spec in specs] == [spec.name for spec in catalogue.catalogue_for("OCPP2.0.1")]
        assert specs[0].params == catalogue.catalogue_for("OCPP2.0.1")[0].params
        result = await backend.run_operation(record.id, "TriggerMessage", {"requested_message": "Heartbeat"})
        assert (result.operation, result.state, result.reason) == ("TriggerMessage", "failed", "offline")
        with pytest.raises(ValidationFailed) as refused:
            await backend.run_operation(record.id, "SetVariables", {"key": "NoDot", "value": "1"})
        assert "key" in refused.value.problems
    finally:
        await backend.aclose()


def test_parameters_are_read_by_kind_with_every_problem_named() -> None:
    from datetime import datetime, timezone

    from console.core.errors import ValidationFailed

    now = datetime(2026, 4, 2, 9, 0, tzinfo=timezone.utc)
    spec = catalogue.spec_for("OCPP1.6", "reserve-now")
    values = catalogue.check_params(spec, {"reservation_id": "7", "id_tag": "T", "expiry": "2h"}, now)
    assert values == {"reservation_id": 7, "connector_id": 1, "expiry": datetime(2026, 4, 2, 11, 0, tzinfo=timezone.utc), "id_tag": "T"}
    with pytest.raises(ValidationFailed) as refused:
        catalogue.check_params(spec, {"reservation_id": "x", "expiry": "soon", "colour": "red"}, now)
    assert set(refused.value.problems) == {"reservation_id", "expiry", "id_tag", "colour"}
    assert catalogue.spec_for("OCPP1.6", "GetLog").param("log_type").choices == ("SecurityLog",)  # type: ignore[union-attr]
    assert catalogue.spec_for("OCPP1.6", "Reset").confirmation({"type": "Hard"})
    assert catalogue.spec_for("OCPP1.6", "Reset").confirmation({"type": "Soft"}) is None


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1", "OCPP2.1"])
def test_every_built_payload_passes_its_versions_schema(version: str) -> None:
    """2.1 too (no strict 2.1 charger here): each operation built from its parameters is valid for the version."""
    from datetime import datetime, timezone

    from console.core.operations import build_request, request_problem

    now = datetime(2026, 4, 2, 9, 0, tzinfo=timezone.utc)
    overrides = BY_VERSION["OCPP2.0.1" if version == "OCPP2.1" else version]
    for spec in catalogue.catalogue_for(version):
        if spec.name not in BUILDERS:
            continue  # local lists, firmware and logs: built by their services, sent in the test above
        values = catalogue.check_params(spec, {**PARAMS[spec.name], **overrides.get(spec.name, {})}, now)
        operation, payload = build_request(version, spec.name, values)
        assert request_problem(version, operation, payload) is None, (spec.name, payload)
