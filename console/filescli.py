"""`ocpp-console firmware …` and `ocpp-console diagnostics …`: firmware and logs on a running server, through its REST API.

Each prints what the server answered (JSON for lists) and exits 1 when a request
failed, the operation failed or (with --wait) the update did not install.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

CHUNK = 64 * 1024
# How often --wait asks where an update stands (s), and for how long at most.
POLL_S = 1.0
WAIT_S = 3600.0


class Refused(Exception):
    """The server answered with an error: its message."""


async def _stream(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, CHUNK):
            yield chunk


def _answer(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json() if response.headers.get("content-type", "").startswith("application/json") else response.content
    try:
        error = response.json().get("error") or {}
        message = error.get("message") or response.text
    except ValueError:
        message = response.text
    raise Refused(f"{response.status_code}: {message}")


class Files:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self._ids: dict[str, str] | None = None

    async def charger_id(self, name: str) -> str:
        """A charger id from an id or an identity."""
        if self._ids is None:
            chargers = _answer(await self.client.get("/console/chargers"))
            self._ids = {charger["identity"]: charger["id"] for charger in chargers}
        return self._ids.get(name, name)

    async def add(self, path: Path) -> dict[str, Any]:
        if not path.is_file():
            raise Refused(f"{path}: no such file")
        headers = {"content-length": str(path.stat().st_size)}
        return _answer(await self.client.put(f"/console/firmware/{path.name}", content=_stream(path), headers=headers))

    async def update(self, args: argparse.Namespace) -> int:
        body: dict[str, Any] = {
            "retrieve_at": args.retrieve_at,
            "retries": args.retries,
            "retry_interval": args.retry_interval,
            "signed": args.signed,
            "signature": args.signature,
            "signing_certificate": args.certificate.read_text() if args.certificate else None,
        }
        if args.file is not None:
            added = await self.add(args.file)
            print(f"added {added['name']} ({added['size']:,} bytes) as {added['id']}: {added['url']}")
            body["firmware_id"] = added["id"]
        elif args.firmware_id is not None:
            body["firmware_id"] = args.firmware_id
        else:
            body["location"] = args.location
        body = {key: value for key, value in body.items() if value not in (None, False)}
        ids = [await self.charger_id(name) for name in args.chargers]
        if len(ids) > 1 or args.batch is not None:
            rollout = _answer(await self.client.post("/console/firmware/rollouts", json={**body, "charger_ids": ids, "batch": args.batch or 1}))
            print(f"rollout {rollout['id']}: {len(ids)} chargers, {rollout['batch']} at a time")
            return await self._follow_rollout(rollout["id"]) if args.wait else 0
        result = _answer(await self.client.post(f"/console/chargers/{ids[0]}/firmware", json=body))
        print(f"{result['operation']} {result['state']} by {result['identity']}" + (f": {result['detail']}" if result.get("detail") else ""))
        if result["state"] not in ("acknowledged", "completed"):
            return 1
        return await self._follow_charger(ids[0]) if args.wait else 0

    async def _follow_charger(self, charger_id: str) -> int:
        seen = None
        async with asyncio.timeout(WAIT_S):
            while True:
                view = _answer(await self.client.get(f"/console/chargers/{charger_id}"))
                status = view.get("firmware_status")
                if status != seen:
                    print(f"{view['identity']}: {status} (firmware {view.get('firmware_version')})")
                    seen = status
                if status == "Installed":
                    return 0
                if status and status.endswith("Failed") or status in ("InvalidSignature", "InstallVerificationFailed"):
                    return 1
                await asyncio.sleep(POLL_S)

    async def _follow_rollout(self, rollout_id: str) -> int:
        async with asyncio.timeout(WAIT_S):
            while True:
                rollout = _answer(await self.client.get(f"/console/firmware/rollouts/{rollout_id}"))
                if rollout["state"] != "running":
                    print(json.dumps(rollout, indent=2))
                    return 0 if rollout["state"] == "completed" else 1
                await asyncio.sleep(POLL_S)

    async def download(self, charger: str, upload_id: str, output: Path | None) -> Path:
        charger_id = await self.charger_id(charger)
        uploads = _answer(await self.client.get(f"/console/chargers/{charger_id}/uploads"))
        found = next((item for item in uploads if item["id"] == upload_id), None)
        if found is None:
            raise Refused(f"no upload {upload_id!r} from {charger}")
        target = output or Path(found["name"])
        async with self.client.stream("GET", f"/console/chargers/{charger_id}/uploads/{upload_id}") as response:
            if not response.is_success:
                await response.aread()
                _answer(response)
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        return target


def fleet_lines(chargers: list[dict[str, Any]]) -> list[str]:
    """One line per charger: identity, firmware version, where an update stands, the last log upload."""
    rows = [("CHARGER", "FIRMWARE", "UPDATE", "LOG UPLOAD")] + [
        (
            charger["identity"],
            charger.get("firmware_version") or "-",
            charger.get("firmware_status") or "-",
            charger.get("upload_status") or "-",
        )
        for charger in sorted(chargers, key=lambda charger: charger["identity"])
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return [f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip() for row in rows]


async def files_command(args: argparse.Namespace) -> int:
    if not args.key:
        print("ocpp-console: an API key is needed (--key or $OCPP_CONSOLE_KEY)", file=sys.stderr)
        return 2
    async with httpx.AsyncClient(base_url=args.url, headers={"x-api-key": args.key}, timeout=60) as client:
        files = Files(client)
        try:
            return await _run(files, args)
        except Refused as error:
            print(f"ocpp-console: {error}", file=sys.stderr)
            return 1
        except httpx.HTTPError as error:
            print(f"ocpp-console: cannot reach {args.url}: {error}", file=sys.stderr)
            return 1
        except TimeoutError:
            print(f"ocpp-console: gave up waiting after {WAIT_S:g} s", file=sys.stderr)
            return 1


async def _run(files: Files, args: argparse.Namespace) -> int:
    client = files.client
    if args.command == "firmware":
        if args.firmware_command == "add":
            added = await files.add(args.file)
            print(f"added {added['name']} ({added['size']:,} bytes, sha256 {added['sha256']}) as {added['id']}: {added['url']}")
        elif args.firmware_command == "list":
            print(json.dumps(_answer(await client.get("/console/firmware")), indent=2))
        elif args.firmware_command == "status":
            for line in fleet_lines(_answer(await client.get("/console/chargers"))):
                print(line)
        elif args.firmware_command == "rollouts":
            print(json.dumps(_answer(await client.get("/console/firmware/rollouts")), indent=2))
        else:
            return await files.update(args)
        return 0
    if args.diagnostics_command == "request":
        charger_id = await files.charger_id(args.charger)
        body = {"log_type": args.log_type, "since": args.since, "until": args.until}
        result = _answer(await client.post(f"/console/chargers/{charger_id}/logs", json={k: v for k, v in body.items() if v}))
        print(f"{result['operation']} {result['state']} by {result['identity']}" + (f": {result['detail']}" if result.get("detail") else ""))
        return 0 if result["state"] in ("acknowledged", "completed") else 1
    if args.diagnostics_command == "list":
        charger_id = await files.charger_id(args.charger)
        print(json.dumps(_answer(await client.get(f"/console/chargers/{charger_id}/uploads")), indent=2))
        return 0
    target = await files.download(args.charger, args.upload_id, args.output)
    print(f"wrote {target}")
    return 0
