"""The planner through the API on a live server: settings, needs, pins, token defaults, bad input under its field."""

from __future__ import annotations

from datetime import timedelta

from apitools import Api


async def test_a_location_plan_is_set_read_and_refused_field_by_field(api: Api) -> None:
    headers = api.bearer()
    empty = await api.client.get("/locations/loc-depot/plan", headers=headers)
    assert empty.status_code == 200 and empty.json()["data"] == {
        "locationId": "loc-depot", "enabled": False, "tariff": None, "baseLoadKw": None, "plan": None
    }
    tariff = [0.3] * 32 + [0.1] * 64
    on = await api.client.put("/locations/loc-depot/plan", json={"enabled": True, "tariff": tariff}, headers=headers)
    assert on.status_code == 200, on.text
    data = on.json()["data"]
    assert data["enabled"] and data["tariff"] == tariff
    assert data["plan"]["sessions"] == [] and data["plan"]["status"] == "optimal"

    gap = await api.client.put("/locations/loc-depot/plan", json={"tariff": tariff[:90]}, headers=headers)
    assert gap.status_code == 422
    assert gap.json()["error"]["details"][0]["field"] == "tariff" and "90 slots" in gap.json()["error"]["details"][0]["message"]
    negative = await api.client.put("/locations/loc-depot/plan", json={"baseLoadKw": [5] * 95 + [-1]}, headers=headers)
    assert negative.status_code == 422 and negative.json()["error"]["details"][0]["field"] == "baseLoadKw"
    kept = await api.client.get("/locations/loc-depot/plan", headers=headers)
    assert kept.json()["data"]["tariff"] == tariff and kept.json()["data"]["baseLoadKw"] is None

    off = await api.client.put("/locations/loc-depot/plan", json={"enabled": False}, headers=headers)
    assert off.json()["data"]["enabled"] is False and off.json()["data"]["plan"] is None


async def test_a_need_is_set_and_bad_ones_name_their_field(api: Api) -> None:
    headers = api.bearer()
    departure = (api.clock.now() + timedelta(hours=8)).isoformat()
    good = await api.client.put(
        "/chargers/dep-a01/connectors/1/need", json={"departBy": departure, "energyKWh": 40}, headers=headers
    )
    assert good.status_code == 200, good.text
    assert good.json()["data"]["energyKWh"] == 40 and good.json()["data"]["source"] == "operator"
    past = await api.client.put("/chargers/dep-a01/connectors/1/need", json={"departBy": "2020-01-01T00:00:00Z", "energyKWh": 4}, headers=headers)
    assert past.status_code == 422 and {d["field"] for d in past.json()["error"]["details"]} == {"departBy"}
    nowhere = await api.client.put("/chargers/dep-a01/connectors/7/need", json={"departBy": "8h", "energyKWh": 4}, headers=headers)
    assert nowhere.status_code == 422 and nowhere.json()["error"]["details"][0]["field"] == "connectorId"
    soc = await api.client.put("/chargers/dep-a01/connectors/1/need", json={"departBy": "8h", "targetSoC": 80}, headers=headers)
    assert soc.status_code == 422 and soc.json()["error"]["details"][0]["field"] == "batteryKWh"
    # The device API's charge command carries the need; a bad one is refused under its parameter.
    refused = await api.client.post(
        "/ev-charger/dep-a02",
        json={"command": "charge", "parameters": {"departBy": "30m", "energyKWh": 50}},
        headers=api.x_api_key(),
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"][0]["field"] == "parameters.energyKWh"
    sent = await api.client.post(
        "/ev-charger/dep-a02",
        json={"command": "charge", "parameters": {"departBy": "9h", "energyKWh": 50, "connectorId": 1}},
        headers=api.x_api_key(),
    )
    assert sent.status_code in (200, 201, 202), sent.text
    need = api.service.planner.need_of("dep-a02", 1)
    assert need is not None and need.energy_kwh == 50


async def test_a_token_default_need_and_priority(api: Api) -> None:
    token = await api.service.save_token({"token": "VAN-7"}, organization_id="org-default")
    answer = await api.client.put(
        f"/tokens/{token.id}/need", json={"needKWh": 45, "departAt": "05:30", "priority": 2}, headers=api.bearer()
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == {"id": token.id, "token": "VAN-7", "needKWh": 45, "departAt": "05:30", "priority": 2}
    bad = await api.client.put(f"/tokens/{token.id}/need", json={"departAt": "25:99"}, headers=api.bearer())
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "departAt"
