"""Sessions over the API: what had to be repaired in each, and a session's export with its signed readings."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from apitools import Api

from console.api.client import RemoteBackend
from console.api.schemas import Transaction
from console.core.errors import NotFound
from console.core.views import TransactionView

pytestmark = pytest.mark.stores("sqlite", "postgresql")

ENERGY = "Energy.Active.Import.Register"
OCMF = "OCMF|{\"FV\":\"1.0\",\"RD\":[{\"RV\":1014.0,\"RU\":\"kWh\"}]}|{\"SD\":\"3045\"}"


@pytest.fixture
async def remote(api: Api) -> AsyncIterator[RemoteBackend]:
    backend = RemoteBackend(api.url, api.key, reconnect_delays=(0.05, 0.1))
    await backend.connect()
    yield backend
    await backend.aclose()


async def repaired_sessions(api: Api) -> dict[str, int]:
    """On CP-A01: a session superseded by the next start there, and one reconstructed from its stop,
    its transactionData signed."""
    live, now = api.service.live, api.clock.now()
    first = await live.transaction_started("dep-a01", 1, "TAG-1", 1_000, now)
    second = await live.transaction_started("dep-a01", 1, "TAG-2", 5_000, now + timedelta(minutes=5))
    later = now + timedelta(minutes=10)
    await live.transaction_stopped(
        "dep-a01",
        987654,
        1_014_000,
        later,
        "Local",
        samples=[(now, ENERGY, None, "Wh", 1_000_000.0), (later, ENERGY, None, "Wh", 1_014_000.0)],
        id_tag="FLEET-1",
        signed=[(later, ENERGY, None, "Transaction.End", OCMF, None)],
    )
    await api.service.writer.flush()
    views = await api.service.list_transactions("dep-a01")
    return {"superseded": first, "open": second, "reconstructed": next(v.id for v in views if v.reference == "987654")}


def test_the_transaction_schema_has_every_field_of_the_view() -> None:
    fields = {field.name for field in dataclasses.fields(TransactionView)}
    assert set(Transaction.model_fields) == fields | {"repairs"}


async def test_sessions_say_what_was_repaired(api: Api) -> None:
    ids = await repaired_sessions(api)
    response = await api.client.get("/console/chargers/dep-a01/transactions", headers=api.bearer())
    assert response.status_code == 200
    by_id = {item["id"]: item for item in response.json()}
    superseded = by_id[ids["superseded"]]
    assert (superseded["closed_by"], superseded["repairs"], superseded["stop_reason"]) == ("superseded", ["superseded"], "Superseded")
    assert by_id[ids["open"]]["repairs"] == [] and by_id[ids["open"]]["stopped_at"] is None
    reconstructed = by_id[ids["reconstructed"]]
    assert reconstructed["repairs"] == ["reconstructed"] and reconstructed["start_known"] is True
    assert (reconstructed["reference"], reconstructed["energy_kwh"], reconstructed["id_tag"]) == ("987654", 14.0, "FLEET-1")
    assert {"incomplete", "missing_seq_nos", "meter_anomaly", "clock_skewed", "charger_started_at"} <= set(reconstructed)


async def test_a_sessions_export_keeps_its_signed_readings(api: Api) -> None:
    ids = await repaired_sessions(api)
    path = f"/console/chargers/dep-a01/transactions/{ids['reconstructed']}/export"
    response = await api.client.get(path, headers=api.bearer())
    assert response.status_code == 200
    export = response.json()
    assert export["transaction"]["repairs"] == ["reconstructed"] and export["transaction"]["energy_kwh"] == 14.0
    assert [sample["value"] for sample in export["meter_values"]] == [1_000_000.0, 1_014_000.0]
    [signed] = export["signed_meter_values"]
    assert (signed["data"], signed["context"], signed["measurand"]) == (OCMF, "Transaction.End", ENERGY)
    assert export == await api.service.export_transaction("dep-a01", ids["reconstructed"])


async def test_an_unknown_session_or_anothers_charger_is_404_in_the_envelope(api: Api) -> None:
    ids = await repaired_sessions(api)
    for path, key in (
        ("/console/chargers/dep-a01/transactions/999999/export", api.key),
        (f"/console/chargers/dep-a02/transactions/{ids['open']}/export", api.key),  # a session of another charger
        (f"/console/chargers/dep-a01/transactions/{ids['open']}/export", api.acme_key),  # another organization's
    ):
        response = await api.client.get(path, headers=api.bearer(key))
        assert response.status_code == 404, path
        body = response.json()
        assert body["success"] is False and body["error"]["code"] == "NOT_FOUND" and "meta" in body


async def test_the_attach_client_reads_sessions_and_exports_back(api: Api, remote: RemoteBackend) -> None:
    ids = await repaired_sessions(api)
    remote_views = await remote.list_transactions("dep-a01")
    local_views = await api.service.list_transactions("dep-a01")
    assert [view for view in remote_views if view.stopped_at] == [view for view in local_views if view.stopped_at]
    superseded = next(view for view in remote_views if view.id == ids["superseded"])
    assert superseded.repairs == ("superseded",) and isinstance(superseded.started_at, datetime)
    assert await remote.export_transaction("dep-a01", ids["reconstructed"]) == await api.service.export_transaction(
        "dep-a01", ids["reconstructed"]
    )
    with pytest.raises(NotFound):
        await remote.export_transaction("dep-a01", 999999)
