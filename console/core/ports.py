"""What the core needs from the layers above it, as protocols they implement.

The core never imports `csms` or `sim`; the composition root hands it objects
that satisfy these.
"""

from __future__ import annotations

from typing import Any, Protocol


class RuntimeControl(Protocol):
    """Simulated charge points: the runtime behind a simulated charger."""

    async def start(self, charger_id: str) -> str: ...

    async def stop(self, charger_id: str) -> str: ...

    async def restart(self, charger_id: str) -> str: ...

    def state(self, charger_id: str) -> tuple[str, str | None]:
        """(runtime state, detail) — e.g. ("crashed", "csms_unreachable: ...")."""
        ...


class ChargerGateway(Protocol):
    """The central system's outbound side: OCPP calls to connected chargers."""

    def is_connected(self, identity: str) -> bool: ...

    async def call(self, identity: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one CALL and return the CALLRESULT payload; raises on error/timeout."""
        ...
