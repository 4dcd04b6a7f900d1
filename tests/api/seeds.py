"""The seeds' own example objects, for comparing shapes (key sets, nested)."""

from __future__ import annotations

from typing import Any

# 000: Get charger (the deployment API).
SEED_CHARGER: dict[str, Any] = {
    "id": "dep-123",
    "identity": "CP-TEST-001",
    "name": "Bay A01",
    "vendor_name": "Wallbox",
    "model": "Pulsar Plus",
    "image_url": "https://example.com/pulsar-plus.png",
    "ocpp_version": "OCPP1.6",
    "number_of_connectors": 1,
    "max_charging_power": 22000,
    "connector_type": "Type2",
    "location_id": "4090477f-a416-4515-a302-97aa344a0a2a",
    "created_at": "2026-04-02T09:15:00Z",
    "updated_at": "2026-04-02T09:15:00Z",
}

# 003: List EV Charger devices (the device API).
SEED_DEVICE: dict[str, Any] = {
    "id": "device_ev_001",
    "vendor": "example_vendor_a",
    "sync": {"available": True, "lastPulledAt": "2026-05-07T09:23:45.000Z"},
    "metadata": {"model": "Wallbox 7kW", "source": "live"},
    "state": {
        "status": "charging",
        "isConnected": True,
        "isCharging": True,
        "currentPower": 7,
        "maxCurrent": 32,
        "powerRateLimit": 7.4,
    },
    "commands": {
        "charge": {"parameters": {}, "execution": ["immediate", "scheduled", "windowed"]},
        "idle": {"parameters": {}, "execution": ["immediate", "scheduled"]},
    },
    "conflictStrategies": ["cancel_and_replace"],
    "lastAction": {
        "id": "action_ev_def456",
        "command": "charge",
        "state": "acknowledged",
        "createdAt": "2026-05-07T09:21:00.000Z",
        "updatedAt": "2026-05-07T09:21:18.000Z",
        "links": {"self": "/actions/action_ev_def456"},
    },
    "currentSchedule": None,
}
SEED_LIST_DATA_KEYS = {"items", "pagination"}
SEED_PAGINATION = {"limit": 10, "offset": 0, "total": 2, "hasMore": False}
SEED_META = {"requestId": "req_8a2Bf3kP", "environment": "sandbox", "timestamp": "2026-06-02T12:00:00.000Z", "latencyMs": 12}


def same_shape(ours: Any, seed: Any, path: str = "") -> list[str]:
    """Where `ours` differs from the seed in keys (recursively through objects); [] when the shapes agree.

    A seed value of None says nothing about the nested shape; a parameters object is free-form.
    """
    if not isinstance(seed, dict) or not isinstance(ours, dict):
        return []
    problems = []
    if set(ours) != set(seed):
        problems.append(f"{path or '.'}: {sorted(set(ours) ^ set(seed))}")
    for key in set(ours) & set(seed):
        if key == "parameters":
            continue
        problems += same_shape(ours[key], seed[key], f"{path}.{key}")
    return problems
