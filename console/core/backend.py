"""The one interface every front end talks to.

The embedded console gets the in-process `ConsoleService`; attach mode gets an
HTTP client with the same methods. The UI never reaches past this.
"""

from __future__ import annotations

from typing import Any, Protocol

from console.core.events import Subscription
from console.core.views import BackendInfo, ChargerView, LocationView, LogView


class Backend(Protocol):
    @property
    def info(self) -> BackendInfo: ...

    async def list_chargers(self) -> list[ChargerView]: ...

    async def get_charger(self, charger_id: str) -> ChargerView: ...

    async def list_locations(self) -> list[LocationView]: ...

    async def check_charger(
        self, fields: dict[str, Any], charger_id: str | None = None
    ) -> dict[str, str]:
        """Validate without saving: field name -> problem (empty when all good)."""
        ...

    async def create_charger(self, fields: dict[str, Any]) -> ChargerView: ...

    async def update_charger(self, charger_id: str, fields: dict[str, Any]) -> ChargerView: ...

    async def delete_charger(self, charger_id: str) -> None: ...

    async def start_charger(self, charger_id: str) -> str:
        """Start the charger's runtime; returns what happened, in words."""
        ...

    async def stop_charger(self, charger_id: str) -> str: ...

    async def restart_charger(self, charger_id: str) -> str: ...

    async def charger_logs(self, charger_id: str, limit: int = 200) -> list[LogView]:
        """The charger's latest log lines, oldest first."""
        ...

    def subscribe(self) -> Subscription: ...
