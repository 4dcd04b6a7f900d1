"""The core's views and events on the wire, both ways: the server encodes, the attach client decodes.

Views travel as `View.to_dict()` (ISO 8601 times with `Z`); decoding rebuilds the
same frozen dataclasses, so a front end cannot tell a remote view from a local one.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from datetime import datetime
from typing import Any, TypeVar

from console.core.events import (
    ActionChanged,
    ChargerAlert,
    ChargerRemoved,
    PlanChanged,
    ChargerUpdated,
    LogAppended,
    Notice,
    StoreHealth,
    UnknownChargerSeen,
)
from console.core.views import (
    ActionSummary,
    ChargerEventView,
    ChargerView,
    CompositeScheduleView,
    ConfigurationView,
    ConnectorView,
    LogView,
    ProtocolWarning,
    SchedulePeriodView,
    SettingView,
    TokenView,
    UnknownChargerView,
)

V = TypeVar("V")

# SSE event names, one per event type.
CHARGER = "charger"
CHARGER_REMOVED = "charger_removed"
LOG = "log"
ACTION = "action"
NOTICE = "notice"
UNKNOWN = "unknown"
ALERT = "alert"
STORE = "store"
PLAN = "plan"


def parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _is_time(annotation: Any) -> bool:
    return "datetime" in str(annotation)


@functools.cache
def _fields_of(cls: type) -> tuple[tuple[str, bool], ...]:
    """Each field's name and whether it holds a time; worked out once per class (type hints are slow to resolve)."""
    hints = typing.get_type_hints(cls)
    return tuple((field.name, _is_time(hints[field.name])) for field in dataclasses.fields(cls))


def from_dict(cls: type[V], data: dict[str, Any]) -> V:
    """Rebuild a view dataclass from its `to_dict()`; unknown keys are ignored (a newer server)."""
    values: dict[str, Any] = {}
    for name, is_time in _fields_of(cls):
        if name not in data:
            continue
        value = data[name]
        values[name] = parse_time(value) if is_time else value
    return cls(**values)


def charger_from_dict(data: dict[str, Any]) -> ChargerView:
    data = dict(data)
    data["connectors"] = tuple(from_dict(ConnectorView, item) for item in data.get("connectors") or ())
    data["protocol_warnings"] = tuple(from_dict(ProtocolWarning, item) for item in data.get("protocol_warnings") or ())
    data["reservations"] = tuple(data.get("reservations") or ())
    if data.get("last_action") is not None:
        data["last_action"] = from_dict(ActionSummary, data["last_action"])
    schedule = data.get("current_schedule")
    if isinstance(schedule, dict):
        # In process the schedule's times are datetimes; keep them so.
        data["current_schedule"] = {
            key: parse_time(value) if key in ("start", "end") else value for key, value in schedule.items()
        }
    return from_dict(ChargerView, data)


# A token's names on the wire (camelCase, as the device API) and the registry's.
TOKEN_WIRE_FIELDS = {
    "token": "token",
    "type": "type",
    "status": "status",
    "expiresAt": "expires_at",
    "parentId": "parent_id",
    "label": "label",
    "locationIds": "location_ids",
}


def token_from_wire(item: dict[str, Any]) -> TokenView:
    """A token as the attach client reads it back."""
    return TokenView(
        id=item["id"],
        token=item["token"],
        type=item["type"],
        status=item["status"],
        expires_at=parse_time(item.get("expiresAt")),
        parent_id=item.get("parentId"),
        label=item.get("label"),
        location_ids=list(item.get("locationIds") or []),
        created_at=parse_time(item.get("createdAt")),
        updated_at=parse_time(item.get("updatedAt")),
    )


def encode_event(event: Any) -> tuple[str, dict[str, Any]] | None:
    """(SSE event name, JSON data) of a core event; None for an event that does not travel."""
    if isinstance(event, ChargerUpdated):
        return CHARGER, event.charger.to_dict()
    if isinstance(event, ChargerRemoved):
        return CHARGER_REMOVED, {"charger_id": event.charger_id, "identity": event.identity}
    if isinstance(event, LogAppended):
        return LOG, event.entry.to_dict()
    if isinstance(event, ActionChanged):
        return ACTION, {"charger_id": event.charger_id, "action": event.action.to_dict()}
    if isinstance(event, Notice):
        return NOTICE, {"message": event.message, "severity": event.severity, "charger_id": event.charger_id}
    if isinstance(event, UnknownChargerSeen):
        return UNKNOWN, event.charger.to_dict()
    if isinstance(event, ChargerAlert):
        return ALERT, event.event.to_dict()
    if isinstance(event, StoreHealth):
        return STORE, {"state": event.state, "reason": event.reason, "queued": event.queued, "dropped": event.dropped}
    if isinstance(event, PlanChanged):
        return PLAN, event.plan
    return None


def decode_event(name: str, data: dict[str, Any]) -> Any:
    """The core event an SSE event carries; None for a name this client does not know."""
    if name == CHARGER:
        return ChargerUpdated(charger_from_dict(data))
    if name == CHARGER_REMOVED:
        return ChargerRemoved(charger_id=data["charger_id"], identity=data["identity"])
    if name == LOG:
        return LogAppended(from_dict(LogView, data))
    if name == ACTION:
        return ActionChanged(charger_id=data["charger_id"], action=from_dict(ActionSummary, data["action"]))
    if name == NOTICE:
        return Notice(data["message"], data.get("severity", "information"), data.get("charger_id"))
    if name == UNKNOWN:
        return UnknownChargerSeen(from_dict(UnknownChargerView, data))
    if name == ALERT:
        return ChargerAlert(from_dict(ChargerEventView, data))
    if name == STORE:
        return StoreHealth(data.get("reason"), data.get("queued", 0), data.get("dropped", 0))
    return None


def sse_message(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def configuration_from_dict(data: dict[str, Any]) -> ConfigurationView:
    data = dict(data)
    data["settings"] = tuple(from_dict(SettingView, item) for item in data.get("settings") or ())
    data["unknown_keys"] = tuple(data.get("unknown_keys") or ())
    return from_dict(ConfigurationView, data)


def schedule_from_dict(data: dict[str, Any]) -> CompositeScheduleView:
    data = dict(data)
    data["periods"] = tuple(from_dict(SchedulePeriodView, item) for item in data.get("periods") or ())
    return from_dict(CompositeScheduleView, data)
