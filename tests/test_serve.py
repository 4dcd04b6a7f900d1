"""`ocpp-console serve` as its own process: the sample fleet with --demo, a charger from outside, clean stop."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import RegistrationStatus
from websockets.asyncio.client import connect


async def read_until(stream: asyncio.StreamReader, pattern: str, seen: list[str], timeout: float = 15) -> re.Match[str]:
    async def scan() -> re.Match[str]:
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError("serve exited early:\n" + "".join(seen))
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    return await asyncio.wait_for(scan(), timeout)


async def test_serve_accepts_a_charger_from_another_process(tmp_path: Path) -> None:
    env = {**os.environ, "OCPP_CONSOLE_DB": f"sqlite:///{tmp_path / 'serve.db'}"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", "serve", "--ocpp-port", "0", "--api-port", "0", "--no-sim", "--demo",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        await read_until(process.stdout, r"imported 12 chargers", seen)
        url = (await read_until(process.stdout, r"listening on (ws://\S+)", seen)).group(1)
        async with connect(f"{url}/CP-NORTH-A01", subprotocols=["ocpp1.6"]) as ws:
            client = ChargePoint("CP-NORTH-A01", ws, response_timeout=5)
            task = asyncio.create_task(client.start())
            boot = await client.call(call.BootNotification(charge_point_vendor="Wallbox", charge_point_model="Pulsar Plus"))
            task.cancel()
        assert boot.status == RegistrationStatus.accepted
        await read_until(process.stdout, r"CP-NORTH-A01 connected from 127\.0\.0\.1", seen)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 10) == 0
    rest = (await process.stdout.read()).decode()
    assert "stopped" in rest


def test_the_open_files_limit_is_raised_for_thousands_of_chargers() -> None:
    import resource

    from console.depot import OPEN_FILES_WANTED, raise_open_files_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        # Start as many systems start a process: a soft limit of 1,024.
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, soft), hard))
        limit = raise_open_files_limit()
        expected = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
        assert limit == expected == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_compression_is_set_per_subprotocol_from_the_command_line(tmp_path: Path) -> None:
    from console.cli import _settings, build_parser
    from console.depot import Depot

    args = build_parser().parse_args(
        ["serve", "--compression", "ocpp1.6=on,ocpp2.0.1=off", "--db", f"sqlite:///{tmp_path / 'c.db'}"]
    )
    depot = Depot(_settings(args))
    try:
        assert depot.central.compression == {"ocpp1.6": True, "ocpp2.0.1": False, "ocpp2.1": True}
    finally:
        depot.store.close()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--compression", "ocpp1.6=maybe"])
