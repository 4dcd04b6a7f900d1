"""The cost of validating a valid payload: our compiled validators against fastjsonschema's, and the whole `validate`.

    uv run python -m benchmarks.validation_bench [--number 20000] [--repeat 15]

For each payload, the best of --repeat runs of --number calls (the machine is
shared: the minimum is the figure least disturbed), in microseconds per call:
`ours` is console.csms.schemas' validator, `fastjsonschema` the one compiled
with the options console.csms.validation gives it, `validate` the module's
entry point on a message (validator lookup and all). Prints one JSON line.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import timeit
from typing import Any

from ocpp.messages import Call, CallResult, MessageType, get_validator

from console.csms.schemas import compile_validator
from console.csms.validation import fastjsonschema_validator, validate

TIME = "2026-04-02T09:15:00Z"
METER_VALUE_201 = {
    "timestamp": TIME,
    "sampledValue": [
        {"value": 1234.5, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh", "multiplier": 0}},
        {"value": 11000, "measurand": "Power.Active.Import", "phase": "L1"},
    ],
}
PAYLOADS: list[tuple[str, str, int, str, dict[str, Any]]] = [
    (
        "1.6 MeterValues",
        "1.6",
        MessageType.Call,
        "MeterValues",
        {
            "connectorId": 1,
            "meterValue": [
                {
                    "timestamp": TIME,
                    "sampledValue": [
                        {"value": "1234.5", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                        {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                    ],
                }
            ],
        },
    ),
    ("1.6 Heartbeat", "1.6", MessageType.Call, "Heartbeat", {}),
    (
        "1.6 StatusNotification",
        "1.6",
        MessageType.Call,
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": TIME},
    ),
    (
        "1.6 StartTransaction",
        "1.6",
        MessageType.Call,
        "StartTransaction",
        {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": TIME},
    ),
    (
        "2.0.1 TransactionEvent",
        "2.0.1",
        MessageType.Call,
        "TransactionEvent",
        {
            "eventType": "Updated",
            "timestamp": TIME,
            "triggerReason": "MeterValuePeriodic",
            "seqNo": 3,
            "transactionInfo": {"transactionId": "tx-1", "chargingState": "Charging"},
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [METER_VALUE_201],
        },
    ),
    ("2.0.1 MeterValues", "2.0.1", MessageType.Call, "MeterValues", {"evseId": 1, "meterValue": [METER_VALUE_201]}),
    ("1.6 MeterValues answer {}", "1.6", MessageType.CallResult, "MeterValues", {}),
    ("1.6 Heartbeat answer", "1.6", MessageType.CallResult, "Heartbeat", {"currentTime": TIME}),
]


def best_us(call: Any, number: int, repeat: int) -> float:
    return round(min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6, 3)


def message(kind: int, action: str, payload: dict[str, Any]) -> Call | CallResult:
    return Call("1", action, payload) if kind == MessageType.Call else CallResult("1", payload, action)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    results = {}
    for name, version, kind, action, payload in PAYLOADS:
        schema = get_validator(kind, action, version).schema
        ours, theirs = compile_validator(schema), fastjsonschema_validator(schema)
        ours(payload), theirs(payload)  # both take it (either raises otherwise)
        framed = message(kind, action, payload)
        validate(framed, version)
        results[name] = {
            "ours": best_us(lambda: ours(payload), args.number, args.repeat),
            "fastjsonschema": best_us(lambda: theirs(payload), args.number, args.repeat),
            "validate": best_us(lambda: validate(framed, version), args.number, args.repeat),
        }
    print(json.dumps({"benchmark": "validation", "unit": "µs per call, best of runs", "results": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
