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
