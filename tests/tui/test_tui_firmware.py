"""The charger's Overview tells where a firmware update and a log upload stand."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from console.core.views import ChargerView
from console.tui.widgets.detail import state_lines

MOMENT = datetime(2026, 4, 2, tzinfo=timezone.utc)
BASE = ChargerView(
    id="dep-1", identity="CP-1", name=None, vendor_name=None, model=None, image_url=None, ocpp_version="OCPP1.6",
    number_of_connectors=1, max_charging_power=22000, connector_type=None, location_id=None,
    created_at=MOMENT, updated_at=MOMENT, firmware_version="sim-0.2.0",
)


def line(charger: ChargerView, label: str) -> str:
    found = [text for text in state_lines(charger, MOMENT).plain.splitlines() if text.startswith(label)]
    return found[0][22:] if found else ""


def test_the_overview_shows_each_stage_of_an_update_and_a_failure() -> None:
    assert line(BASE, "firmware") == "sim-0.2.0"
    assert line(replace(BASE, firmware_status="Downloading"), "firmware") == "sim-0.2.0 — Downloading (1/4)"
    assert line(replace(BASE, firmware_status="Installing"), "firmware") == "sim-0.2.0 — Installing (3/4)"
    assert line(replace(BASE, firmware_version="sim-0.3.0", firmware_status="Installed"), "firmware") == "sim-0.3.0 — Installed (4/4)"
    assert line(replace(BASE, firmware_status="DownloadFailed"), "firmware") == "sim-0.2.0 — DownloadFailed"
    assert line(replace(BASE, firmware_status="InstallRebooting"), "firmware") == "sim-0.2.0 (InstallRebooting)"
    failed = state_lines(replace(BASE, firmware_status="DownloadFailed"), MOMENT)
    assert any("error" in str(span.style) for span in failed.spans)


def test_the_overview_shows_the_last_log_upload() -> None:
    assert line(BASE, "log upload") == ""
    assert line(replace(BASE, upload_status="diagnostics Uploaded"), "log upload") == "diagnostics Uploaded"
    assert line(replace(BASE, upload_status="log UploadFailure"), "log upload") == "log UploadFailure"
