"""Payload conversions and JSON encoding of the message path, as the `ocpp` package does them, faster.

The package turns every payload's keys from camelCase to snake_case with two
regular expressions per key, and every answer back through `dataclasses.asdict`,
`remove_nones` and `snake_to_camel_case`. The keys of OCPP payloads are few, so
each key's conversion is done once and kept; the results are the package's own.
Frames are encoded with orjson (the package's encoder for anything orjson
cannot take, such as integers past 64 bits).
"""

from __future__ import annotations

import dataclasses
import decimal
import json
from enum import Enum
from typing import Any

import orjson
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.messages import _DecimalEncoder

# Keys are cached up to this many (payloads may carry free-form objects, e.g. customData).
MAX_CACHED_KEYS = 10_000

_snake_keys: dict[str, str] = {}
_camel_keys: dict[str, str] = {}
_field_names: dict[type, tuple[tuple[str, str], ...]] = {}
_DECIMAL_ENCODER = _DecimalEncoder(separators=(",", ":"))


def _snake_key(key: str) -> str:
    converted = _snake_keys.get(key)
    if converted is None:
        converted = next(iter(camel_to_snake_case({key: None})))
        if len(_snake_keys) < MAX_CACHED_KEYS:
            _snake_keys[key] = converted
    return converted


def _camel_key(key: str) -> str:
    converted = _camel_keys.get(key)
    if converted is None:
        converted = next(iter(snake_to_camel_case({key: None})))
        if len(_camel_keys) < MAX_CACHED_KEYS:
            _camel_keys[key] = converted
    return converted


def to_snake(data: Any) -> Any:
    """`camel_to_snake_case` of the package."""
    if isinstance(data, dict):
        keys = _snake_keys
        return {
            (keys.get(key) or _snake_key(key)): to_snake(value) if isinstance(value, (dict, list)) else value
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [to_snake(value) if isinstance(value, (dict, list)) else value for value in data]
    return data


# orjson reads an integer past 64 bits as a float where json keeps it exact: text with a run of 19
# digits goes to json. Found in the UTF-8 bytes with every ASCII digit mapped to "0" and every other
# byte to a space (no byte of a multi-byte character is an ASCII digit): a quarter of what
# re.search(r"[0-9]{19}") costs on a MeterValues frame.
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN = b"0" * 19


def _has_long_number(text: str) -> bool:
    return _LONG_RUN in text.encode("utf-8", "surrogatepass").translate(_DIGITS)


def decode(text: str) -> Any:
    """`json.loads(text)`, the same value or the same error, with orjson wherever it reads the text as json does.

    Text orjson refuses (NaN, Infinity, lone surrogates, …) goes to json, which
    accepts what it always accepted and raises what it always raised.
    """
    if not _has_long_number(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


class _Unusual(Exception):
    """A value the fast path does not convert exactly as the package would (a tuple, a set, …)."""


SCALARS = (str, int, float, bool, Enum, decimal.Decimal)


def _answer_value(value: Any) -> Any:
    if isinstance(value, SCALARS):  # most values; a dataclass instance is none of these
        return value
    if isinstance(value, dict):
        return {_camel_key(key): _answer_value(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_answer_value(item) for item in value if item is not None]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _answer_fields(value)
    raise _Unusual


def _answer_fields(instance: Any) -> dict[str, Any]:
    names = _field_names.get(type(instance))
    if names is None:
        names = _field_names[type(instance)] = tuple(
            (field.name, _camel_key(field.name)) for field in dataclasses.fields(instance)
        )
    payload = {}
    for name, camel in names:
        value = getattr(instance, name)
        if value is not None:
            payload[camel] = _answer_value(value)
    return payload


def answer_payload(response: Any) -> Any:
    """`snake_to_camel_case(remove_nones(serialize_as_dict(response)))`: the payload of a handler's answer."""
    try:
        return _answer_fields(response)
    except (_Unusual, TypeError):
        return snake_to_camel_case(remove_nones(serialize_as_dict(response)))


def encode(frame: list[Any]) -> str:
    """A frame as JSON text, compact, as the package's `to_json` writes it."""
    try:
        return orjson.dumps(frame, default=_orjson_default).decode()
    except TypeError:  # orjson.JSONEncodeError is one: the package's encoder decides
        return _DECIMAL_ENCODER.encode(frame)


def _orjson_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float("%.1f" % value)
    raise TypeError
