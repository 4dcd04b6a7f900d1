"""Times a person types for a command: ISO 8601, or relative to now ("30m", "2h", "1d", "now")."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

RELATIVE = re.compile(r"^\s*\+?(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|day)s?\s*$", re.IGNORECASE)
UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "day": 86400}


def parse_time(text: str | datetime, now: datetime) -> datetime:
    """An aware UTC datetime; raises ValueError with what was wrong."""
    if isinstance(text, datetime):
        moment = text
    else:
        value = text.strip()
        if value.lower() == "now":
            return now
        relative = RELATIVE.match(value)
        if relative:
            amount, unit = float(relative.group(1)), relative.group(2).lower()
            return now + timedelta(seconds=amount * UNITS[unit])
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text!r} is neither an ISO 8601 time nor a relative one like 30m, 2h or 1d") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
