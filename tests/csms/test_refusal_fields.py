"""A refused command names the part of the request it refuses (`CommandRefused.field`), so a
front end puts the refusal under that field without reading the message."""

from __future__ import annotations

from typing import Any

import pytest

from console.core.errors import CommandRefused
from console.core.service import ConsoleService


@pytest.fixture
async def charger_id(service: ConsoleService) -> str:
    return (await service.create_charger({"identity": "FIELD-1", "max_charging_power": 22000})).id


@pytest.mark.parametrize(
    ("command", "options", "field"),
    [
        ("boost", {}, "command"),
        ("charge", {"execution": "scheduled"}, "start"),
        ("charge", {"execution": "scheduled", "start": "soon"}, "start"),
        ("charge", {"execution": "scheduled", "start": "2099-01-01T00:00:00Z"}, "start"),
        ("charge", {"execution": "windowed", "start": "1h"}, "end"),
        ("charge", {"execution": "windowed", "start": "1h", "end": "later"}, "end"),
        ("charge", {"execution": "windowed", "start": "2h", "end": "1h"}, "end"),
        ("charge", {"execution": "immediate", "start": "1h"}, "execution"),
        ("idle", {"execution": "windowed", "start": "1h", "end": "2h"}, "execution"),
        ("charge", {"parameters": {"powerLimit": 50}}, "parameters.powerLimit"),
        ("charge", {"parameters": {"powerLimit": -1}}, "parameters.powerLimit"),
        ("charge", {"parameters": {"connectorId": 0}}, "parameters.connectorId"),
        ("charge", {"parameters": {"idTag": ""}}, "parameters.idTag"),
        ("idle", {"parameters": {"stopSession": "yes"}}, "parameters.stopSession"),
        ("charge", {"parameters": {"colour": "red"}}, "parameters"),
        ("charge", {"on_conflict": "shout"}, "onConflict"),
    ],
)
async def test_a_refusal_names_its_field(
    service: ConsoleService, charger_id: str, command: str, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(CommandRefused) as refused:
        await service.send_command(charger_id, command, **options)
    assert refused.value.field == field


async def test_a_conflict_names_on_conflict(service: ConsoleService, charger_id: str) -> None:
    await service.send_command(charger_id, "charge", execution="scheduled", start="1h")
    with pytest.raises(CommandRefused) as refused:
        await service.send_command(charger_id, "idle", execution="scheduled", start="2h")
    assert (refused.value.code, refused.value.field) == ("CONFLICT", "onConflict")
