"""What the simulator runtime needs from its host, and a host with no store for load mode.

`SimManager` reads charger records and reports runtime changes and events
through a `RuntimeReporter`. The console's `LiveState` is one; `FleetReporter`
is another, for `ocpp-console sim`: records in memory, counts instead of a
store, so thousands of simulated chargers run in a process of their own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

from console.core.ports import ChargerRecord
from console.core.versions import OcppVersion


class RuntimeReporter(Protocol):
    def record(self, charger_id: str) -> ChargerRecord | None: ...

    def ids(self) -> list[str]: ...

    def runtime_changed(self, charger_id: str, state: str, detail: str | None) -> None: ...

    def log(
        self,
        identity: str,
        direction: str,
        message: str,
        action: str | None = None,
        message_id: str | None = None,
        charger_id: str | None = None,
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class LoadRecord:
    """A load run's charger record (a `ChargerRecord`), in memory only."""

    id: str
    identity: str
    ocpp_version: str
    number_of_connectors: int
    max_charging_power: int
    vendor_name: str | None = "Simulated"
    model: str | None = "Load charger"
    location_id: str | None = None
    simulated: bool = True
    sim_password: str | None = None
    security_profile: int | None = None


def simulated_records(
    count: int, prefix: str = "SIM-", version: str = OcppVersion.V16, connectors: int = 2, max_power_w: int = 22000
) -> list[LoadRecord]:
    """In-memory charger records SIM-0001 … for a load run; nothing is stored."""
    width = max(4, len(str(count)))
    return [
        LoadRecord(
            id=f"{prefix}{n:0{width}d}",
            identity=f"{prefix}{n:0{width}d}",
            ocpp_version=version,
            number_of_connectors=connectors,
            max_charging_power=max_power_w,
        )
        for n in range(1, count + 1)
    ]


class FleetReporter:
    """Keeps each runtime's state and counts what a load run wants to see."""

    def __init__(self, records: list[ChargerRecord]) -> None:
        self.records = {record.id: record for record in records}
        self.states: dict[str, str] = {}
        self.details: dict[str, str | None] = {}
        self.errors = 0
        self.error_kinds: Counter[str] = Counter()

    def record(self, charger_id: str) -> ChargerRecord | None:
        return self.records.get(charger_id)

    def ids(self) -> list[str]:
        return list(self.records)

    def runtime_changed(self, charger_id: str, state: str, detail: str | None) -> None:
        self.states[charger_id] = state
        self.details[charger_id] = detail
        if state == "crashed":
            self.errors += 1
            self.error_kinds[(detail or "error").split(":", 1)[0]] += 1

    def log(self, identity: str, direction: str, message: str, *_: Any, **__: Any) -> None:
        return None

    def counts(self) -> dict[str, int]:
        states = Counter(self.states.values())
        return {
            "chargers": len(self.records),
            "connected": states["registering"] + states["online"],
            "booted": states["online"],
            "connecting": states["starting"] + states["connecting"],
            "crashed": states["crashed"],
            "errors": self.errors,
        }

    def summary(self) -> str:
        counts = self.counts()
        line = (
            f"{counts['chargers']} chargers: {counts['connected']} connected, {counts['booted']} booted, "
            f"{counts['connecting']} connecting, {counts['crashed']} down, {counts['errors']} errors"
        )
        if self.error_kinds:
            line += " (" + ", ".join(f"{kind} {n}" for kind, n in self.error_kinds.most_common(3)) + ")"
        return line
