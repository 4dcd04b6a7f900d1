"""The message path's JSON reading gives what json.loads gives: the same value, or a ValueError."""

from __future__ import annotations

import json

import pytest

from console.csms.codec import decode, to_snake
from console.csms.framelog import redact
from ocpp.charge_point import camel_to_snake_case

TEXTS = [
    '[2,"1","Heartbeat",{}]',
    '[2,"1","A",{"a":1,"a":2}]',
    "[NaN, Infinity, -Infinity]",
    "[1e400]",
    "[123456789012345678901234567890]",
    "[18446744073709551615, -9223372036854775808]",
    '["\\ud800"]',
    "[1.0, -0.0, 1E5, 0.1, 5e-324]",
    " [1] ",
    "null",
    '"text"',
    '[2,"1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-04-02T09:15:00Z","sampledValue":[{"value":"1.5"}]}]}]',
]
BAD = ["[1]x", "", "[", "{'a': 1}", "\ufeff[1]", "[2,\"1\",]"]


@pytest.mark.parametrize("text", TEXTS)
def test_decode_reads_what_json_reads(text: str) -> None:
    decoded, expected = decode(text), json.loads(text)
    assert repr(decoded) == repr(expected)  # repr: nan == nan, and int vs float told apart
    assert [type(item) for item in decoded] == [type(item) for item in expected] if isinstance(expected, list) else True


@pytest.mark.parametrize("text", BAD)
def test_decode_refuses_what_json_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        decode(text)


def test_to_snake_is_the_packages_conversion() -> None:
    payload = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "t", "sampledValue": [{"value": "1", "measurand": "Power.Active.Import"}], "list": [[{"innerKey": None}]]}],
        "customData": {"vendorId": "x", "nestedList": [1, "a", {"deepKey": True}]},
    }
    assert to_snake(payload) == camel_to_snake_case(payload)


def test_redact_masks_secrets_in_any_case_and_leaves_the_rest() -> None:
    assert redact('[2,"1","Heartbeat",{}]') == '[2,"1","Heartbeat",{}]'
    masked = redact('[2,"1","ChangeConfiguration",{"key":"AuthorizationKey","value":"0123456789abcdef"}]')
    assert "0123456789abcdef" not in masked
    assert "0123456789abcdef" not in redact('[2,"1","X",{"basicAuthPASSWORD":"0123456789abcdef"}]')
    # Mentioning a secret key without carrying one changes nothing.
    assert redact('[2,"1","GetConfiguration",{"key":["AuthorizationKey"]}]') == '[2,"1","GetConfiguration",{"key":["AuthorizationKey"]}]'
