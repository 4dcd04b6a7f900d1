"""A wall clock that runs faster, for demos and load runs.

`console.core.clock.SystemClock(speed)` shortens sleeps but keeps `now()` at
wall time, so a charger integrating power over `now()` would book a sixtieth
of the energy at 60x. Here both agree: simulated time starts at the wall time
of creation and runs `speed` times faster.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from console.core.clock import utcnow


class SpeedClock:
    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin = utcnow()
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=(time.monotonic() - self._started) * self.speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)
