"""Words and numbers as the console shows them; pure functions of a view and the time."""

from __future__ import annotations

import json
from datetime import datetime, timezone, tzinfo
from collections.abc import Iterable
from typing import Any

from console.core.views import ActionSummary, ActionView, ChargerView, LogView, TransactionView, clock_offset_words

DIRECTION_ARROWS = {"in": "→", "out": "←", "event": "·"}
MESSAGE_ID_LENGTH = 8
# Filter prefixes: `status:charging location:south vendor:abb` narrow by one field each.
FILTER_FIELDS = ("status", "location", "vendor")
# Action states that are over; anything else may still change.
FINAL_STATES = frozenset({"completed", "acknowledged", "rejected", "failed", "cancelled", "expired", "unknown"})
CANCELLABLE_STATES = frozenset({"pending", "scheduled"})
GAUGE_WIDTH = 20


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def clock_time(moment: datetime | None) -> str:
    return utc(moment).strftime("%H:%M:%S") if moment else "—"


def stamp(moment: datetime | None) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def local(moment: datetime, zone: tzinfo | None) -> datetime:
    """`moment` in the console's time zone (None: the machine's own, with its summer time)."""
    return utc(moment).astimezone(zone)


def local_stamp(moment: datetime | None, zone: tzinfo | None) -> str:
    """A date and time in the console's zone, with the zone's name: "2026-04-02 11:15:00 CEST"."""
    if moment is None:
        return "—"
    shown = local(moment, zone)
    return f"{shown:%Y-%m-%d %H:%M:%S} {shown.tzname()}"


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago, in the largest unit that fits: 3s, 4m, 2h, 5d."""
    if moment is None:
        return "—"
    seconds = max(0, int((utc(now) - utc(moment)).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def duration(seconds: float, between: str = "") -> str:
    """A span in its two largest units: 45s, 3m20s, 2h05m, 1d04h (`between` goes between the two)."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3_600:
        return f"{seconds // 60}m{between}{seconds % 60:02d}s" if seconds % 60 else f"{seconds // 60}m"
    if seconds < 86_400:
        return f"{seconds // 3_600}h{between}{seconds % 3_600 // 60:02d}m"
    return f"{seconds // 86_400}d{between}{seconds % 86_400 // 3_600:02d}h"


def kilowatts(value: float) -> str:
    return f"{value:.1f}"


def short_version(ocpp_version: str) -> str:
    return ocpp_version.removeprefix("OCPP")


def connected_cell(charger: ChargerView, now: datetime) -> str:
    """Connected or not, and how long ago the charger's last message came (not how long it has been connected)."""
    if not charger.is_connected:
        return "○ offline"
    return f"● {age(charger.last_seen, now)} ago"


def power_cell(charger: ChargerView) -> str:
    return f"{kilowatts(charger.current_power_kw)}/{charger.max_charging_power / 1000:g}"


def energy_cell(charger: ChargerView) -> str:
    return f"{charger.session_energy_kwh:.2f}" if charger.session_energy_kwh else "—"


def last_action_cell(charger: ChargerView) -> str:
    action = charger.last_action
    return f"{action.command} {action.state}" if action else ""


def parse_filter(text: str) -> tuple[dict[str, str], list[str]]:
    """`status:charging south` -> ({"status": "charging"}, ["south"])."""
    fields: dict[str, str] = {}
    words: list[str] = []
    for token in text.lower().split():
        name, colon, value = token.partition(":")
        if colon and name in FILTER_FIELDS:
            if value:
                fields[name] = value
        else:
            words.append(token)
    return fields, words


def matches(charger: ChargerView, text: str) -> bool:
    """Whether the charger passes the filter: every prefixed field and every word must match."""
    fields, words = parse_filter(text)
    if not fields and not words:
        return True
    by_field = {
        "status": (charger.status,),
        "location": (charger.location_name, charger.location_id),
        "vendor": (charger.vendor_name,),
    }
    for name, needle in fields.items():
        if not any(needle in value.lower() for value in by_field[name] if value):
            return False
    haystack = [
        value.lower()
        for value in (charger.identity, charger.name, charger.location_name, charger.status, charger.vendor_name)
        if value
    ]
    return all(any(word in value for value in haystack) for word in words)


def log_matches(entry: LogView, text: str) -> bool:
    needle = text.strip().lower()
    if not needle:
        return True
    return any(needle in value.lower() for value in (entry.identity, entry.action or "", entry.message) if value)


def short_id(message_id: str | None) -> str:
    return (message_id or "")[:MESSAGE_ID_LENGTH]


def frame_parts(entry: LogView) -> list[Any] | None:
    """The OCPP-J frame as a list, or None for an event or a message that is not one."""
    if entry.direction == "event":
        return None
    try:
        frame = json.loads(entry.message)
    except ValueError:
        return None
    return frame if isinstance(frame, list) and len(frame) >= 3 else None


def compact_payload(entry: LogView) -> str:
    """The interesting part of an OCPP-J frame on one line; an event's message as it is."""
    frame = frame_parts(entry)
    if frame is None:
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


def pretty_message(entry: LogView) -> str:
    """The whole message, indented when it is JSON."""
    try:
        return json.dumps(json.loads(entry.message), indent=2, ensure_ascii=False)
    except ValueError:
        return entry.message


def action_timing(action: ActionView | ActionSummary, now: datetime, zone: tzinfo | None = None) -> str:
    """When a waiting action runs ("in 4m 10s", "window 22:00–06:00" in `zone`), how long a moving one
    has been in its state, or how long a finished one took."""
    if action.state in FINAL_STATES:
        if action.duration_ms is not None:
            # It made a CALL: what it took is the charger's round trip, not its time in the queue.
            return f"took {round_trip(action.duration_ms)}"
        return f"took {duration((utc(action.updated_at) - utc(action.created_at)).total_seconds())}"
    if isinstance(action, ActionView) and action.start_at is not None:
        if action.execution == "windowed" and action.end_at is not None:
            return f"window {local(action.start_at, zone):%H:%M}–{local(action.end_at, zone):%H:%M}"
        if action.state == "scheduled":
            wait = (utc(action.start_at) - utc(now)).total_seconds()
            return f"in {duration(wait, ' ')}" if wait >= 1 else "due now"
    return f"{age(action.created_at, now)} ago"


def round_trip(ms: float) -> str:
    """A CALL's round trip: 12 ms, 1.4 s."""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def parameters_cell(action: ActionView) -> str:
    return " ".join(f"{key}={value}" for key, value in (action.parameters or {}).items())


def transaction_energy(transaction: TransactionView, charger: ChargerView | None) -> str:
    if transaction.energy_kwh is not None:
        return f"{transaction.energy_kwh:.2f}"
    if transaction.stopped_at is None and charger is not None:
        return f"{charger.session_energy_kwh:.2f}"
    return "—"


def transaction_started(transaction: TransactionView) -> str:
    """A session's start; "—" when the charger never reported it (started_at is then its stop)."""
    return stamp(transaction.started_at) if transaction.start_known else "—"


def transaction_duration(transaction: TransactionView, now: datetime) -> str:
    return duration(transaction.duration_s(now)) if transaction.start_known else "—"


def repairs_cell(transaction: TransactionView) -> str:
    """What the console had to repair in a session, in short words: "reconstructed, start unknown"."""
    words = []
    for word in transaction.repairs:
        if word == "incomplete" and transaction.missing_seq_nos:
            word = f"incomplete: seq {transaction.missing_seq_nos}"
        elif word == "reboot":
            word = "closed at reboot"
        words.append(word)
        if word == "reconstructed" and not transaction.start_known:
            words.append("start unknown")
    if not transaction.start_known and "start unknown" not in words:
        words.append("start unknown")
    if transaction.refused:
        words.insert(0, "not valid: charger Pending")
    return ", ".join(words)


def clock_offset(offset_s: float) -> str:
    """How far a charger's clock is off: "54.3 years behind", "2.0 days ahead"."""
    return clock_offset_words(offset_s)


def station_meter(charger: ChargerView) -> str | None:
    """The station's own meter (connector or EVSE 0), "11.1 kW · 1234.57 kWh"; None when it has none."""
    parts = []
    if charger.station_power_kw is not None:
        parts.append(f"{kilowatts(charger.station_power_kw)} kW")
    if charger.station_energy_kwh is not None:
        parts.append(f"{charger.station_energy_kwh:.2f} kWh")
    return " · ".join(parts) or None


def gauge(value: float, limit: float | None, width: int = GAUGE_WIDTH) -> tuple[str, str]:
    """A bar of `width` cells: (filled, empty) parts of `value` out of `limit`."""
    if not limit or limit <= 0:
        return "", "─" * width
    filled = max(0, min(width, round(width * value / limit)))
    return "━" * filled, "━" * (width - filled)


def resample(samples: Iterable[tuple[datetime, float]], now: datetime, minutes: int, buckets: int) -> list[float]:
    """Power over the last `minutes` in `buckets` equal slices, each the last value known by its end."""
    span = minutes * 60
    step = span / buckets
    start = utc(now).timestamp() - span
    points = sorted((utc(at).timestamp(), kw) for at, kw in samples)
    values: list[float] = []
    index = 0
    current = 0.0
    for bucket in range(buckets):
        end = start + step * (bucket + 1)
        while index < len(points) and points[index][0] <= end:
            current = points[index][1]
            index += 1
        values.append(current)
    return values


def connector_status_variable(status: str) -> str:
    """The `$status-…` variable for an OCPP connector status (Charging, SuspendedEV, Occupied, …)."""
    lowered = status.lower()
    if lowered.startswith("suspended"):
        return "status-suspended"
    if lowered == "occupied":
        return "status-preparing"
    return f"status-{lowered}"
