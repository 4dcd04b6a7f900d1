"""`ocpp-console op CHARGER OPERATION`: any operation of the catalogue on a running server, through its REST API.

    ocpp-console op CP-A01                                   # what CP-A01's version takes
    ocpp-console op CP-A01 trigger-message --param requested_message=Heartbeat
    ocpp-console op CP-A01 GetConfiguration --param keys=HeartbeatInterval
    ocpp-console op CP-A01 ChangeConfiguration --json params.json
    ocpp-console op CP-A01 GetConfiguration --raw --json payload.json   # the OCPP payload as given

Prints the outcome (and the charger's answer as JSON); exits 1 when the
operation failed or the charger refused it, 2 on a bad command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from console.core import catalogue
from console.core.errors import ValidationFailed

KEY_ENV = "OCPP_CONSOLE_KEY"


def add_parser(commands: Any) -> None:
    op = commands.add_parser(
        "op",
        help="send an OCPP operation to a charger on a running server (through its REST API); without OPERATION, list them",
        description="Parameters are the operation's own (ocpp-console op CHARGER lists them): --param name=value, "
        "or --json FILE with an object of them (- reads stdin); --raw sends the FILE's object as the OCPP payload.",
    )
    op.add_argument("charger", metavar="CHARGER", help="a charger's identity or id")
    op.add_argument("operation", nargs="?", default=None, metavar="OPERATION", help="e.g. TriggerMessage or trigger-message")
    op.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE", help="one parameter (repeat for more)")
    op.add_argument("--json", type=Path, default=None, metavar="FILE", help="a JSON object of parameters (- reads stdin)")
    op.add_argument("--raw", action="store_true", help="send --json's object as the OCPP payload, unchanged")
    op.add_argument("--url", default="http://127.0.0.1:8080", help="the server's REST API (default http://127.0.0.1:8080)")
    op.add_argument("--key", default=os.environ.get(KEY_ENV), help=f"an API key (default ${KEY_ENV})")


def _params(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if args.json is not None:
        text = sys.stdin.read() if str(args.json) == "-" else args.json.read_text()
        loaded = json.loads(text)
        if not isinstance(loaded, dict):
            raise ValueError("--json: the file must hold a JSON object")
        values.update(loaded)
    for item in args.param:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"--param {item!r}: write NAME=VALUE")
        values[name.strip()] = value
    return values


def _choices_as_written(entries: list[dict[str, Any]], slug: str, params: dict[str, Any]) -> dict[str, Any]:
    """A choice typed in any case (`type=hard`) as the catalogue writes it (`Hard`)."""
    entry = next(entry for entry in entries if entry["slug"] == slug)
    fixed = dict(params)
    for param in entry["params"]:
        value = fixed.get(param["name"])
        if param["kind"] == "choice" and isinstance(value, str):
            fixed[param["name"]] = next((choice for choice in param["choices"] if choice.lower() == value.lower()), value)
    return fixed


def _show_catalogue(entries: list[dict[str, Any]], identity: str) -> None:
    print(f"{identity} takes:")
    for entry in entries:
        print(f"  {entry['slug']:<30} {entry['summary']}")
        for param in entry["params"]:
            kind = param["kind"] if param["kind"] != "choice" else "|".join(param["choices"])
            flag = " (required)" if param["required"] and param.get("default") is None else ""
            default = f" [default {param['default']}]" if param.get("default") is not None else ""
            print(f"      {param['name']}={kind}{flag}{default}  {param['help']}")


def _outcome(result: dict[str, Any]) -> str:
    took = f" in {result['duration_ms']:.0f} ms" if result.get("duration_ms") is not None else ""
    what = f"{result['operation']} to {result['identity']}: {result['state']}"
    if result.get("status"):
        what += f" ({result['status']})"
    if result.get("detail") and result["state"] not in ("acknowledged",):
        what += f": {result['detail']}"
    recorded = f" (action {result['action_id']})" if result.get("action_id") else ""
    return what + took + recorded


def op_command(args: argparse.Namespace) -> int:
    from console.api.rest_client import ApiClient, ApiError

    if not args.key:
        print(f"ocpp-console: an API key is needed (--key or ${KEY_ENV})", file=sys.stderr)
        return 2
    try:
        params = _params(args)
    except (OSError, ValueError) as error:
        print(f"ocpp-console: {error}", file=sys.stderr)
        return 2
    if args.raw and (args.operation is None or args.param):
        print("ocpp-console: --raw sends OPERATION with --json's payload; no --param", file=sys.stderr)
        return 2
    with ApiClient(args.url, args.key) as api:
        try:
            charger_id = api.charger_id(args.charger)
            entries = api.operations(charger_id)
            if args.operation is None:
                _show_catalogue(entries, args.charger)
                return 0
            if args.raw:
                result = api.raw_operation(charger_id, args.operation, params)
            else:
                slug = catalogue.find(args.operation).slug
                if slug not in {entry["slug"] for entry in entries}:
                    takes = ", ".join(entry["slug"] for entry in entries)
                    print(f"ocpp-console: {args.charger}'s OCPP version has no {args.operation}; it takes: {takes}", file=sys.stderr)
                    return 2
                result = api.operate(charger_id, slug, _choices_as_written(entries, slug, params))
        except ApiError as error:
            if error.details:
                for detail in error.details:
                    print(f"ocpp-console: {detail.get('field')}: {detail.get('message')}", file=sys.stderr)
            else:
                print(f"ocpp-console: {error.message}", file=sys.stderr)
            return 1
        except ValidationFailed as error:
            print(f"ocpp-console: {error}", file=sys.stderr)
            return 2
    print(_outcome(result))
    if result.get("answer") is not None:
        print(json.dumps(result["answer"], indent=2, sort_keys=True))
    return 0 if result["state"] == "acknowledged" else 1
