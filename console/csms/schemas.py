"""The `ocpp` package's JSON schemas compiled to straight-line Python, one function per schema.

fastjsonschema compiles any schema into generic code: it copies each object's
keys into a set and removes them one by one, checks each type with `isinstance`
chains and loops with `enumerate`. The package's schemas use a small part of
Draft 4 (type, enum, properties, required, additionalProperties false, items,
minItems, maxItems, minLength, maxLength, minimum, maximum, $ref to
definitions), so a compiler for that part alone writes each check once, for
the type the schema states: references are inlined, exact types are tested
first (`type(value) is int`) before the subclass-aware test, and a closed
object counts the keys it knows instead of copying them.

The verdict is fastjsonschema's with use_default=False, use_formats=False,
Draft 4 (booleans are neither integers nor numbers, 1.0 is not an integer,
lengths count code points, $ref ignores its siblings). A schema with anything
else, or anything that would not compile there, gives None: it stays with
fastjsonschema.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

# Keywords that never change a verdict here: annotations, and `format` and `default`,
# which are off (use_formats=False, use_default=False).
IGNORED = frozenset({"description", "title", "comment", "$comment", "javaType", "default", "format"})
ROOT_ONLY = frozenset({"$schema", "$id", "id", "definitions"})
TYPE_TESTS = {
    # Exact types first: a payload read from JSON has nothing else, and the subclass-aware test is slower.
    "object": "type({v}) is not dict and not isinstance({v}, dict)",
    "array": "type({v}) is not list and not isinstance({v}, (list, tuple))",
    "string": "type({v}) is not str and not isinstance({v}, str)",
    "integer": "type({v}) is not int and (not isinstance({v}, int) or isinstance({v}, bool))",
    "number": "(t := type({v})) is not float and t is not int and (not isinstance({v}, (int, float, Decimal)) or t is bool)",
    "boolean": "{v} is not True and {v} is not False",
}
KEYWORDS_OF = {
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "array": frozenset({"items", "additionalItems", "minItems", "maxItems"}),
    "string": frozenset({"enum", "minLength", "maxLength"}),
    "integer": frozenset({"minimum", "maximum"}),
    "number": frozenset({"minimum", "maximum"}),
    "boolean": frozenset(),
}
# A keyword of another type is a no-op after the type test (fastjsonschema guards each by its type).
VALIDATION = frozenset().union(*KEYWORDS_OF.values()) | {"type"}
DEFINITION_REF = re.compile(r"#/definitions/([A-Za-z0-9_]+)")
REFUSE = "raise Refused"


class Refused(Exception):
    """A payload the schema refuses (the package's validator says why)."""


class Unsupported(Exception):
    """The schema uses what this compiler does not translate."""


def compile_validator(schema: dict[str, Any]) -> Callable[[Any], None] | None:
    """A function that returns for a payload the schema takes and raises Refused otherwise, or None."""
    source = validator_source(schema)
    if source is None:
        return None
    namespace: dict[str, Any] = {"Refused": Refused, "Decimal": Decimal}
    try:
        exec(compile(source, f"<schema {schema.get('$id', schema.get('title', ''))}>", "exec"), namespace)
    except (SyntaxError, RecursionError, MemoryError, ValueError):  # nesting past the parser's limits
        return None
    return namespace["validate"]


def validator_source(schema: dict[str, Any]) -> str | None:
    """The Python source of `validate(data)` for a schema, or None when the schema is not ours to compile."""
    try:
        body = _Compiler(schema).value(schema, "data", root=True)
    except (Unsupported, RecursionError):
        return None
    return "\n".join(["def validate(data):", *_indented(body or ["pass"])])


def _indented(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _is_bound(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


class _Compiler:
    """Writes the checks of one schema; each value is checked in a local variable of its own."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.names = itertools.count()
        self.expanding: list[str] = []  # definitions being inlined, to refuse a recursive schema

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.names)}"

    def value(self, schema: Any, v: str, root: bool = False) -> list[str]:
        """Lines (not indented) that raise Refused unless the value in variable `v` fits the schema."""
        if not isinstance(schema, dict):
            raise Unsupported("a schema that is not an object")
        if "$ref" in schema:  # Draft 4: a reference ignores its siblings
            return self.reference(schema["$ref"], v)
        unknown = schema.keys() - IGNORED - VALIDATION - (ROOT_ONLY if root else frozenset())
        if unknown:  # an id inside the schema among them: it would change where references resolve
            raise Unsupported(f"keywords {sorted(unknown)}")
        kind = schema.get("type")
        if kind is None:
            if schema.keys() & VALIDATION:
                raise Unsupported("keywords without a type")
            return []
        if not isinstance(kind, str) or kind not in TYPE_TESTS:
            raise Unsupported(f"type {kind!r}")
        self.check_keywords(schema, kind)
        lines = [f"if {TYPE_TESTS[kind].format(v=v)}: {REFUSE}"]
        if kind == "object":
            lines += self.object(schema, v)
        elif kind == "array":
            lines += self.array(schema, v)
        elif kind == "string":
            lines += self.string(schema, v)
        elif kind in ("integer", "number"):
            lines += self.bounds(schema, v)
        return lines

    def reference(self, ref: Any, v: str) -> list[str]:
        match = DEFINITION_REF.fullmatch(ref) if isinstance(ref, str) else None
        definitions = self.root.get("definitions")
        if match is None or not isinstance(definitions, dict) or match[1] not in definitions:
            raise Unsupported(f"reference {ref!r}")
        name = match[1]
        if name in self.expanding:
            raise Unsupported(f"recursive reference {ref!r}")
        self.expanding.append(name)
        lines = self.value(definitions[name], v)
        self.expanding.pop()
        return lines

    def check_keywords(self, schema: dict[str, Any], kind: str) -> None:
        """Refuse keyword values fastjsonschema would not compile or that this compiler does not translate.

        Checked whatever the type, as fastjsonschema checks them: a keyword of another type is
        no code after the type test, but a bad value is still a bad schema."""
        for keyword in ("minLength", "maxLength", "minItems", "maxItems"):
            if keyword in schema and not _is_count(schema[keyword]):
                raise Unsupported(f"{keyword} {schema[keyword]!r}")
        for keyword in ("minimum", "maximum"):
            if keyword in schema and not _is_bound(schema[keyword]):
                raise Unsupported(f"{keyword} {schema[keyword]!r}")
        if "enum" in schema:
            enum = schema["enum"]
            if kind != "string" or not isinstance(enum, list) or not enum or not all(type(item) is str for item in enum):
                raise Unsupported("an enum other than of strings")
        properties = schema.get("properties", {})
        if not isinstance(properties, dict) or not all(isinstance(name, str) for name in properties):
            raise Unsupported("properties")
        required = schema.get("required", [])
        if not isinstance(required, list) or not all(type(name) is str for name in required):
            raise Unsupported("required")
        if len(set(required)) != len(required):
            raise Unsupported("required names twice")  # fastjsonschema refuses the schema
        if schema.get("additionalProperties", True) not in (True, False):
            raise Unsupported("additionalProperties other than a boolean")
        if schema.get("additionalProperties", True) is False and not set(required) <= properties.keys():
            raise Unsupported("a required property that is not allowed")  # fastjsonschema refuses the schema
        if "items" in schema and not isinstance(schema["items"], dict):
            raise Unsupported("items other than one schema")
        if "additionalItems" in schema and not isinstance(schema["additionalItems"], (bool, dict)):
            raise Unsupported("additionalItems")

    def object(self, schema: dict[str, Any], v: str) -> list[str]:
        properties: dict[str, Any] = schema.get("properties", {})
        required: list[str] = schema.get("required", [])
        closed = schema.get("additionalProperties", True) is False
        lines = []
        if required:
            lines.append(f"if {' or '.join(f'{name!r} not in {v}' for name in required)}: {REFUSE}")
        for name in required:
            if name in properties:
                lines += self.member(properties[name], v, name)
        optional = [name for name in properties if name not in required]
        # A closed object holds no other keys when its size is the number of its known keys present.
        count = self.fresh("n") if closed and optional else None
        if count:
            lines.append(f"{count} = {len(required)}")
        for name in optional:
            checks = self.member(properties[name], v, name)
            if count:
                checks.insert(0, f"{count} += 1")
            if checks:
                lines += [f"if {name!r} in {v}:", *_indented(checks)]
        if closed:
            lines.append(f"if len({v}) != {count or len(required)}: {REFUSE}")
        return lines

    def member(self, schema: Any, v: str, name: str) -> list[str]:
        item = self.fresh("v")
        checks = self.value(schema, item)
        return [f"{item} = {v}[{name!r}]", *checks] if checks else []

    def array(self, schema: dict[str, Any], v: str) -> list[str]:
        lines = self.size(v, schema.get("minItems"), schema.get("maxItems"))
        item = self.fresh("v")
        checks = self.value(schema.get("items", {}), item)  # additionalItems is ignored beside one items schema
        if checks:
            lines += [f"for {item} in {v}:", *_indented(checks)]
        return lines

    def string(self, schema: dict[str, Any], v: str) -> list[str]:
        lines = []
        if "enum" in schema:
            # A set literal after `in` is a frozenset constant; the value is a str here, as fastjsonschema demands.
            members = ", ".join(repr(item) for item in dict.fromkeys(schema["enum"]))
            lines.append(f"if {v} not in {{{members}}}: {REFUSE}")
        return lines + self.size(v, schema.get("minLength"), schema.get("maxLength"))  # code points, as Draft 4 counts

    def size(self, v: str, low: int | None, high: int | None) -> list[str]:
        """Bounds of a length (of a string or an array), the length taken once."""
        bounds = [(operator, bound) for operator, bound in (("<", low), (">", high)) if bound is not None]
        if len(bounds) < 2:
            return [f"if len({v}) {operator} {bound!r}: {REFUSE}" for operator, bound in bounds]
        size = self.fresh("n")
        return [f"{size} = len({v})", *(f"if {size} {operator} {bound!r}: {REFUSE}" for operator, bound in bounds)]

    def bounds(self, schema: dict[str, Any], v: str) -> list[str]:
        # The same comparisons as fastjsonschema's (a NaN passes both).
        lines = []
        if "minimum" in schema:
            lines.append(f"if {v} < {schema['minimum']!r}: {REFUSE}")
        if "maximum" in schema:
            lines.append(f"if {v} > {schema['maximum']!r}: {REFUSE}")
        return lines
