"""The top line: where chargers connect, how many are, what they do, and the time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from console.core.views import BackendInfo, ChargerView
from console.tui.format import clock_time, kilowatts
from console.tui.themes import STATUSES


def summary(info: BackendInfo, fleet: list[ChargerView]) -> Content:
    connected = sum(1 for charger in fleet if charger.is_connected)
    statuses = Counter(charger.status for charger in fleet)
    power = sum(charger.current_power_kw for charger in fleet)
    parts: list[str | tuple[str, str]] = [
        (" ocpp-console ", "bold reverse $primary"),
        " ",
        (info.ocpp_url or "no OCPP server", "bold"),
        "  ",
        (info.mode, "$secondary"),
    ]
    if info.read_only:
        parts += ["  ", ("read-only", "bold $warning")]
    parts += ["  │  ", (f"connected {connected}/{len(fleet)}", "bold"), "  │  "]
    # Known statuses in a fixed order first, then anything new the core reports.
    ordered = [status for status in STATUSES if statuses[status]]
    ordered += sorted(status for status in statuses if status not in STATUSES)
    for index, status in enumerate(ordered):
        if index:
            parts.append(" · ")
        parts.append((f"{status} {statuses[status]}", f"$status-{status}" if status in STATUSES else ""))
    parts += ["  │  ", (f"{kilowatts(power)} kW", "bold")]
    return Content.assemble(*parts)


class FleetHeader(Horizontal):
    def compose(self) -> ComposeResult:
        yield Static(id="header-summary")
        yield Static(id="header-clock")

    def show(self, info: BackendInfo, chargers: Iterable[ChargerView], now: datetime) -> None:
        self.query_one("#header-summary", Static).update(summary(info, list(chargers)))
        self.query_one("#header-clock", Static).update(Content.styled(f"{clock_time(now)} UTC ", "bold"))
