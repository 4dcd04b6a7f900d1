"""Reads beside the store thread: an API key is checked while the store thread writes."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from console.core.service import ConsoleService

pytestmark = pytest.mark.stores("sqlite", "postgresql")


async def test_a_key_is_checked_while_the_store_thread_is_busy(service: ConsoleService) -> None:
    """Every API request checks its key; behind a long write (a batch, a commit waiting for the disk) on the one
    store thread, each waited for it, and the charger's durable writes waited behind the checks."""
    _, key = await service.create_api_key("default")
    release = threading.Event()
    busy = asyncio.ensure_future(service.store.run(lambda _session: release.wait(5)))
    await asyncio.sleep(0.05)  # the store thread is in it
    try:
        started = time.monotonic()
        principal = await asyncio.wait_for(service.authenticate(key), 2)
        assert principal is not None and principal.organization == "default"
        assert time.monotonic() - started < 1
        assert await service.authenticate("ocpp_wrong") is None
    finally:
        release.set()
        await busy
