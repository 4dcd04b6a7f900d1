"""The composition root: one running depot (store, core, central system, simulated chargers).

Both the embedded console and `serve` run one of these; only the front end differs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from console.core.clock import Clock, SystemClock
from console.core.service import ConsoleService
from console.core.store import Store
from console.csms.server import CentralSystem
from console.resources import sample_fleet_path
from console.sim.manager import SimManager

log = logging.getLogger("console.depot")


@dataclass
class DepotSettings:
    db_url: str | None = None
    host: str = "127.0.0.1"
    ocpp_port: int = 9000
    heartbeat_interval: int = 60
    simulate: bool = True
    seed: int | None = None
    read_only: bool = False
    first_run_fleet: Path | None = field(default_factory=sample_fleet_path)


class Depot:
    def __init__(self, settings: DepotSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.store = Store(settings.db_url)
        self.service = ConsoleService(self.store, clock=self.clock, read_only=settings.read_only)
        self.central = CentralSystem(
            self.service,
            host=settings.host,
            port=settings.ocpp_port,
            heartbeat_interval=settings.heartbeat_interval,
        )
        self.sims: SimManager | None = None

    async def start(self) -> None:
        await self.service.open()
        if self.settings.first_run_fleet is not None:
            imported = await self.service.import_if_empty(self.settings.first_run_fleet)
            if imported:
                log.info("first run: imported %d chargers from %s", imported, self.settings.first_run_fleet)
        await self.central.start()
        if self.settings.simulate:
            self.sims = SimManager(self.service.live, self.clock, self.central.local_url, seed=self.settings.seed)
            self.service.attach(runtime=self.sims)
            await self.sims.start_all()

    async def stop(self) -> None:
        if self.sims is not None:
            await self.sims.close()
        await self.central.stop()
        await self.service.close()
        self.store.close()
