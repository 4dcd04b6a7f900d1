"""Compiled schema validation says what the `ocpp` package's validation says, payload for payload.

The central system validates with validators compiled from the package's
schemas (console.csms.validation) and falls back to the package's own
validator for the error of a payload it refuses. These tests hold the two to
the same verdicts: every schema of every version, a valid payload made from
the schema, and many broken variants of it (a key missing, a key too many,
each value of the wrong type, too long, out of its enum or range), plus
hand-written payloads of the messages chargers send most.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ocpp
import pytest
from ocpp.charge_point import ChargePoint as PackageChargePoint
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallResult, MessageType, _validate_payload, get_validator
from ocpp.routing import create_route_map
from ocpp.v16 import call_result as call_result16
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import AuthorizationStatus, RegistrationStatus
from ocpp.v201 import call_result as call_result201

from console.csms.codec import answer_payload, encode, to_snake
from console.csms.v16 import ChargePoint16
from console.csms.v201 import ChargePoint201
from console.csms.validation import compiled_validator, validate

SCHEMA_DIRS = {"1.6": "v16", "2.0.1": "v201", "2.1": "v21"}
VARIANTS_PER_SCHEMA = 120  # broken payloads compared per schema (all of them for the hand-written ones)
NOT_VALUES = (None, 1, -1, 1.5, 1.0, True, "x", "", [], {}, [1], {"x": 1}, "x" * 2000, 10**20)


def schemas(version: str) -> list[tuple[int, str]]:
    """(MessageTypeId, action) of every schema the package ships for a version."""
    found = []
    for path in sorted((Path(ocpp.__file__).parent / SCHEMA_DIRS[version] / "schemas").glob("*.json")):
        name = path.stem
        if name.endswith("Response"):
            found.append((MessageType.CallResult, name.removesuffix("Response")))
        elif version == "1.6":
            found.append((MessageType.Call, name))
        elif name.endswith("Request"):  # 2.1 also ships one schema the package never looks up
            found.append((MessageType.Call, name.removesuffix("Request")))
    return found


def package_says(version: str, kind: int, action: str, payload: Any) -> bool:
    return get_validator(kind, action, version).is_valid(payload)


def compiled_says(version: str, kind: int, action: str, payload: Any) -> bool | None:
    """The compiled validator's verdict, or None when the package validates this message itself."""
    validator = compiled_validator(version, kind, action)
    if validator is None:
        return None
    try:
        validator(payload)
    except Exception:  # fastjsonschema's JsonSchemaException
        return False
    return True


# -- payloads from schemas -------------------------------------------------------------


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def example(schema: dict[str, Any], root: dict[str, Any], full: bool) -> Any:
    """A value the schema accepts: required properties only, or all of them (`full`)."""
    schema = resolve(schema, root)
    if "enum" in schema:
        return schema["enum"][-1]
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        names = properties if full else schema.get("required", [])
        return {name: example(properties[name], root, full) for name in names if name in properties}
    if kind == "array":
        count = max(schema.get("minItems", 1 if full else 0), 1 if full else 0)
        return [example(schema.get("items", {}), root, full) for _ in range(count)]
    if kind == "string":
        return "2026-04-02T09:15:00Z"[: schema.get("maxLength", 20)] if schema.get("format") else "ab"[: schema.get("maxLength", 2)]
    if kind == "integer":
        return max(schema.get("minimum", 1), min(schema.get("maximum", 1), 1))
    if kind == "number":
        return float(max(schema.get("minimum", 1), min(schema.get("maximum", 1), 1)))
    if kind == "boolean":
        return True
    return None


def variants(payload: Any) -> Iterator[Any]:
    """The payload broken in every place one way at a time (and a few that stay valid)."""
    yield payload
    if isinstance(payload, dict):
        yield {**payload, "notInTheSchema": 1}
        for key, value in payload.items():
            yield {name: item for name, item in payload.items() if name != key}
            for other in NOT_VALUES:
                yield {**payload, key: other}
            for inner in variants(value):
                if inner is not value:
                    yield {**payload, key: inner}
    elif isinstance(payload, list):
        yield []
        yield payload + payload
        if payload:
            for inner in variants(payload[0]):
                yield [inner, *payload[1:]]
    elif isinstance(payload, str):
        yield payload + "x" * 600
        yield "NotAnEnumValue"


# -- verdicts ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", list(SCHEMA_DIRS))
def test_every_schema_gives_the_package_verdict_on_made_and_broken_payloads(version: str) -> None:
    compared = made_valid = made_count = 0
    for kind, action in schemas(version):
        if compiled_validator(version, kind, action) is None:  # left to the package (a schema with multipleOf)
            continue
        root = get_validator(kind, action, version).schema
        for full in (False, True):
            made = example(root, root, full)
            made_count += 1
            made_valid += package_says(version, kind, action, made)
            for payload in itertools.islice(variants(copy.deepcopy(made)), VARIANTS_PER_SCHEMA):
                verdict = compiled_says(version, kind, action, payload)
                assert verdict == package_says(version, kind, action, payload), (version, action, kind, payload)
                compared += 1
    assert compared > 3_000
    # The example maker is simple; nearly all it makes must be valid for the broken variants to mean much.
    assert made_valid >= 0.9 * made_count


ACTIONS = {"1.6": ChargePoint16, "2.0.1": ChargePoint201}


@pytest.mark.parametrize("version", list(ACTIONS))
def test_every_message_the_central_system_takes_is_compiled(version: str) -> None:
    from console.csms.protocol import _route_map

    for action in _route_map(ACTIONS[version]):
        assert compiled_validator(version, MessageType.Call, action) is not None, action
        assert compiled_validator(version, MessageType.CallResult, action) is not None, action


METER_VALUES_16 = {
    "connectorId": 1,
    "transactionId": 7,
    "meterValue": [
        {
            "timestamp": "2026-04-02T09:15:00Z",
            "sampledValue": [
                {"value": "1234.5", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "11000", "measurand": "Power.Active.Import", "unit": "W", "phase": "L1", "context": "Sample.Periodic"},
            ],
        }
    ],
}
METER_VALUES_201 = {
    "evseId": 1,
    "meterValue": [
        {
            "timestamp": "2026-04-02T09:15:00Z",
            "sampledValue": [
                {"value": 1234.5, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh", "multiplier": 0}},
                {"value": 11000, "measurand": "Power.Active.Import", "phase": "L1"},
            ],
        }
    ],
}
HAND_WRITTEN = [
    ("1.6", "BootNotification", {"chargePointVendor": "Alfen", "chargePointModel": "Eve Single", "firmwareVersion": "4.1"}),
    ("1.6", "Heartbeat", {}),
    ("1.6", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": "2026-04-02T09:15:00Z"}),
    ("1.6", "MeterValues", METER_VALUES_16),
    ("1.6", "StartTransaction", {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": "2026-04-02T09:15:00Z"}),
    ("1.6", "StopTransaction", {"meterStop": 10, "timestamp": "2026-04-02T09:15:00Z", "transactionId": 7, "reason": "Local"}),
    ("2.0.1", "BootNotification", {"chargingStation": {"vendorName": "Alfen", "model": "Eve"}, "reason": "PowerUp"}),
    ("2.0.1", "Heartbeat", {}),
    ("2.0.1", "StatusNotification", {"timestamp": "2026-04-02T09:15:00Z", "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}),
    ("2.0.1", "MeterValues", METER_VALUES_201),
    (
        "2.0.1",
        "TransactionEvent",
        {
            "eventType": "Updated",
            "timestamp": "2026-04-02T09:15:00Z",
            "triggerReason": "MeterValuePeriodic",
            "seqNo": 3,
            "transactionInfo": {"transactionId": "tx-1", "chargingState": "Charging"},
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": METER_VALUES_201["meterValue"],
        },
    ),
    ("2.1", "Heartbeat", {}),
    ("2.1", "MeterValues", METER_VALUES_201),
]


@pytest.mark.parametrize(("version", "action", "payload"), HAND_WRITTEN, ids=[f"{v}-{a}" for v, a, _ in HAND_WRITTEN])
def test_messages_chargers_send_most_get_the_package_verdict(version: str, action: str, payload: dict[str, Any]) -> None:
    assert package_says(version, MessageType.Call, action, payload)
    for variant in variants(copy.deepcopy(payload)):
        assert compiled_says(version, MessageType.Call, action, variant) == package_says(
            version, MessageType.Call, action, variant
        ), variant


def outcome(check: Any, message: Call | CallResult, version: str) -> tuple[str, str, str] | None:
    try:
        check(message, version)
    except OCPPError as error:
        return type(error).__name__, error.description, str(error.details.get("cause"))
    return None


@pytest.mark.parametrize(("version", "action", "payload"), HAND_WRITTEN, ids=[f"{v}-{a}" for v, a, _ in HAND_WRITTEN])
def test_a_refused_payload_raises_the_package_error(version: str, action: str, payload: dict[str, Any]) -> None:
    refused = 0
    for variant in variants(copy.deepcopy(payload)):
        ours = outcome(validate, Call("1", action, copy.deepcopy(variant)), version)
        theirs = outcome(_validate_payload, Call("1", action, copy.deepcopy(variant)), version)
        assert ours == theirs, variant
        refused += ours is not None
    assert refused > 0


def test_answers_are_validated_as_the_package_validates_them() -> None:
    assert outcome(validate, CallResult("1", {"currentTime": "2026-04-02T09:15:00Z"}, "Heartbeat"), "1.6") is None
    refused = CallResult("1", {"currentTime": 5}, "Heartbeat")
    assert outcome(validate, refused, "1.6") == outcome(_validate_payload, refused, "1.6") is not None


# -- conversions -------------------------------------------------------------------------


def package_answer(response: Any) -> Any:
    return snake_to_camel_case(remove_nones(serialize_as_dict(response)))


ANSWERS = [
    call_result16.Heartbeat(current_time="2026-04-02T09:15:00Z"),
    call_result16.BootNotification(current_time="2026-04-02T09:15:00Z", interval=60, status=RegistrationStatus.accepted),
    call_result16.StartTransaction(transaction_id=7, id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted)),
    call_result16.StopTransaction(id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted, parent_id_tag=None)),
    call_result16.MeterValues(),
    call_result201.TransactionEvent(id_token_info={"status": "Accepted", "group_id_token": {"id_token": "G", "type": "Central"}}),
    call_result201.BootNotification(current_time="2026-04-02T09:15:00Z", interval=30, status="Accepted", status_info=None),
    call_result201.GetVariables(get_variable_result=[{"attribute_status": "Accepted", "component": {"name": "X"}, "variable": {"name": "soc_limit"}}]),
]


@pytest.mark.parametrize("response", ANSWERS, ids=[type(answer).__qualname__ for answer in ANSWERS])
def test_answers_convert_as_the_package_converts_them(response: Any) -> None:
    ours, theirs = answer_payload(response), package_answer(response)
    assert ours == theirs
    assert json.dumps(ours) == json.dumps(theirs)  # the same keys in the same order
    assert encode([MessageType.CallResult, "1", ours]) == CallResult("1", theirs).to_json()


def test_an_answer_the_fast_path_does_not_know_goes_the_package_way() -> None:
    @dataclasses.dataclass
    class Odd:
        pair: tuple[int, int]
        note: str | None = None

    assert answer_payload(Odd((1, 2))) == package_answer(Odd((1, 2)))


@pytest.mark.parametrize(("version", "action", "payload"), HAND_WRITTEN, ids=[f"{v}-{a}" for v, a, _ in HAND_WRITTEN])
def test_payload_keys_convert_as_the_package_converts_them(version: str, action: str, payload: dict[str, Any]) -> None:
    assert to_snake(payload) == camel_to_snake_case(payload)
    with_custom = {**payload, "customData": {"vendorId": "X", "someOCPPCSMSURL": 1, "aV2XThing": [{"innerKey": None}]}}
    assert to_snake(with_custom) == camel_to_snake_case(with_custom)


def test_frames_encode_as_the_package_encodes_them() -> None:
    for frame in ([3, "1", {"currentTime": "2026-04-02T09:15:00Z", "interval": 60}], [3, "é-1", {"a": [1, 2.5, None, True]}], [3, "1", {"big": 2**70}]):
        assert json.loads(encode(frame)) == json.loads(CallResult(frame[1], frame[2]).to_json())


def test_a_connection_has_what_the_package_gives_one() -> None:
    """ProtocolGuard builds a connection without the package's __init__: it must set the same attributes."""
    package = PackageChargePoint("CP", object())
    ours = ChargePoint16("CP", "dep-1", object(), None, None, 60, 30)  # type: ignore[arg-type]
    assert set(vars(package)) <= set(vars(ours))
    assert {action: set(handlers) for action, handlers in ours.route_map.items()} == {
        action: set(handlers) for action, handlers in create_route_map(ours).items()
    }


@pytest.mark.parametrize("handler_class", [ChargePoint16, ChargePoint201])
def test_routes_are_the_package_route_map_with_its_wrappers_taken_off(handler_class: type) -> None:
    """Each route calls the handler itself (the package's wrapper only passes arguments on), and
    takes the payload as received exactly where the handler asks for it."""
    from console.csms.protocol import _routes_of

    routes = _routes_of(handler_class)
    package = create_route_map(handler_class)
    assert set(routes) == {action for action, handlers in package.items() if "_on_action" in handlers}
    for action, route in routes.items():
        wrapper = package[action]["_on_action"]
        assert route.handler is wrapper.__wrapped__
        assert route.takes_payload == getattr(wrapper, "takes_payload", False)
    assert routes["MeterValues"].takes_payload and not routes["Heartbeat"].takes_payload
