"""`ocpp-console runtime start|stop|restart` against a live server, as a shell user runs it."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from console.api.server import ApiServer
from console.cli import _runtime, build_parser
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.manager import SimManager


async def test_runtime_commands_from_the_shell(service: ConsoleService, clock, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    central = CentralSystem(service, port=0)
    await central.start()
    manager = SimManager(service.live, clock, central.url, seed=3, auto_sessions=False)
    service.attach(runtime=manager)
    charger = await service.create_charger({"identity": "SH-1", "simulated": True})
    _, key = await service.create_api_key("default")
    api = ApiServer(service, port=0)
    await api.start()
    try:
        def args(*words: str) -> argparse.Namespace:
            return build_parser().parse_args(["runtime", *words, "--url", api.url, "--key", key])

        assert await _runtime(args("start", "SH-1")) == 0
        assert capsys.readouterr().out.strip() == "SH-1 started"
        assert await _runtime(args("start", charger.id)) == 0
        assert "already running" in capsys.readouterr().out
        assert await _runtime(args("stop", "SH-1", "NOPE")) == 1
        captured = capsys.readouterr()
        assert captured.out.strip() == "SH-1 stopped" and "no charger 'NOPE'" in captured.err
        assert await _runtime(args("restart")) == 2
    finally:
        await api.stop()
        await manager.close()
        await central.stop()
    await asyncio.sleep(0)
