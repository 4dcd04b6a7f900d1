"""One owner per store: a second `serve` on the same SQLite file is refused at start; readers work beside the owner."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from console.core.owner import StoreOwned
from console.core.store import Store
from tests.test_serve import read_until


async def ocpp_console(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


@pytest.mark.timeout(150)
async def test_a_second_serve_on_the_same_store_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "depot" / "console.db"  # a --db that does not exist yet
    env = {**os.environ, "OCPP_CONSOLE_DB": f"sqlite:///{db}"}
    first = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", "serve", "--ocpp-port", "0", "--api-port", "0", "--no-sim",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )
    seen: list[str] = []
    try:
        assert first.stdout is not None
        # Created empty, and said so; no demo depot without --demo.
        await read_until(first.stdout, r"WARNING console\.depot: a new store: .*console\.db did not exist", seen, timeout=30)
        await read_until(first.stdout, r"serving: OCPP at", seen, timeout=30)
        assert not any("imported" in line for line in seen)

        code, out, err = await ocpp_console("serve", "--ocpp-port", "0", "--api-port", "0", "--no-sim", env=env)
        assert code == 1 and out == ""
        assert f"ocpp-console: another ocpp-console (pid {first.pid}, started at " in err
        assert "owns this store; stop it first" in err

        # Readers and small writers work beside the owner.
        code, out, _ = await ocpp_console("chargers", env=env)
        assert code == 0 and json.loads(out) == []
        code, out, _ = await ocpp_console("keys", "create", env=env)
        assert code == 0 and out.startswith("ocpp_sk_")
    finally:
        if first.returncode is None:
            first.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(first.wait(), 15) == 0
    # The owner gone, the store is free again.
    Store(f"sqlite:///{db}", owner=True).close()


def test_the_lock_is_held_until_the_store_closes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    owner = Store(url, owner=True)
    try:
        with pytest.raises(StoreOwned, match=rf"another ocpp-console \(pid {os.getpid()}, started at .*\) owns this store"):
            Store(url, owner=True)
        Store(url).close()  # a reader opens it
    finally:
        owner.close()
    Store(url, owner=True).close()
