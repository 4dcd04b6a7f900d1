"""Our schema compiler says what fastjsonschema says, payload for payload, on every schema it compiles.

console.csms.schemas compiles the `ocpp` package's schemas to straight-line
Python; fastjsonschema (with the options console.csms.validation gives it)
is the reference. For every request and response schema of 1.6, 2.0.1 and 2.1
both judge payloads made from the schema (required properties only, all of
them, and the hand-written payloads chargers send most) and every mutation of
each of their values: removed, of each wrong type, of a subclass of the right
type, at and past every bound (lengths counted in code points, also of
non-ASCII text), off an enum by a character, arrays empty, short and too long,
objects with a key too many or a property added; then random combinations of
those, from a fixed seed.
"""

from __future__ import annotations

import enum
import random
from collections import OrderedDict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import fastjsonschema
import pytest
from ocpp.messages import MessageType, get_validator
from test_validation import HAND_WRITTEN, SCHEMA_DIRS, example, resolve, schemas

from console.csms.schemas import Refused, compile_validator, validator_source
from console.csms.validation import compiled_validator, fastjsonschema_validator

SEED = 20260402
WRONG_TYPES_TRIED = 6  # at each value, of WRONG_TYPES (all of them where the payload is small)
SINGLES_PER_PAYLOAD = 600  # single mutations compared per payload made, drawn from all of them
COMBINED_PER_PAYLOAD = 40  # random combinations of two or three mutations, per payload made
ENUM_MEMBERS_TRIED = 4  # besides the first and the last


class Text(str):
    """A str that is not exactly a str (an enum member of the package is one)."""


class Whole(int):
    """An int that is not exactly an int."""


class Record(dict):
    """A dict that is not exactly a dict."""


class Level(enum.IntEnum):
    ONE = 1


WRONG_TYPES = (
    None, True, False, 0, 1, -1, 1.0, 1.5, -0.5, 10**20, float("nan"), Decimal("1"), Decimal("2.5"),
    "", "x", "1", [], (), [1], ["x"], {}, {"x": 1},
)


def verdict(validator: Any, payload: Any) -> bool:
    """True for a payload taken, False for one refused; anything else raised fails the test."""
    try:
        validator(payload)
    except (Refused, fastjsonschema.JsonSchemaException):
        return False
    return True


# -- mutations ---------------------------------------------------------------------------


def locations(value: Any, schema: dict[str, Any], root: dict[str, Any], path: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    """(path, schema) of every value in a payload, with the schema it is checked against."""
    schema = resolve(schema, root)
    yield path, schema
    if isinstance(value, dict) and schema.get("type") == "object":
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                yield from locations(item, properties[key], root, (*path, key))
    elif isinstance(value, list) and schema.get("type") == "array":
        for index, item in enumerate(value):
            yield from locations(item, schema.get("items", {}), root, (*path, index))


def replaced(payload: Any, path: tuple, value: Any) -> Any:
    """The payload with the value at `path` replaced, containers copied along the path only."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(payload, dict):
        return {**payload, key: replaced(payload[key], rest, value)}
    items = list(payload)
    items[key] = replaced(items[key], rest, value)
    return items


def replacements(value: Any, schema: dict[str, Any], root: dict[str, Any], rng: random.Random, wrong: int) -> Iterator[Any]:
    """Values to put where `value` is: of the wrong type, and at and past what its schema allows."""
    yield from rng.sample(WRONG_TYPES, wrong)
    kind = schema.get("type")
    if kind == "string":
        yield from strings(value, schema, rng)
    elif kind in ("integer", "number"):
        yield from numbers(value, schema)
    elif kind == "boolean":
        yield from (not value, 0, 1, "true")
    elif kind == "array":
        yield from arrays(value, schema, root)
    elif kind == "object":
        yield from objects(value, schema, root)


def strings(value: Any, schema: dict[str, Any], rng: random.Random) -> Iterator[Any]:
    text = value if isinstance(value, str) else "ab"
    yield from ("", text + "x", Text(text), text.upper(), " " + text)
    members = schema.get("enum", [])
    if members:
        tried = [members[0], members[-1], *rng.sample(members, min(ENUM_MEMBERS_TRIED, len(members)))]
        for member in tried:
            yield from (member, member[:-1], member + "x", member[1:], member.swapcase(), Text(member))
    for size in (schema.get("maxLength"), schema.get("minLength")):
        if size is not None:
            for char in ("a", "é", "€", "😀"):  # one code point each, two UTF-16 units for the last
                yield from (char * size, char * (size + 1), char * max(size - 1, 0))


def numbers(value: Any, schema: dict[str, Any]) -> Iterator[Any]:
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else 1
    yield from (number, float(number), -number, number + 0.5, Whole(int(number)), Level.ONE, Decimal(str(number)))
    yield from (2**53 + 1, -(2**63), float("inf"), float("-inf"))
    for bound in (schema.get("minimum"), schema.get("maximum")):
        if bound is not None:
            whole = int(bound)
            yield from (bound, whole, whole - 1, whole + 1, bound - 0.5, bound + 0.5, float(whole), Whole(whole), Decimal(whole))


def arrays(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> Iterator[Any]:
    items = list(value) if isinstance(value, list) else []
    item = items[0] if items else example(schema.get("items", {}), root, True)
    low, high = schema.get("minItems", 0), schema.get("maxItems")
    yield from ([], [item], [item] * low, [item] * max(low - 1, 0), items + items, tuple(items), [*items, None], [None])
    if high is not None:
        yield from ([item] * high, [item] * (high + 1))


def objects(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> Iterator[Any]:
    present = dict(value) if isinstance(value, dict) else {}
    for key in present:
        yield {name: item for name, item in present.items() if name != key}
    for key, property_schema in schema.get("properties", {}).items():
        if key not in present:
            yield {**present, key: example(property_schema, root, False)}
            yield {**present, key: example(property_schema, root, True)}
            yield {**present, key: None}
    yield from ({**present, "notInTheSchema": 1}, {**present, 5: 1}, {}, Record(present), OrderedDict(present))


def mutations(payload: Any, root: dict[str, Any], rng: random.Random) -> list[tuple[tuple, Any]]:
    """(path, new value) of single mutations of a payload: every one of a small payload, a draw from a big one."""
    places = list(locations(payload, root, root))
    wrong = len(WRONG_TYPES) if len(places) <= 12 else WRONG_TYPES_TRIED
    singles = [(path, new) for path, schema in places for new in replacements(_at(payload, path), schema, root, rng, wrong)]
    return singles if len(singles) <= SINGLES_PER_PAYLOAD else rng.sample(singles, SINGLES_PER_PAYLOAD)


def _at(payload: Any, path: tuple) -> Any:
    for key in path:
        payload = payload[key]
    return payload


def combined(payload: Any, singles: list[tuple[tuple, Any]], rng: random.Random) -> Iterator[Any]:
    """Payloads with two or three mutations at once (a later one skipped where an earlier one took its place)."""
    if len(singles) < 2:
        return
    for _ in range(COMBINED_PER_PAYLOAD):
        mutated = payload
        for path, new in rng.sample(singles, min(rng.choice((2, 3)), len(singles))):
            try:
                mutated = replaced(mutated, path, new)
            except (KeyError, IndexError, TypeError):
                continue
        yield mutated


# -- verdicts ----------------------------------------------------------------------------


def payloads_made(version: str, kind: int, action: str, root: dict[str, Any]) -> list[Any]:
    made = [example(root, root, False), example(root, root, True)]
    if kind == MessageType.Call:
        made += [payload for v, a, payload in HAND_WRITTEN if (v, a) == (version, action)]
    return made


@pytest.mark.parametrize("version", list(SCHEMA_DIRS))
def test_every_compiled_schema_gives_fastjsonschema_verdict(version: str) -> None:
    rng = random.Random(f"{SEED}-{version}")
    compared = taken = compiled = 0
    for kind, action in schemas(version):
        root = get_validator(kind, action, version).schema
        ours = compile_validator(root)
        if ours is None:
            continue
        compiled += 1
        theirs = fastjsonschema_validator(root)
        verdicts = set()
        for payload in payloads_made(version, kind, action, root):
            singles = mutations(payload, root, rng)
            cases = [payload, *(replaced(payload, path, new) for path, new in singles), *combined(payload, singles, rng)]
            for case in cases:
                expected = verdict(theirs, case)
                assert verdict(ours, case) == expected, (version, action, kind, case)
                verdicts.add(expected)
                taken += expected
            compared += len(cases)
        assert verdicts == {True, False}, (version, action, kind)  # each schema both took and refused
    assert compiled >= len(schemas(version)) - 3
    assert compared > 20_000
    assert taken > compared // 10  # enough mutations stay valid to test what is allowed as well


def test_every_schema_without_multiple_of_is_compiled_by_us() -> None:
    left = []
    for version in SCHEMA_DIRS:
        for kind, action in schemas(version):
            validator = compiled_validator(version, kind, action)
            if validator is None or not validator.__code__.co_filename.startswith("<schema"):
                left.append((version, action, kind))
    assert left == [
        ("1.6", "GetCompositeSchedule", MessageType.CallResult),
        ("1.6", "RemoteStartTransaction", MessageType.Call),
        ("1.6", "SetChargingProfile", MessageType.Call),
    ]


def test_the_code_is_straight_line() -> None:
    source = validator_source(get_validator(MessageType.Call, "MeterValues", "1.6").schema)
    assert source is not None
    for generic in ("set(", ".keys()", "enumerate", ".remove(", "def ", "lambda"):
        assert generic not in source.split("\n", 1)[1], generic


ITEM = {"type": "object", "properties": {"a": {"type": "string"}}}
UNSUPPORTED = {
    "a list of types": {"type": ["string", "null"]},
    "no type but a check": {"maxLength": 3},
    "patternProperties": {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
    "additionalProperties as a schema": {"type": "object", "additionalProperties": {"type": "string"}},
    "a required property not allowed": {"type": "object", "properties": {}, "required": ["a"], "additionalProperties": False},
    "a required property twice": {"type": "object", "properties": {"a": {}}, "required": ["a", "a"]},
    "an enum of numbers": {"type": "integer", "enum": [1, 2]},
    "an empty enum": {"type": "string", "enum": []},
    "exclusiveMinimum": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
    "a decimal bound": {"type": "number", "maximum": Decimal("1.5")},
    "multipleOf": {"type": "number", "multipleOf": 0.1},
    "items as a list": {"type": "array", "items": [ITEM]},
    "anyOf": {"anyOf": [ITEM]},
    "a reference out of the document": {"$ref": "other.json#/definitions/A"},
    "a reference to nothing": {"$ref": "#/definitions/Missing"},
    "a recursive reference": {"$ref": "#/definitions/A", "definitions": {"A": {"type": "object", "properties": {"a": {"$ref": "#/definitions/A"}}}}},
    "an id inside": {"type": "object", "properties": {"a": {"id": "urn:x", "type": "string"}}},
    "an unknown keyword": {"type": "string", "pattern": "^a"},
}


@pytest.mark.parametrize("schema", list(UNSUPPORTED.values()), ids=list(UNSUPPORTED))
def test_a_schema_beyond_the_subset_is_left_to_fastjsonschema(schema: dict[str, Any]) -> None:
    assert compile_validator(schema) is None
