"""Frame logs and logged events are stored compressed, and read back as the text they were."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from console.core.packing import TAG_V1, pack, unpack
from console.core.service import ConsoleService

pytestmark = pytest.mark.stores("sqlite", "postgresql")

METER_VALUES = json.dumps(
    [2, "4b86a12d-cdab-4a5c-9dc4-eb2c0e4f8e91", "MeterValues", {"connectorId": 1, "transactionId": 17, "meterValue": [{
        "timestamp": "2026-12-02T11:09:27.004922Z",
        "sampledValue": [
            {"value": "4561004.0", "context": "Sample.Periodic", "measurand": "Energy.Active.Import.Register", "unit": "Wh", "location": "Outlet"},
            {"value": "7400.0", "context": "Sample.Periodic", "measurand": "Power.Active.Import", "unit": "W", "location": "Outlet"},
            {"value": "10.7", "context": "Sample.Periodic", "measurand": "Current.Import", "unit": "A", "phase": "L1", "location": "Outlet"},
            {"value": "230.0", "context": "Sample.Periodic", "measurand": "Voltage", "unit": "V", "location": "Outlet"},
            {"value": "22.2", "context": "Sample.Periodic", "measurand": "SoC", "unit": "Percent", "location": "EV"},
        ],
    }]}],
    separators=(",", ":"),
)


async def test_a_frame_is_stored_in_a_fraction_of_its_bytes_and_read_back_as_it_was(service: ConsoleService) -> None:
    charger = await service.create_charger({"identity": "CP-1", "ocpp_version": "OCPP1.6"})
    odd = "\x01 a frame that starts with the tag byte, ünïcode"
    for frame in (METER_VALUES, '[3,"1",{}]', odd):
        service.live.log_frame("CP-1", "in", frame)

    logs = await service.charger_logs(charger.id)

    assert [entry.message for entry in logs if entry.direction == "in"] == [METER_VALUES, '[3,"1",{}]', odd]
    stored = await service.store.run(
        lambda session: session.execute(text("SELECT message FROM logentry WHERE direction = 'in' ORDER BY id")).scalars().all()
    )
    # A MeterValues frame of 830 bytes takes a fraction of them; a frame as small as a CALLRESULT is kept as it is.
    assert isinstance(stored[0], bytes) and stored[0][0] == TAG_V1 and len(stored[0]) < len(METER_VALUES) / 4
    assert bytes(stored[1]) == b'[3,"1",{}]'


async def test_frames_written_before_compression_read_as_they_were(service: ConsoleService) -> None:
    charger = await service.create_charger({"identity": "CP-1", "ocpp_version": "OCPP1.6"})
    sqlite = service.store.engine.dialect.name == "sqlite"

    def old_row(session) -> None:  # type: ignore[no-untyped-def]
        # SQLite keeps the text rows written before; PostgreSQL's revision turned them into their UTF-8 bytes.
        value = "CAST(:message AS TEXT)" if sqlite else "convert_to(:message, 'UTF8')"
        session.execute(
            text(
                "INSERT INTO logentry (charger_id, identity, at, direction, message) "
                f"VALUES (:charger, 'CP-1', CURRENT_TIMESTAMP, 'in', {value})"
            ),
            {"charger": charger.id, "message": METER_VALUES},
        )
        session.commit()

    await service.store.run(old_row)

    logs = await service.charger_logs(charger.id)
    assert [entry.message for entry in logs if entry.direction == "in"] == [METER_VALUES]


def test_packing_is_the_identity_on_every_text() -> None:
    for value in ("", "x", "\x01", "\x01\x02", METER_VALUES, "ü" * 3000, "[" * 5000):
        assert unpack(pack(value)) == value
        assert unpack(value) == value
