"""The API's surface: control endpoints by identity, filters and unknown parameters, public transactions, the contract."""

from __future__ import annotations

from apitools import Api
from test_deployments import assert_error


async def test_control_endpoints_take_the_charger_identity(api: Api, runtime) -> None:  # type: ignore[no-untyped-def]
    for command in ("start", "stop", "restart"):
        response = await api.client.post(f"/ocpp/chargers/CP-A01/{command}", headers=api.bearer())
        assert response.status_code == 200, response.text
        assert (response.json()["charger_id"], response.json()["identity"]) == ("dep-a01", "CP-A01")
    # The internal id still works; another organization's identity is not found.
    assert (await api.client.post("/ocpp/chargers/dep-a01/start", headers=api.bearer())).status_code == 200
    assert runtime.calls == [("start", "dep-a01"), ("stop", "dep-a01"), ("restart", "dep-a01"), ("start", "dep-a01")]
    assert_error(await api.client.post("/ocpp/chargers/ACME-01/start", headers=api.bearer()), 404, "NOT_FOUND")
    assert_error(await api.client.post("/ocpp/chargers/NOPE/stop", headers=api.bearer()), 404, "NOT_FOUND")
