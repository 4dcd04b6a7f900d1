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

DRAFT_4 = "http://json-schema.org/draft-04/schema#"

_compiled: dict[tuple[str, int, str], Any] = {}


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
    try:
        schema = get_validator(message_type_id, action, ocpp_version).schema
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
