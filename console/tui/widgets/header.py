"""The depot at a glance: where chargers connect, how many are, what they do, each cap's headroom, the time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content

from console.core.views import BackendInfo, ChargerView, LocationView
from console.tui.format import age, clock_time, gauge, kilowatts
from console.tui.themes import STATUSES
from console.tui.widgets.paint import Readout

HEADROOM_GAUGE = 8


def summary(info: BackendInfo, fleet: list[ChargerView], narrow: bool = False, paused: bool = False) -> Content:
    connected = sum(1 for charger in fleet if charger.is_connected)
    power = sum(charger.current_power_kw for charger in fleet)
    # A narrow terminal keeps the figures and drops the name.
    parts: list[str | tuple[str, str]] = [] if narrow else [(" ocpp-console ", "bold reverse $primary"), " "]
    parts += [(info.ocpp_url or "no OCPP server", "bold"), "  ", (info.mode, "$secondary")]
    if info.read_only:
        parts += ["  ", ("read-only", "bold $warning")]
    if info.store_unavailable:
        parts += ["  ", (f"store unavailable: {info.store_unavailable}", "bold $error")]
    if info.server_lost:
        # The figures are the last ones known: dimmed, and the clock says how old they are.
        parts += ["  │  ", ("disconnected", "bold $error"), "  │  ", (f"{connected}/{len(fleet)} · {kilowatts(power)} kW", "$text-disabled")]
    else:
        parts += ["  │  ", (f"connected {connected}/{len(fleet)}", "bold"), "  │  ", (f"{kilowatts(power)} kW", "bold")]
    if paused:
        parts += ["  │  ", (" paused: p resumes ", "bold reverse $warning")]
    return Content.assemble(*parts)


def statuses(fleet: list[ChargerView]) -> Content:
    counts = Counter(charger.status for charger in fleet)
    # Known statuses in a fixed order first, then anything new the core reports.
    ordered = [status for status in STATUSES if counts[status]]
    ordered += sorted(status for status in counts if status not in STATUSES)
    parts: list[str | tuple[str, str]] = [" "]
    for index, status in enumerate(ordered):
        if index:
            parts.append(" · ")
        parts.append((f"{status} {counts[status]}", f"$status-{status}" if status in STATUSES else ""))
    return Content.assemble(*parts)


def headroom(locations: Iterable[LocationView], fleet: list[ChargerView], bars: bool = True) -> Content:
    """Each capped location: "South Yard 62/90 kW ▮▮▮▯" in the colour of what is left."""
    load: dict[str, float] = {}
    for charger in fleet:
        if charger.location_id:
            load[charger.location_id] = load.get(charger.location_id, 0.0) + charger.current_power_kw
    parts: list[str | tuple[str, str]] = []
    for location in locations:
        cap = location.power_cap_kw
        if cap is None:
            continue
        drawn = load.get(location.id, 0.0)
        ratio = drawn / cap if cap else 1.0
        style = "$error" if ratio >= 1 else "$warning" if ratio >= 0.8 else "$success"
        filled, empty = gauge(drawn, cap, HEADROOM_GAUGE) if bars else ("", "")
        parts += [
            " │ " if parts else "",
            (f"{location.name} ", "bold"),
            f"{drawn:.0f}/{cap:g} kW ",
            (filled, style),
            (empty, "$text-disabled"),
        ]
    return Content.assemble(*parts)


class FleetHeader(Vertical):
    lost_since: datetime | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="header-line"):
            yield Readout(id="header-summary")
            yield Readout(id="header-clock")
        with Horizontal(classes="header-line -second"):
            yield Readout(id="header-statuses")
            yield Readout(id="header-headroom")

    def show(
        self,
        info: BackendInfo,
        chargers: Iterable[ChargerView],
        locations: Iterable[LocationView],
        now: datetime,
        narrow: bool = False,
        paused: bool = False,
    ) -> None:
        fleet = list(chargers)
        self.query_one("#header-summary", Readout).show(summary(info, fleet, narrow, paused))
        # Attach mode: since when the server has been lost, by this console's clock.
        if not info.server_lost:
            self.lost_since = None
        elif self.lost_since is None:
            self.lost_since = now
        if self.lost_since is not None:
            clock = Content.assemble((f"data {age(self.lost_since, now)} old", "bold $error"), f"  {clock_time(now)} UTC ")
        else:
            clock = Content.styled(f"{clock_time(now)} UTC ", "bold")
        self.query_one("#header-clock", Readout).show(clock)
        self.query_one("#header-statuses", Readout).show(statuses(fleet))
        self.query_one("#header-headroom", Readout).show(headroom(locations, fleet, bars=not narrow))
