"""Words and numbers as the console shows them; pure functions of a view and the time."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from console.core.views import ChargerView, LogView

DIRECTION_ARROWS = {"in": "→", "out": "←", "event": "·"}
MESSAGE_ID_LENGTH = 8


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def clock_time(moment: datetime | None) -> str:
    return utc(moment).strftime("%H:%M:%S") if moment else "—"


def stamp(moment: datetime | None) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago, in the largest unit that fits: 3s, 4m, 2h, 5d."""
    if moment is None:
        return "—"
    seconds = max(0, int((utc(now) - utc(moment)).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def kilowatts(value: float) -> str:
    return f"{value:.1f}"


def connected_cell(charger: ChargerView, now: datetime) -> str:
    if not charger.is_connected:
        return "○ offline"
    return f"● {age(charger.last_seen, now)}"


def power_cell(charger: ChargerView) -> str:
    return f"{kilowatts(charger.current_power_kw)}/{charger.max_charging_power / 1000:g}"


def last_action_cell(charger: ChargerView) -> str:
    action = charger.last_action
    return f"{action.command} {action.state}" if action else ""


def matches(charger: ChargerView, text: str) -> bool:
    """Whether the filter text appears in the charger's identity, name, location, status or vendor."""
    needle = text.strip().lower()
    if not needle:
        return True
    haystack = (
        charger.identity,
        charger.name,
        charger.location_name,
        charger.status,
        charger.vendor_name,
    )
    return any(needle in value.lower() for value in haystack if value)


def short_id(message_id: str | None) -> str:
    return (message_id or "")[:MESSAGE_ID_LENGTH]


def compact_payload(entry: LogView) -> str:
    """The interesting part of an OCPP-J frame on one line; an event's message as it is."""
    if entry.direction == "event":
        return entry.message
    try:
        frame = json.loads(entry.message)
    except ValueError:
        return entry.message
    if not isinstance(frame, list) or len(frame) < 3:
        return entry.message
    if frame[0] == 2 and len(frame) >= 4:
        payload = frame[3]
    elif frame[0] == 3:
        payload = frame[2]
    elif frame[0] == 4:
        return " ".join(str(part) for part in frame[2:4] if part)
    else:
        return entry.message
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
