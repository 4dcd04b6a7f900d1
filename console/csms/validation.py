"""Schema validation of OCPP payloads with validators compiled once from the schemas the `ocpp` package ships.

The package validates every payload by walking its JSON schema with
`jsonschema` (Draft 4, formats not checked), which costs more than all the
rest of a message. Here each schema is compiled once into Python code, with
the package's own semantics: Draft 4 whatever the schema's `$schema` says, no
format checks, no defaults filled in. Our own compiler (console.csms.schemas)
writes straight-line code for the part of Draft 4 the package's schemas use;
a schema it does not take is compiled by `fastjsonschema` (same verdicts,
several times slower: 5.6 against 1.2 µs on a MeterValues payload).

The compiled validator only decides that a payload is valid. A payload it
refuses goes to the package's validator, which raises the error the package
always raised (code, description and details), so bad input gets exactly the
CALLERROR it got before. Schemas with `multipleOf` (which the package checks
on decimals) are left to the package, as is any schema that does not compile.
"""

from __future__ import annotations

import copy
import decimal
from typing import Any

import fastjsonschema
from ocpp.messages import Call, CallResult, _validate_payload, get_validator

from console.csms.schemas import Refused, compile_validator
from console.core.versions import OcppVersion

DRAFT_4 = "http://json-schema.org/draft-04/schema#"

_compiled: dict[tuple[str, int, str], Any] = {}
# The messages the package validates with decimals (ocpp.messages._validate_payload), as (version, type, action).
DECIMAL_SCHEMAS = {(OcppVersion.V16.short, 2, "SetChargingProfile"), (OcppVersion.V16.short, 2, "RemoteStartTransaction"), (OcppVersion.V16.short, 3, "GetCompositeSchedule")}


def compile_schema(schema: dict[str, Any]) -> Any:
    """A validator with the semantics of the package's Draft4Validator (ours, else fastjsonschema's), or None."""
    if _left_to_the_package(schema):
        return None
    return compile_validator(schema) or fastjsonschema_validator(schema)


def fastjsonschema_validator(schema: dict[str, Any]) -> Any:
    """A fastjsonschema validator with the semantics of the package's Draft4Validator, or None."""
    if _left_to_the_package(schema):
        return None
    definition = copy.deepcopy(schema)
    definition["$schema"] = DRAFT_4
    try:
        return fastjsonschema.compile(definition, use_default=False, use_formats=False, detailed_exceptions=False)
    except (fastjsonschema.JsonSchemaDefinitionException, ValueError, TypeError):
        return None


def _left_to_the_package(schema: Any) -> bool:
    """A schema with `multipleOf`, or read with decimals (the package's cache may hold it so)."""
    if isinstance(schema, dict):
        return "multipleOf" in schema or any(_left_to_the_package(value) for value in schema.values())
    if isinstance(schema, list):
        return any(_left_to_the_package(value) for value in schema)
    return isinstance(schema, decimal.Decimal)


def compiled_validator(ocpp_version: str, message_type_id: int, action: str) -> Any:
    """The compiled validator of one message, built on first use (None: the package validates it)."""
    key = (ocpp_version, message_type_id, action)
    try:
        return _compiled[key]
    except KeyError:
        pass
    # The package keeps one validator per schema, whatever it was read with: ask for the ones it
    # reads with decimals as it does, or its own check of them meets a float schema and fails.
    parse_float: Any = decimal.Decimal if key in DECIMAL_SCHEMAS else float
    try:
        schema = get_validator(message_type_id, action, ocpp_version, parse_float=parse_float).schema
    except (OSError, ValueError):
        validator = None
    else:
        validator = compile_schema(schema)
    _compiled[key] = validator
    return validator


# Messages whose empty payload ({}) was found valid: most answers to a charger are {}, and a
# validator's verdict on the same payload never changes.
_empty_is_valid: set[tuple[str, int, str]] = set()


def validate(message: Call | CallResult, ocpp_version: str) -> None:
    """Raise the package's OCPPError for a payload its schema refuses; return for a valid one."""
    payload = message.payload
    key = (ocpp_version, message.message_type_id, message.action)
    if not payload and key in _empty_is_valid and type(payload) is dict:
        return
    try:
        validator = _compiled[key]
    except KeyError:
        validator = compiled_validator(*key)
    if validator is not None:
        try:
            validator(payload)
        except (Refused, fastjsonschema.JsonSchemaException):
            pass
        else:
            if not payload and type(payload) is dict:
                _empty_is_valid.add(key)
            return
    _validate_payload(message, ocpp_version)


# -- tolerant mode ---------------------------------------------------------------------

# The charger-to-server messages tolerant mode takes with deviations: losing one loses a session or its energy.
TOLERATED = {
    OcppVersion.V16.short: frozenset({"StartTransaction", "StopTransaction", "MeterValues"}),
    OcppVersion.V201.short: frozenset({"TransactionEvent", "MeterValues"}),
    OcppVersion.V21.short: frozenset({"TransactionEvent", "MeterValues"}),
}
# Text longer than its schema allows is kept as sent up to this length (what any store column takes), cut beyond.
TOLERATED_LENGTH = 255

_tolerant_validators: dict[tuple[str, str], Any] = {}


def tolerate(message: Call, ocpp_version: str) -> tuple[Any, list[str]] | None:
    """A CALL its schema refused, normalised as quirky firmware means it, with each deviation in words; None: refuse it.

    For the transaction and meter messages of TOLERATED only, and only on the
    slow path (after `validate` refused the payload): properties the schema
    does not know are dropped, an enum value in the wrong case is read as the
    schema spells it, a number sent as text or text sent as a number is read as
    the schema's type, and text over its maxLength (a 21-character idTag) is
    kept as sent, cut at TOLERATED_LENGTH. What is left must pass the schema
    with only its maxLengths lifted, or the payload is refused as before.
    """
    if message.action not in TOLERATED.get(ocpp_version, ()):
        return None
    try:
        schema = get_validator(message.message_type_id, message.action, ocpp_version).schema
    except (OSError, ValueError):
        return None
    notes: list[str] = []
    payload = _normalised(message.payload, schema, schema, "", notes)
    validator = _tolerant_validator(ocpp_version, message.action, schema)
    if validator is None:
        return None
    try:
        validator(payload)
    except (Refused, fastjsonschema.JsonSchemaException):
        return None
    return payload, list(dict.fromkeys(notes))  # each deviation once, however many samples repeat it


def _tolerant_validator(ocpp_version: str, action: str, schema: dict[str, Any]) -> Any:
    """The compiled validator of a schema with every maxLength lifted to TOLERATED_LENGTH, built on first use."""
    key = (ocpp_version, action)
    if key not in _tolerant_validators:
        _tolerant_validators[key] = compile_schema(_lengths_lifted(schema))
    return _tolerant_validators[key]


def _lengths_lifted(schema: Any) -> Any:
    if isinstance(schema, dict):
        lifted = {key: _lengths_lifted(value) for key, value in schema.items()}
        if isinstance(lifted.get("maxLength"), int):
            lifted["maxLength"] = max(lifted["maxLength"], TOLERATED_LENGTH)
        return lifted
    if isinstance(schema, list):
        return [_lengths_lifted(value) for value in schema]
    return schema


def _resolved(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """A schema with its `$ref` ("#/definitions/…", as the package's schemas write them) followed."""
    while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        node: Any = root
        for part in schema["$ref"][2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema = node
    return schema


def _normalised(value: Any, schema: Any, root: dict[str, Any], path: str, notes: list[str]) -> Any:
    """`value` as its schema reads it (see `tolerate`); each change made is noted in words."""
    if not isinstance(schema, dict):
        return value
    schema = _resolved(schema, root)
    kind = schema.get("type")
    name = path.rsplit(".", 1)[-1]
    if kind == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        closed = schema.get("additionalProperties") is False
        kept = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key in properties:
                kept[key] = _normalised(item, properties[key], root, where, notes)
            elif closed:
                notes.append(f"extra field {where} dropped")
            else:
                kept[key] = item
        return kept
    if kind == "array" and isinstance(value, list):
        return [_normalised(item, schema.get("items"), root, path, notes) for item in value]
    if kind == "string":
        if isinstance(value, int | float) and not isinstance(value, bool):
            notes.append(f"{name} sent as a number, read as text")
            value = repr(value)
        if not isinstance(value, str):
            return value
        enum = schema.get("enum")
        if enum and value not in enum:
            spelled = [word for word in enum if isinstance(word, str) and word.lower() == value.lower()]
            if len(spelled) == 1:
                notes.append(f"{name} {value!r} read as {spelled[0]!r}")
                value = spelled[0]
        limit = schema.get("maxLength")
        if isinstance(limit, int) and len(value) > limit:
            if len(value) > TOLERATED_LENGTH:
                notes.append(f"{name} of {len(value)} characters (at most {limit}) cut to {TOLERATED_LENGTH}")
                value = value[:TOLERATED_LENGTH]
            else:
                notes.append(f"{name} of {len(value)} characters (at most {limit})")
        return value
    if kind in ("integer", "number"):
        number = _number(value, whole=kind == "integer")
        if isinstance(value, str) and number is not None:
            notes.append(f"{name} sent as text, read as a number")
            return number
        if isinstance(value, float) and isinstance(number, int):
            notes.append(f"{name} sent with a decimal point, read as a whole number")
            return number
    return value


def _number(value: Any, whole: bool) -> Any:
    """The number `value` stands for: itself, one sent as text ("1234"), or a whole one sent as 1234.0; None: none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            try:
                value = float(value.strip())
            except ValueError:
                return None
            if value != value or value in (float("inf"), float("-inf")):
                return None
    if isinstance(value, float) and whole:
        return int(value) if value.is_integer() else None
    return value if isinstance(value, int | float) else None
