"""`ocpp-console keys` and `serve --api-port 0 --log-json` as their own processes: a key works over HTTP, SIGTERM drains."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import httpx

from console.core.clock import SystemClock
from console.core.fleet import FleetService
from console.core.keys import ApiKeys
from console.core.store import Store


async def run(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out.decode(), err.decode()


def create_key_in_process(db: str, org: str) -> str:
    store = Store(db)
    try:
        fleet = FleetService(store, SystemClock())
        return store.run_sync(lambda session: ApiKeys(SystemClock()).create(session, fleet.ensure_org(session, org)))[1]
    finally:
        store.close()


async def test_keys_and_a_headless_server(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {**os.environ, "OCPP_CONSOLE_DB": db}
    code, key, _ = await run("keys", "create", "--org", "default", "--db", db, env=env)
    assert code == 0 and key.strip().startswith("ocpp_sk_")
    key = key.strip()
    other = create_key_in_process(db, "acme")
    code, listed, _ = await run("keys", "list", env=env)
    key_ids = [line.split("\t")[0] for line in listed.splitlines()]
    assert len(key_ids) == 2 and key not in listed

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", "serve", "--ocpp-port", "0", "--api-port", "0", "--no-sim", "--log-json", "--demo",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )
    seen: list[dict] = []
    try:
        assert process.stdout is not None

        async def api_url() -> str:
            while True:
                line = await process.stdout.readline()
                assert line, f"serve exited early: {seen}"
                entry = json.loads(line)  # every line is JSON
                seen.append(entry)
                if entry["message"].startswith("REST API listening on "):
                    return entry["message"].removeprefix("REST API listening on ")

        url = await asyncio.wait_for(api_url(), 20)
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            devices = (await client.get("/ev-charger", headers={"x-api-key": key})).json()
            assert devices["success"] is True and devices["data"]["pagination"]["total"] == 12
            assert (await client.get("/ocpp/chargers", headers={"Authorization": f"Bearer {other}"})).json() == []
            health = (await client.get("/health", headers={"x-api-key": key})).json()["data"]
            assert health["store"]["reachable"] and health["ocpp"]["url"].startswith("ws://")
            # Revoked from another process: refused at once.
            code, _, _ = await run("keys", "revoke", key_ids[0], env=env)
            assert code == 0
            assert (await client.get("/ev-charger", headers={"x-api-key": key})).status_code == 401
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 15) == 0
    rest = [json.loads(line) for line in (await process.stdout.read()).decode().splitlines() if line.strip()]
    assert rest and rest[-1]["message"] == "stopped"
