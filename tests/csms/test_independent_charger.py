"""The replay cases again, sent by an independent OCPP implementation: npm's ocpp-rpc in strict mode.

Its client checks every request it sends and every answer the console gives
against the OCPP schemas; a non-conforming answer fails the call. The set-up
installs it from npm into tests/node (pinned by package-lock.json) when it is
not there yet.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from console.core.models import Transaction
from console.core.service import ConsoleService
from console.csms.server import CentralSystem

NODE_DIR = Path(__file__).resolve().parent.parent / "node"


@pytest.fixture(scope="session")
def ocpp_rpc() -> Path:
    """The replay script, with ocpp-rpc installed beside it."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "the tests need Node.js and npm (the machine's python image has both)"
    if not (NODE_DIR / "node_modules" / "ocpp-rpc").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, capture_output=True, timeout=300)
    return NODE_DIR / "replay.js"


async def replay(script: Path, url: str, scenario: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        "node", str(script), url, scenario, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert "error" not in result, result
    assert result["invalid"] == []
    return result["answers"]


async def stored(service: ConsoleService, charger_id: str) -> list[Transaction]:
    await service.writer.flush()
    return list(
        await service.store.run(
            lambda session: session.exec(select(Transaction).where(Transaction.charger_id == charger_id).order_by(Transaction.id)).all()
        )
    )


async def test_an_independent_16_charger_gets_valid_answers_and_every_kwh_once(
    ocpp_rpc: Path, service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "IND-16"})
    answers = await replay(ocpp_rpc, central_system.url, "ocpp16")
    assert answers["boot"]["status"] == "Accepted"
    assert answers["start"]["transactionId"] == answers["startAgain"]["transactionId"]
    assert answers["superseding"]["transactionId"] != answers["start"]["transactionId"]
    rows = {row.transaction_ref: row for row in await stored(service, charger.id)}
    assert len(rows) == 3
    reconstructed = rows["987654"]
    assert (reconstructed.reconstructed, reconstructed.energy_wh) == (True, 14_000)
    superseded = rows[str(answers["start"]["transactionId"])]
    assert (superseded.closed_by, superseded.energy_wh) == ("superseded", 1000)  # 5000 -> 6000, the phases summed
    backwards = rows[str(answers["superseding"]["transactionId"])]
    assert backwards.energy_wh is None and backwards.meter_anomaly
    assert sum(1 for row in rows.values() if row.stopped_at is None) == 0


async def test_an_independent_201_station_gets_valid_answers_and_no_phantom_sessions(
    ocpp_rpc: Path, service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "IND-201", "ocpp_version": "OCPP2.0.1"})
    answers = await replay(ocpp_rpc, central_system.url, "ocpp201")
    assert answers["ended"] == answers["endedAgain"]
    assert answers["vendor"]["status"] == "UnknownVendorId"
    rows = {row.transaction_ref: row for row in await stored(service, charger.id)}
    assert set(rows) == {"tx-ind-1", "tx-ind-2"}
    assert (rows["tx-ind-1"].energy_wh, rows["tx-ind-1"].missing_seq_nos, rows["tx-ind-1"].incomplete) == (8000, "1", True)
    assert (rows["tx-ind-2"].incomplete, rows["tx-ind-2"].energy_wh) == (True, None)


async def presenting_tokens(script: Path, service: ConsoleService, central: CentralSystem, charger_id: str, scenario: str) -> dict[str, Any]:
    """Run a tokens scenario; once the charger has started its session, push its local list and ask its version."""
    process = await asyncio.create_subprocess_exec(
        "node", str(script), central.url, scenario, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        for _ in range(1000):
            if await stored(service, charger_id):
                break
            await asyncio.sleep(0.02)
        pushed = await service.push_local_list(charger_id)
        assert pushed.acknowledged, pushed
        asked = await service.local_list_version(charger_id)
        assert asked.acknowledged, asked
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert "error" not in result and result["invalid"] == [], result
    return result["answers"]


async def test_an_independent_16_charger_presenting_tokens_gets_the_registrys_answers_and_its_local_list(
    ocpp_rpc: Path, service: ConsoleService, central_system: CentralSystem
) -> None:
    from test_tokens import registry, a_location

    from console.core.tokens import REJECT

    charger = await service.create_charger({"identity": "IND-16"})
    await registry(service, await a_location(service, "Elsewhere"))
    service.tokens.unknown = REJECT
    answers = await presenting_tokens(ocpp_rpc, service, central_system, charger.id, "tokens16")
    assert answers["VALID-1"] == {"status": "Accepted", "expiryDate": "2027-01-31T00:00:00Z", "parentIdTag": "FLEET-A"}
    assert answers["BLOCKED-1"] == {"status": "Blocked"}
    assert answers["EXPIRED-1"]["status"] == answers["LAPSED-1"]["status"] == "Expired"
    assert answers["ELSEWHERE-1"] == answers["NOBODY"] == {"status": "Invalid"}
    assert answers["start"]["idTagInfo"]["status"] == "Accepted"
    assert answers["localList"]["version"] == 1 and answers["localList"]["entries"] == {
        "VALID-1": "Accepted", "BLOCKED-1": "Blocked", "EXPIRED-1": "Expired", "LAPSED-1": "Expired", "ABCD1234": "Accepted",
    }  # ELSEWHERE-1 is valid at another location only
    status = await service.local_list(charger.id)
    assert (status.version, status.current) == (1, True)


async def test_an_independent_201_station_presenting_tokens_gets_the_registrys_answers_and_its_local_list(
    ocpp_rpc: Path, service: ConsoleService, central_system: CentralSystem
) -> None:
    from test_tokens import registry, a_location

    charger = await service.create_charger({"identity": "IND-201", "ocpp_version": "OCPP2.0.1"})
    await registry(service, await a_location(service, "Elsewhere"))
    answers = await presenting_tokens(ocpp_rpc, service, central_system, charger.id, "tokens201")
    assert answers["VALID-1"] == {
        "status": "Accepted", "cacheExpiryDateTime": "2027-01-31T00:00:00Z", "groupIdToken": {"idToken": "FLEET-A", "type": "Central"},
    }
    assert answers["BLOCKED-1"] == {"status": "Blocked"}
    assert answers["EXPIRED-1"]["status"] == answers["LAPSED-1"]["status"] == "Expired"
    assert answers["ELSEWHERE-1"] == {"status": "NotAtThisLocation"}
    assert answers["NOBODY"] == {"status": "Accepted"}  # unknown: a lab's default
    assert answers["started"] == {"idTokenInfo": {"status": "Blocked"}}
    assert answers["localList"]["version"] == 1 and answers["localList"]["entries"] == {
        "VALID-1": "Accepted", "BLOCKED-1": "Blocked", "EXPIRED-1": "Expired", "LAPSED-1": "Expired", "ABCD1234": "Accepted",
    }
