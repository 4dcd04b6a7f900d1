"""Everything about the selected charger: its record (the seed's fields) and its live state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual.content import Content
from textual.widgets import Static

from console.core.views import ChargerView
from console.tui.format import age, kilowatts, stamp
from console.tui.themes import STATUSES

LABEL_WIDTH = 21


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return stamp(value)
    return str(value)


def _line(label: str, value: Any, style: str = "") -> Content:
    return Content.assemble((f"{label:<{LABEL_WIDTH}}", "$text-muted"), (_value(value), style), "\n")


class ChargerDetail(Static):
    def show(self, charger: ChargerView | None, now: datetime) -> None:
        if charger is None:
            self.update(Content.styled("No charger selected", "$text-muted"))
            return
        lines: list[Content] = [Content.styled("Record\n", "bold $primary")]
        lines += [_line(name, getattr(charger, name)) for name in ChargerView.SEED_FIELDS]
        lines.append(_line("location", charger.location_name))
        lines.append(_line("simulated", "yes" if charger.simulated else "no"))
        lines.append(Content.styled("\nLive\n", "bold $primary"))
        status_style = f"bold $status-{charger.status}" if charger.status in STATUSES else "bold"
        lines.append(_line("status", charger.status, status_style))
        since = f"{stamp(charger.connected_since)} ({age(charger.connected_since, now)} ago)" if charger.connected_since else None
        seen = f"{stamp(charger.last_seen)} ({age(charger.last_seen, now)} ago)" if charger.last_seen else None
        lines.append(_line("connected", "yes" if charger.is_connected else "no"))
        lines.append(_line("connected since", since))
        lines.append(_line("last seen", seen))
        lines.append(_line("provisioning", charger.provisioning))
        runtime = charger.runtime
        if runtime and charger.runtime_detail:
            runtime = f"{runtime}: {charger.runtime_detail}"
        lines.append(_line("runtime", runtime))
        lines.append(_line("firmware", charger.firmware_version))
        lines.append(_line("power now", f"{kilowatts(charger.current_power_kw)} kW"))
        lines.append(_line("session energy", f"{charger.session_energy_kwh:.3f} kWh"))
        if charger.last_action:
            action = charger.last_action
            text = f"{action.command} {action.state}" + (f" — {action.detail}" if action.detail else "")
            lines.append(_line("last action", text))
        for connector in charger.connectors:
            text = connector.status + (f" ({connector.error_code})" if connector.error_code else "")
            lines.append(_line(f"connector {connector.connector_id}", text))
        self.update(Content.assemble(*lines).rstrip())
