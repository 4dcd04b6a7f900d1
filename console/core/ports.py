"""What the core needs from the layers above it, as protocols they implement.

The core never imports `csms` or `sim`; the composition root hands it objects
that satisfy these.
"""

from __future__ import annotations

from typing import Any, Protocol


class ChargerRecord(Protocol):
    """What the simulator runtime reads of a charger's record: the store's `Charger` row is one,
    a load run's in-memory record another."""

    @property
    def id(self) -> str: ...

    @property
    def identity(self) -> str: ...

    @property
    def vendor_name(self) -> str | None: ...

    @property
    def model(self) -> str | None: ...

    @property
    def ocpp_version(self) -> str: ...

    @property
    def number_of_connectors(self) -> int: ...

    @property
    def max_charging_power(self) -> int: ...

    @property
    def location_id(self) -> str | None: ...

    @property
    def simulated(self) -> bool: ...

    @property
    def sim_password(self) -> str | None: ...

    @property
    def security_profile(self) -> int | None: ...


class OperatorControls(Protocol):
    """What an operator does to a simulated charger in the lab; each returns what happened, in words.

    The runtime port offers them to the core, and the backend to a front end.
    """

    async def plug_in(
        self, charger_id: str, connector_id: int, soc: float | None = None, battery_kwh: float | None = None
    ) -> str: ...

    async def unplug(self, charger_id: str, connector_id: int) -> str: ...

    async def present_id_tag(self, charger_id: str, connector_id: int, id_tag: str) -> str: ...

    async def inject_fault(self, charger_id: str, connector_id: int, error_code: str = "OtherError") -> str: ...

    async def clear_fault(self, charger_id: str, connector_id: int) -> str: ...

    async def drop_connection(self, charger_id: str) -> str: ...


class RuntimeControl(OperatorControls, Protocol):
    """Simulated charge points: the runtime behind a simulated charger."""

    async def start(self, charger_id: str) -> str: ...

    async def stop(self, charger_id: str) -> str: ...

    async def restart(self, charger_id: str) -> str: ...

    def state(self, charger_id: str) -> tuple[str, str | None]:
        """(runtime state, detail) — e.g. ("crashed", "csms_unreachable: ...")."""
        ...

    def provisioning(self, charger_id: str) -> dict[str, Any]:
        """Stages queued → starting → connecting → registering → online, with a verdict and a hint."""
        ...

    async def start_location(self, location_id: str) -> list[str]: ...

    async def stop_location(self, location_id: str) -> list[str]: ...

    async def restart_location(self, location_id: str) -> list[str]: ...


class ChargerGateway(Protocol):
    """The central system's outbound side: OCPP calls to connected chargers."""

    def is_connected(self, identity: str) -> bool: ...

    async def call(self, identity: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one CALL and return the CALLRESULT payload; raises on error/timeout."""
        ...

    def disconnect(self, identity: str, reason: str) -> None:
        """Close the charger's connection, if it has one, without waiting for the close to finish."""
        ...
