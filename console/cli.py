"""`ocpp-console`: the console on the embedded default, `serve` headless, and small scriptable commands.

Only what every command needs is imported here: the store, the core, the central system and
the simulators take seconds to import, so each command imports what it uses, and the embedded
console shows its frame before the depot is imported (see `_run_console`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from console.clustercli import add_cluster_parser, add_node_arguments, cluster_command, node_name
from console.core.clock import SystemClock
from console.core.errors import ConsoleError
from console.opscli import add_parser as add_op_parser, op_command

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from console.core.backend import Backend
    from console.core.clock import Clock
    from console.core.doctor import ChargerRepairs
    from console.core.store import Store
    from console.depot import Depot
    from console.tui.app import ConsoleApp

log = logging.getLogger("console")

LOOP_ENV = "OCPP_CONSOLE_LOOP"
KEY_ENV = "OCPP_CONSOLE_KEY"


def _loop_factory():  # type: ignore[no-untyped-def]
    """uvloop's event loop where it is installed (`$OCPP_CONSOLE_LOOP=asyncio` keeps the standard one)."""
    if os.environ.get(LOOP_ENV, "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _run(main):  # type: ignore[no-untyped-def]
    """`asyncio.run(main)`, on uvloop when it is there: the central system and uvicorn share that loop."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)


def _add_db(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """`--db`, before the command or after it. A command's own `--db` leaves the attribute alone when not
    given (argparse would otherwise set its default over the one given before the command, and
    `ocpp-console --db X fleet import` would write to the default store)."""
    parser.add_argument(
        "--db",
        metavar="URL|PATH",
        type=_db_arg,
        default=None if top else argparse.SUPPRESS,
        help="the store: a SQLite file path or a URL (sqlite:///PATH, postgresql://user@host/db); "
        "default: $OCPP_CONSOLE_DB or a SQLite file in the user data directory",
    )


def _db_arg(text: str) -> str:
    from console.core.store import db_url

    try:
        return db_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _store(args: argparse.Namespace) -> Store:
    from console.core.store import Store, default_db_url

    return Store(args.db or default_db_url())


def _org(args: argparse.Namespace) -> str:
    from console.core.fleet import DEFAULT_ORG

    return DEFAULT_ORG if args.org is None else args.org


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0 seconds")
    return seconds


def _hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not hours > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0 hours")
    return hours


def _add_depot(parser: argparse.ArgumentParser, host: str, top: bool = False) -> None:
    _add_db(parser, top)
    parser.add_argument("--host", default=host, help=f"address the OCPP server binds (default {host})")
    parser.add_argument("--ocpp-port", type=int, default=9000, help="OCPP WebSocket port (default 9000; 0 = any free port)")
    parser.add_argument("--heartbeat", type=int, default=60, metavar="SECONDS", help="heartbeat interval given to chargers at boot")
    parser.add_argument(
        "--call-timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long a charger has to answer an operation before it fails with a timeout (default 30)",
    )
    parser.add_argument("--no-sim", action="store_true", help="do not start the simulated chargers")
    parser.add_argument("--seed", type=int, default=None, help="seed for the simulated chargers (repeatable behaviour)")
    parser.add_argument(
        "--tls-cert", type=Path, default=None, metavar="FILE",
        help="serve OCPP over TLS (wss://, security profile 2) with this PEM certificate chain; needs --tls-key",
    )
    parser.add_argument("--tls-key", type=Path, default=None, metavar="FILE", help="the PEM private key of --tls-cert")
    parser.add_argument(
        "--tls-client-ca", type=Path, default=None, metavar="FILE",
        help="security profile 3: verify chargers' client certificates against this PEM CA (its CN must be the "
        "charger's identity); a charger whose record says security_profile 3 must present one",
    )
    parser.add_argument(
        "--ca-cert", type=Path, default=None, metavar="FILE",
        help="a lab CA certificate (`ocpp-console ca init` makes one) that signs chargers' SignCertificate requests; "
        "without it a request is kept for the operator (the Events tab); needs --ca-key",
    )
    parser.add_argument("--ca-key", type=Path, default=None, metavar="FILE", help="the PEM private key of --ca-cert")
    parser.add_argument(
        "--auto-register", action="store_true",
        help="accept unknown chargers as Pending (an operator accepts or rejects them) instead of refusing them",
    )
    parser.add_argument(
        "--compression", type=_compression, default=None, metavar="SUBPROTOCOL=on|off,…",
        help="permessage-deflate for chargers that offer it, per subprotocol (default: ocpp2.0.1 and ocpp2.1 on, "
        "ocpp1.6 off; it costs about a quarter more CPU per message)",
    )
    parser.add_argument(
        "--tolerant", action="store_true",
        help="take every charger's transaction and meter messages that break the schema as quirky firmware does "
        "(an extra field, an over-long idTag, a unit in the wrong case, a number sent as text), each deviation a "
        "protocol warning on the charger, instead of refusing them (default: only chargers set tolerant)",
    )
    parser.add_argument(
        "--clock-skew", type=_hours, default=24.0, metavar="HOURS",
        help="a charger whose clock is further than this from ours has its times taken as wrong: its sessions are "
        "ordered and shown by when we received them, and its clock is flagged (default 24)",
    )
    parser.add_argument(
        "--unknown-tokens", choices=["accept", "reject"], default=None,
        help="what a token (idTag, idToken) not in the registry gets: accept (the default of the console and of "
        "serve --demo, a lab) or reject (the default of serve, real chargers)",
    )
    parser.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster (demos)")
    _add_retention(parser)
    parser.add_argument("--cpu", type=int, default=None, help=argparse.SUPPRESS)  # pin the process (benchmarks)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocpp-console",
        description="Terminal control console for a depot of EV chargers (OCPP 1.6J central system, simulated chargers).",
    )
    _add_depot(parser, "127.0.0.1", top=True)
    parser.add_argument("--theme", default=None, help="theme name (a file in themes/)")
    parser.add_argument("--read-only", action="store_true", help="watch only: no key changes anything")
    parser.add_argument("--yes", action="store_true", help="do not ask before a stop, restart, inoperative or unlock that ends a session on one charger (bulk actions always ask)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run headless: OCPP server, simulated chargers and the REST API, logs to stdout")
    _add_depot(serve, "127.0.0.1")
    serve.add_argument("--api-port", type=int, default=8080, help="REST API port (default 8080; 0 = any free port)")
    serve.add_argument(
        "--api-host", default="127.0.0.1",
        help="address the REST API binds (default 127.0.0.1, whatever --host says; off loopback use --api-tls-cert)",
    )
    serve.add_argument(
        "--api-tls-cert", type=Path, default=None, metavar="FILE",
        help="serve the REST API over HTTPS with this PEM certificate chain; needs --api-tls-key",
    )
    serve.add_argument("--api-tls-key", type=Path, default=None, metavar="FILE", help="the PEM private key of --api-tls-cert")
    serve.add_argument(
        "--api-max-body", type=int, default=1024 * 1024, metavar="BYTES",
        help="largest request body the REST API takes (default 1 MiB; larger ones get 413)",
    )
    serve.add_argument(
        "--api-rate", type=float, default=50.0, metavar="N",
        help="requests per second per API key (bursts of 4 x N; twice as many per source address; default 50)",
    )
    serve.add_argument(
        "--api-streams-per-key", type=int, default=5, metavar="N", help="open /events streams per API key (default 5)"
    )
    serve.add_argument(
        "--events-retention", type=_hours, default=24.0, metavar="HOURS",
        help="how long /events keeps events to replay after Last-Event-ID (default 24)",
    )
    serve.add_argument(
        "--events-max", type=int, default=100_000, metavar="N", help="at most this many events kept to replay (default 100,000)"
    )
    serve.add_argument(
        "--api-max-connections", type=int, default=1000, metavar="N",
        help="open REST API connections (default 1000, at most a quarter of the open-files limit: chargers keep the rest)",
    )
    serve.add_argument(
        "--files-url", default=None, metavar="URL",
        help="the base URL chargers reach this server's files at (firmware images, log uploads), e.g. "
        "http://depot-box:8080 (default: the REST API's own address)",
    )
    serve.add_argument("--environment", default="production", help="meta.environment in API answers (default production)")
    serve.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    serve.add_argument(
        "--stop-timeout", type=_seconds, default=10.0, metavar="S",
        help="how long a stop waits for rows still queued while the store takes no writes (default 10)",
    )
    serve.add_argument(
        "--demo", action="store_true",
        help="import the sample fleet (12 chargers) into an empty store; without it an empty store stays empty",
    )
    add_node_arguments(serve)

    keys = commands.add_parser("keys", help="REST API keys: create, revoke, list")
    keys_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    keys_create = keys_commands.add_parser("create", help="create a key for an organization and print it (once)")
    keys_create.add_argument("--org", default=None, help="the organization the key acts for (created if new)")
    keys_create.add_argument("--label", default=None, help="a note to tell keys apart")
    keys_create.add_argument(
        "--scopes",
        default="read,operate,admin",
        help="what it may do, comma-separated: read, operate (commands, runtime), admin (fleet, keys, caps, tokens); default all",
    )
    keys_create.add_argument("--expires", default=None, metavar="WHEN", help="refused from then on: ISO 8601 or relative (30d, 12h); default never")
    _add_db(keys_create)
    keys_revoke = keys_commands.add_parser("revoke", help="end a key at once")
    keys_revoke.add_argument("key_id", metavar="KEY_ID")
    _add_db(keys_revoke)
    _add_db(keys_commands.add_parser("list", help="list keys (never the keys themselves)"))

    hooks = commands.add_parser("webhooks", help="webhook subscriptions: create, list, delete, deliveries, redeliver")
    hook_commands = hooks.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)
    hook_create = hook_commands.add_parser("create", help="POST an organization's events to URL (prints the signing secret, once)")
    hook_create.add_argument("url", metavar="URL")
    hook_create.add_argument("--types", default=None, help="comma-separated event types (default: all)")
    hook_create.add_argument("--org", default=None, help="the organization whose events go (default: default)")
    hook_list = hook_commands.add_parser("list", help="list subscriptions (never their secrets)")
    hook_list.add_argument("--org", default=None, help="only this organization's")
    hook_delete = hook_commands.add_parser("delete", help="end a subscription and its delivery log")
    hook_delete.add_argument("subscription_id", metavar="ID")
    hook_log = hook_commands.add_parser("deliveries", help="a subscription's delivery log, newest first")
    hook_log.add_argument("subscription_id", metavar="ID")
    hook_log.add_argument("--limit", type=int, default=50)
    hook_again = hook_commands.add_parser("redeliver", help="send a delivery again (a running serve sends it within seconds)")
    hook_again.add_argument("subscription_id", metavar="ID")
    hook_again.add_argument("delivery_id", metavar="DELIVERY", type=int)
    for command in (hook_create, hook_list, hook_delete, hook_log, hook_again):
        _add_db(command)

    attach = commands.add_parser("attach", help="run the console against a headless server")
    attach.add_argument("url", metavar="URL", help="the server's REST API, e.g. http://depot-box:8080")
    attach.add_argument(
        "--key", default=None,
        help=f"an API key (ocpp-console keys create; default ${KEY_ENV}, which, unlike --key, `ps` does not show)",
    )
    attach.add_argument("--theme", default=None, help="theme name (a file in themes/)")
    attach.add_argument("--yes", action="store_true", help="do not ask before a stop, restart, inoperative or unlock that ends a session on one charger (bulk actions always ask)")

    runtime = commands.add_parser(
        "runtime", help="start, stop or restart simulated chargers on a running server (through its REST API)"
    )
    runtime.add_argument("runtime_command", choices=["start", "stop", "restart"], metavar="start|stop|restart")
    runtime.add_argument("chargers", nargs="*", metavar="CHARGER", help="charger ids or identities")
    runtime.add_argument("--location", default=None, help="every simulated charger at this location (id or name)")
    runtime.add_argument("--url", default="http://127.0.0.1:8080", help="the server's REST API (default http://127.0.0.1:8080)")
    runtime.add_argument("--key", default=os.environ.get(KEY_ENV), help=f"an API key (default ${KEY_ENV})")

    firmware = commands.add_parser("firmware", help="firmware images and updates on a running server (through its REST API)")
    firmware_commands = firmware.add_subparsers(dest="firmware_command", metavar="ACTION", required=True)
    firmware_add = firmware_commands.add_parser("add", help="add a firmware image the server serves to chargers")
    firmware_add.add_argument("file", type=Path, metavar="FILE")
    firmware_list = firmware_commands.add_parser("list", help="list the firmware images (JSON)")
    firmware_update = firmware_commands.add_parser(
        "update", help="update chargers' firmware; several chargers (or --batch) make a rolling update, stopped by the first failure"
    )
    firmware_update.add_argument("chargers", nargs="+", metavar="CHARGER", help="charger ids or identities, in order")
    source = firmware_update.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, default=None, help="a local image: added to the server first, then served")
    source.add_argument("--firmware-id", default=None, help="an image the server has (firmware list)")
    source.add_argument("--location", default=None, help="a URL the charger fetches the image from")
    firmware_update.add_argument("--retrieve-at", default=None, metavar="TIME", help="ISO 8601 time to fetch it (default now)")
    firmware_update.add_argument("--retries", type=int, default=None)
    firmware_update.add_argument("--retry-interval", type=int, default=None, metavar="SECONDS")
    firmware_update.add_argument("--signed", action="store_true", help="a signed update (1.6 SignedUpdateFirmware)")
    firmware_update.add_argument("--signature", default=None, help="the image's signature (base64)")
    firmware_update.add_argument("--certificate", type=Path, default=None, metavar="PEM", help="the signing certificate")
    firmware_update.add_argument("--batch", type=int, default=None, help="chargers updated at a time (a rolling update)")
    firmware_update.add_argument("--wait", action="store_true", help="follow the update until it is installed or fails")
    firmware_rollouts = firmware_commands.add_parser("rollouts", help="rolling updates and where each stands (JSON)")
    firmware_status = firmware_commands.add_parser("status", help="the fleet's firmware: each charger's version, update and log upload")

    diagnostics = commands.add_parser("diagnostics", help="chargers' diagnostics and security logs on a running server (REST API)")
    diagnostics_commands = diagnostics.add_subparsers(dest="diagnostics_command", metavar="ACTION", required=True)
    diagnostics_request = diagnostics_commands.add_parser("request", help="ask a charger to upload its log to the server")
    diagnostics_request.add_argument("charger", metavar="CHARGER")
    diagnostics_request.add_argument("--log-type", choices=["DiagnosticsLog", "SecurityLog"], default="DiagnosticsLog")
    diagnostics_request.add_argument("--since", default=None, metavar="TIME")
    diagnostics_request.add_argument("--until", default=None, metavar="TIME")
    diagnostics_list = diagnostics_commands.add_parser("list", help="the files a charger uploaded (JSON)")
    diagnostics_list.add_argument("charger", metavar="CHARGER")
    diagnostics_get = diagnostics_commands.add_parser("get", help="download one uploaded file")
    diagnostics_get.add_argument("charger", metavar="CHARGER")
    diagnostics_get.add_argument("upload_id", metavar="UPLOAD_ID")
    diagnostics_get.add_argument("-o", "--output", type=Path, default=None, help="write to FILE (default: its own name here)")
    for files_parser in (
        firmware_add, firmware_list, firmware_update, firmware_rollouts, firmware_status, diagnostics_request, diagnostics_list, diagnostics_get
    ):
        files_parser.add_argument("--url", default="http://127.0.0.1:8080", help="the server's REST API (default http://127.0.0.1:8080)")
        files_parser.add_argument("--key", default=os.environ.get(KEY_ENV), help=f"an API key (default ${KEY_ENV})")

    add_op_parser(commands)

    fleet = commands.add_parser("fleet", help="import, export or generate the fleet as JSON")
    fleet_commands = fleet.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)
    fleet_import = fleet_commands.add_parser("import", help="import a fleet file (all or nothing; - reads stdin)")
    fleet_import.add_argument("file", type=Path)
    fleet_import.add_argument("--org", default=None, help="organization the chargers belong to")
    _add_db(fleet_import)
    fleet_export = fleet_commands.add_parser("export", help="print the fleet as JSON")
    fleet_export.add_argument("-o", "--output", type=Path, default=None, help="write to a file instead of stdout")
    _add_db(fleet_export)
    fleet_generate = fleet_commands.add_parser(
        "generate", help="print a fleet of N like chargers (PREFIX0001, … as `sim` names them) to import: a lab or a load test"
    )
    fleet_generate.add_argument("--count", type=int, required=True, help="how many chargers (1 to 100,000)")
    fleet_generate.add_argument("--prefix", default="CP-", help="identities are PREFIX0001, PREFIX0002, … (default CP-)")
    fleet_generate.add_argument("--version", choices=["1.6", "2.0.1", "2.1"], default="1.6", help="OCPP version (default 1.6)")
    fleet_generate.add_argument("--simulated", action="store_true", help="simulated chargers (the console runs them)")
    fleet_generate.add_argument("--location", default=None, help="put them all at a new location of this name")
    fleet_generate.add_argument("--connectors", type=int, default=1, help="connectors each (default 1)")
    fleet_generate.add_argument("--max-power", type=int, default=22000, help="max charging power each, W (default 22000)")
    fleet_generate.add_argument("-o", "--output", type=Path, default=None, help="write to a file instead of stdout")

    # Its options are console/sim/loadrun.py's, read only when it runs: importing the simulators takes seconds.
    sim = commands.add_parser("sim", help="run N simulated chargers against a central system (load mode, no UI)", add_help=False)
    sim.add_argument("sim_args", nargs=argparse.REMAINDER)

    tokens = commands.add_parser("tokens", help="id tokens: import or export a CSV token file, list them")
    tokens_commands = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    tokens_import = tokens_commands.add_parser(
        "import", help="import a CSV token file (all or nothing, every bad row listed; - reads stdin)"
    )
    tokens_import.add_argument("file", type=Path)
    tokens_export = tokens_commands.add_parser("export", help="print the tokens as a CSV token file")
    tokens_export.add_argument("-o", "--output", type=Path, default=None, help="write to a file instead of stdout")
    tokens_list = tokens_commands.add_parser("list", help="list the tokens as JSON")
    for command in (tokens_import, tokens_export, tokens_list):
        command.add_argument("--org", default=None, help="the organization the tokens belong to (default: default)")
        _add_db(command)

    chargers = commands.add_parser("chargers", help="list chargers as JSON")
    _add_db(chargers)

    doctor = commands.add_parser(
        "doctor",
        help="list per charger the sessions the console had to repair (reconstructed, superseded, closed at reboot, "
        "incomplete, meter anomalies, clock-skewed) and the chargers whose clock is wrong",
    )
    doctor.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_db(doctor)

    store = commands.add_parser("store", help="back up or restore the store (SQLite; PostgreSQL: pg_dump, see the README)")
    store_commands = store.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    store_backup = store_commands.add_parser("backup", help="copy the store to FILE, also while a console serves on it")
    store_backup.add_argument("file", type=Path, metavar="FILE")
    _add_db(store_backup)
    store_restore = store_commands.add_parser(
        "restore", help="replace the store with FILE, a backup (refused while a console or serve runs on the store)"
    )
    store_restore.add_argument("file", type=Path, metavar="FILE")
    _add_db(store_restore)
    store_stats = store_commands.add_parser(
        "stats", help="rows and bytes per kind of data, the growth of the last hour and the size a year ahead"
    )
    _add_retention(store_stats)
    store_stats.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_db(store_stats)
    store_vacuum = store_commands.add_parser(
        "vacuum",
        help="rewrite a SQLite store so pruned space goes back to the file system (once, for a store made before "
        "retention; refused while a console or serve runs on it)",
    )
    _add_db(store_vacuum)

    ca = commands.add_parser("ca", help="a lab certificate authority for security profile 3: make one, issue charger certificates")
    ca_commands = ca.add_subparsers(dest="ca_command", metavar="ACTION", required=True)
    ca_init = ca_commands.add_parser("init", help="make a CA: DIR/ca.pem and DIR/ca.key (give them to --ca-cert, --ca-key, --tls-client-ca)")
    ca_init.add_argument("dir", type=Path, metavar="DIR")
    ca_issue = ca_commands.add_parser("issue", help="a key and a client certificate for a charger: DIR/IDENTITY.pem and DIR/IDENTITY.key")
    ca_issue.add_argument("identity", metavar="IDENTITY")
    ca_issue.add_argument("--ca-dir", type=Path, required=True, metavar="DIR", help="the directory `ca init` made")
    ca_issue.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="where to write the files (default: here)")
    add_cluster_parser(commands, _add_db)
    return parser


def _ca(args: argparse.Namespace) -> int:
    from console.core.certificates import LabCA

    if args.ca_command == "init":
        args.dir.mkdir(parents=True, exist_ok=True)
        cert, key = args.dir / "ca.pem", args.dir / "ca.key"
        if cert.exists() or key.exists():
            raise ConsoleError(f"{args.dir} already holds a CA ({cert.name}, {key.name}); not overwritten")
        LabCA.create().save(cert, key)
        print(f"lab CA written: {cert} (give to --ca-cert and --tls-client-ca) and {key} (--ca-key; keep it private)")
        return 0
    authority = lab_certificate_authority_of(args.ca_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    certificate, key = authority.issue(args.identity)
    (args.out / f"{args.identity}.pem").write_text(certificate)
    key_path = args.out / f"{args.identity}.key"
    key_path.touch(mode=0o600)
    key_path.write_text(key)
    print(f"{args.identity}: certificate {args.out / (args.identity + '.pem')}, key {key_path}")
    return 0


def lab_certificate_authority_of(directory: Path) -> Any:
    from console.depot import lab_certificate_authority

    return lab_certificate_authority(directory / "ca.pem", directory / "ca.key")



def _add_retention(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retention", default=None, metavar="KIND=DURATION,…",
        help="how long each kind of data is kept, over settings.json's \"retention\": frames (default 14d), samples "
        "(raw meter samples, 30d; then rolled up to 15 minutes per connector), rollups (2y), events (1y), unknown "
        "(unknown-identity attempts per hour, 90d); a DURATION like 90s, 30m, 12h, 14d, 2y, or forever",
    )


def _retention(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The retention policy: the defaults, settings.json's "retention" over them, --retention over that."""
    from console.core.retention import RetentionPolicy

    return RetentionPolicy().with_settings(_load_settings().get("retention")).with_settings(args.retention)


def _compression(text: str) -> dict[str, bool]:
    from console.csms.server import COMPRESSION, compression_setting

    for item in text.split(","):
        name, _, value = item.strip().partition("=")
        if name not in COMPRESSION or value.strip().lower() not in ("on", "off"):
            known = ", ".join(COMPRESSION)
            raise argparse.ArgumentTypeError(f"{item.strip()!r}: want SUBPROTOCOL=on or =off, SUBPROTOCOL one of {known}")
    return compression_setting(text)


def _is_sim(before: list[str]) -> bool:
    """Whether the words before a `sim` are the console's own options only (`--db X sim …`), not a command's value."""
    parser = build_parser()
    try:
        known, rest = parser.parse_known_args([*before, "sim"])
    except SystemExit:
        return False
    return known.command == "sim" and not rest


def _sim(words: list[str]) -> int:
    from console.sim.loadrun import add_sim_parser, run_sim

    parser = argparse.ArgumentParser(prog="ocpp-console")
    add_sim_parser(parser.add_subparsers(dest="command"))
    return run_sim(parser.parse_args(["sim", *words]))


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from console.core.store import default_db_url
    from console.depot import DepotSettings

    return DepotSettings(
        db_url=args.db or default_db_url(),
        host=args.host,
        ocpp_port=args.ocpp_port,
        heartbeat_interval=args.heartbeat,
        call_timeout=args.call_timeout,
        simulate=not args.no_sim,
        seed=args.seed,
        read_only=getattr(args, "read_only", False),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        ca_cert=args.ca_cert,
        ca_key=args.ca_key,
        api_port=getattr(args, "api_port", None),
        api_host=getattr(args, "api_host", None) or "127.0.0.1",
        api_tls_cert=getattr(args, "api_tls_cert", None),
        api_tls_key=getattr(args, "api_tls_key", None),
        api_limits=_api_limits(args),
        event_log=_event_log(args),
        environment=getattr(args, "environment", "production"),
        auto_register=args.auto_register,
        compression=args.compression,
        speed=args.speed,
        tolerant=args.tolerant,
        max_clock_skew_s=args.clock_skew * 3600,
        unknown_tokens=args.unknown_tokens or ("reject" if args.command == "serve" and not args.demo else "accept"),
        stop_timeout=getattr(args, "stop_timeout", 10.0),
        files_url=getattr(args, "files_url", None),
        retention=_retention(args),
        node_name=node_name(args),
    )


def _api_limits(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from console.api.limits import ApiLimits

    if args.command != "serve":
        return ApiLimits()
    return ApiLimits(
        max_body_bytes=args.api_max_body,
        key_rate=args.api_rate,
        key_burst=int(args.api_rate * 4),
        address_rate=args.api_rate * 2,
        address_burst=int(args.api_rate * 8),
        streams_per_key=args.api_streams_per_key,
        max_connections=args.api_max_connections,
    )


def _event_log(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from console.api.events import EventLogSettings

    if args.command != "serve":
        return EventLogSettings()
    return EventLogSettings(retention_s=args.events_retention * 3600, max_events=args.events_max)


def _quiet_libraries() -> None:
    # The ocpp package logs every frame at INFO; our own frame log already has them.
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # each step of a migration; the store says what it did


async def _serve(args: argparse.Namespace) -> int:
    from console.depot import Depot

    settings = _settings(args)
    if not args.demo:  # serve never invents a depot: the sample fleet only when asked for
        settings.first_run_fleet = None
    depot = Depot(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    from console.core.events import LogAppended, Notice

    # Connection events and notices only: under load, frames are nearly every event. Subscribed before
    # the start, so a charger that connects while the REST API is still starting is logged too.
    subscription = depot.service.subscribe(kinds=(LogAppended, Notice), frames=False)
    printer = asyncio.create_task(_log_events(subscription))
    try:
        await depot.start()
    except OSError as error:
        log.error("cannot start: %s", error)
        printer.cancel()
        subscription.close()
        await depot.stop()
        return 1
    log.info("serving: OCPP at %s, store %s", depot.central.url, depot.store.display_url)
    await stop.wait()
    log.info("stopping")
    printer.cancel()
    subscription.close()
    lost = await depot.stop()
    if lost:
        log.error("stopped: %d acknowledged rows lost (the store did not take them)", lost)
        return 1
    log.info("stopped")
    return 0


async def _log_events(subscription) -> None:  # type: ignore[no-untyped-def]
    from console.core.events import LogAppended, Notice

    events = logging.getLogger("console.events")
    async for event in subscription:
        if isinstance(event, LogAppended) and event.entry.direction == "event":
            events.info("%s %s", event.entry.identity, event.entry.message)
        elif isinstance(event, Notice):
            events.info("%s", event.message)


async def _run_console(args: argparse.Namespace) -> int:
    """The console first, saying "connecting…", then the depot behind it: importing and starting it takes seconds."""
    clock = SystemClock()
    depot: Depot | None = None

    async def start() -> Backend:
        nonlocal depot
        # Imported off the event loop, so the frame on screen keeps answering keys meanwhile.
        depot_class = await asyncio.to_thread(_import_depot)
        depot = depot_class(_settings(args), clock)
        await depot.start()
        return depot.service

    app = _console_app(None, clock, args.theme, args.yes, start=start)
    # Textual leaves SIGTERM and SIGHUP (the terminal closed) to their default, which ends the process
    # at once: quit as ctrl+q does instead, so the simulated chargers end their sessions and the store closes.
    loop = asyncio.get_running_loop()
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):  # not on Windows
            loop.add_signal_handler(getattr(signal, name), app.exit)
    try:
        await app.run_async()
    finally:
        if depot is not None:
            await depot.stop()
    if isinstance(app.start_error, OSError):
        print(f"ocpp-console: cannot start the OCPP server on {args.host}:{args.ocpp_port}: {app.start_error}", file=sys.stderr)
        print("  another console may be running; pick another port with --ocpp-port", file=sys.stderr)
        return 1
    if app.start_error is not None:
        raise app.start_error
    return 0


def _import_depot() -> type[Depot]:
    from console.depot import Depot

    return Depot


def _console_app(
    backend: Backend | None,
    clock: Clock,
    theme: str | None,
    yes: bool = False,
    start: Callable[[], Awaitable[Backend]] | None = None,
) -> ConsoleApp:
    """The console in either mode: `theme` (else the saved one), and a theme the operator picks is saved.

    `yes` (or `"confirm_single_charger": false` in the settings) skips the question before a
    single charger's session-ending action; bulk actions always ask. Without a `backend`,
    `start` makes one once the console shows.
    """
    from console.resources import themes_dir
    from console.tui.app import ConsoleApp

    settings = _load_settings()
    return ConsoleApp(
        backend,
        clock,
        theme_name=theme or settings.get("theme"),
        themes_dir=themes_dir(),
        save_theme=_save_theme,
        confirm_single=not yes and settings.get("confirm_single_charger", True) is not False,
        start=start,
    )


def _save_theme(name: str) -> None:
    _save_settings({**_load_settings(), "theme": name})


def _unknown_theme(name: str) -> str | None:
    """Why `--theme name` cannot be used, or None when it can."""
    from console.resources import themes_dir
    from console.tui.themes import theme_names

    names = theme_names(themes_dir())
    return None if name in names else f"no theme named {name!r}; the themes are: {', '.join(names)}"


def _settings_path() -> Path:
    return Path(platformdirs.user_config_dir("ocpp-console")) / "settings.json"


def _load_settings() -> dict:
    try:
        settings = json.loads(_settings_path().read_text())
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def _save_settings(settings: dict) -> None:
    path = _settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n")


def _fleet(args: argparse.Namespace) -> int:
    if args.fleet_command == "generate":
        return _fleet_generate(args)
    from console.core.fleet import FleetService

    store = _store(args)
    fleet = FleetService(store, SystemClock())
    try:
        if args.fleet_command == "import":
            try:
                data = json.loads(sys.stdin.read() if str(args.file) == "-" else args.file.read_text())
            except FileNotFoundError:
                print(f"ocpp-console: no such file: {args.file}", file=sys.stderr)
                return 2
            except json.JSONDecodeError as error:
                print(f"ocpp-console: {args.file} is not JSON: {error}", file=sys.stderr)
                return 2
            locations, chargers = store.run_sync(lambda s: fleet.import_fleet(s, data, org=_org(args)))
            print(f"imported {locations} locations and {chargers} chargers into {store.display_url}")
        else:
            document = json.dumps(store.run_sync(fleet.export_fleet), indent=2) + "\n"
            if args.output:
                args.output.write_text(document)
            else:
                sys.stdout.write(document)
    finally:
        store.close()
    return 0


def _fleet_generate(args: argparse.Namespace) -> int:
    from console.core.fleet import generated_fleet

    if not 1 <= args.count <= 100_000:
        print(f"ocpp-console: --count must be 1 to 100,000, not {args.count}", file=sys.stderr)
        return 2
    document = generated_fleet(
        args.count,
        prefix=args.prefix,
        ocpp_version=f"OCPP{args.version}",
        simulated=args.simulated,
        location=args.location,
        connectors=args.connectors,
        max_charging_power=args.max_power,
    )
    text = json.dumps(document, indent=1) + "\n"
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _chargers(args: argparse.Namespace) -> int:
    from console.core.fleet import FleetService

    store = _store(args)
    fleet = FleetService(store, SystemClock())
    try:
        document = store.run_sync(fleet.export_fleet)
        sys.stdout.write(json.dumps(document["chargers"], indent=2) + "\n")
    finally:
        store.close()
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from console.core.doctor import repairs_by_charger, totals

    store = _store(args)
    try:
        chargers = store.run_sync(repairs_by_charger)
    finally:
        store.close()
    summary = totals(chargers)
    if args.json:
        document = {"chargers": [entry.to_dict() for entry in chargers], "total": summary}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write("".join(f"{line}\n" for line in _doctor_lines(chargers, summary)))
    return 0


def _doctor_lines(chargers: list[ChargerRepairs], summary: dict[str, Any]) -> list[str]:
    from console.tui.format import clock_offset, repairs_cell, stamp

    lines = []
    for entry in chargers:
        clock = f"  clock {clock_offset(entry.clock_offset_s)} now" if entry.clock_offset_s is not None else ""
        lines.append(f"{entry.identity} ({entry.charger_id}){clock}")
        for view in entry.sessions:
            started = stamp(view.started_at) if view.start_known else "start unknown"
            stopped = stamp(view.stopped_at) if view.stopped_at else "open"
            energy = f"{view.energy_kwh:.3f} kWh" if view.energy_kwh is not None else "— kWh"
            lines.append(
                f"  session {view.reference or view.id}  connector {view.connector_id}  {started} → {stopped}  "
                f"{energy}  {repairs_cell(view)}"
            )
            if view.meter_anomaly:
                lines.append(f"      {view.meter_anomaly}")
            if view.charger_started_at or view.charger_stopped_at:
                lines.append(
                    f"      the charger's own times: {stamp(view.charger_started_at)} → {stamp(view.charger_stopped_at)}"
                )
    kinds = ", ".join(
        f"{summary[word]} {'closed at reboot' if word == 'reboot' else word}"
        for word in ("reconstructed", "superseded", "reboot", "incomplete", "meter", "clock")
    )
    lines.append(
        f"total: {summary['sessions']} sessions on {summary['chargers']} chargers needed repair ({kinds}), "
        f"{summary['energy_kwh']:.3f} kWh among them; chargers with a wrong clock now: {summary['clock_wrong_now']}"
    )
    return lines


def _tokens(args: argparse.Namespace) -> int:
    """`tokens import FILE` / `tokens export` / `tokens list`, on the store (a running console reads them at its next start)."""
    from sqlmodel import select

    from console.core.fleet import DEFAULT_ORG, FleetService
    from console.core.models import IdToken
    from console.core.store import Store, default_db_url
    from console.core.tokens import import_token_rows, read_csv, token_view, write_csv

    text = None
    if args.tokens_command == "import":
        try:
            text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8-sig")
        except (FileNotFoundError, UnicodeDecodeError) as error:
            print(f"ocpp-console: cannot read {args.file}: {error}", file=sys.stderr)
            return 2
    org = args.org or DEFAULT_ORG
    store = Store(args.db or default_db_url())
    fleet = FleetService(store, SystemClock())
    try:
        if text is not None:
            rows = read_csv(text)

            def write(session):  # type: ignore[no-untyped-def]
                written = import_token_rows(session, fleet.ensure_org(session, org).id, rows, SystemClock().now())
                session.commit()
                return len(written)

            print(f"imported {store.run_sync(write)} tokens into {store.display_url}")
            return 0

        def read(session):  # type: ignore[no-untyped-def]
            org_id = fleet.ensure_org(session, org).id
            query = select(IdToken).where(IdToken.organization_id == org_id).order_by(IdToken.token, IdToken.type)
            return [token_view(row) for row in session.exec(query).all()]

        views = store.run_sync(read)
        if args.tokens_command == "list":
            sys.stdout.write(json.dumps([view.to_dict() for view in views], indent=2) + "\n")
        elif args.output:
            args.output.write_text(write_csv(views))
        else:
            sys.stdout.write(write_csv(views))
    finally:
        store.close()
    return 0


def _keys(args: argparse.Namespace) -> int:
    from console.core.fleet import FleetService
    from console.core.errors import ValidationFailed
    from console.core.keys import ApiKeys, org_name_problem, parse_scopes
    from console.core.timespec import parse_time

    store = _store(args)
    keys = ApiKeys(SystemClock())
    try:
        if args.keys_command == "create":
            org = _org(args)
            problem = org_name_problem(org)
            if problem:
                print(f"ocpp-console: --org: {problem}", file=sys.stderr)
                return 2
            try:
                scopes = parse_scopes(args.scopes)
                expires = None if args.expires is None else parse_time(args.expires, SystemClock().now())
            except (ValidationFailed, ValueError) as error:
                print(f"ocpp-console: {error}", file=sys.stderr)
                return 2
            fleet = FleetService(store, SystemClock())
            view, key = store.run_sync(lambda s: keys.create(s, fleet.ensure_org(s, org.strip()), args.label, scopes, expires))
            print(key)
            print(f"key {view.id} of organization {view.organization}: shown once, store it now", file=sys.stderr)
        elif args.keys_command == "revoke":
            view = store.run_sync(lambda s: keys.revoke(s, args.key_id))
            print(f"revoked {view.id} ({view.organization})")
        else:
            for view in store.run_sync(keys.list):
                state = f"revoked {view.revoked_at:%Y-%m-%d %H:%M}" if view.revoked_at else "active"
                if view.expires_at and not view.revoked_at:
                    state += f" until {view.expires_at:%Y-%m-%d %H:%M}"
                used = f"used {view.last_used_at:%Y-%m-%d %H:%M}" if view.last_used_at else "never used"
                print(f"{view.id}\t{view.organization}\t{view.prefix}…\t{','.join(view.scopes)}\t{state}\t{used}\t{view.label or ''}")
    finally:
        store.close()
    return 0


def _webhooks(args: argparse.Namespace) -> int:
    from console.api.webhooks import WEBHOOK_TYPES
    from console.core.fleet import FleetService
    from console.core.webhooks import Webhooks

    store = _store(args)
    hooks = Webhooks(SystemClock(), WEBHOOK_TYPES)
    try:
        if args.webhooks_command == "create":
            fleet = FleetService(store, SystemClock())
            types = [part.strip() for part in args.types.split(",") if part.strip()] if args.types else None
            view, secret = store.run_sync(lambda s: hooks.create(s, fleet.ensure_org(s, _org(args).strip()).id, args.url, types))
            print(f"{view.id}\t{view.url}\t{','.join(view.types or ['all'])}")
            print(f"signing secret: {secret}", file=sys.stderr)
            print("shown once, store it now; a running serve starts delivering within seconds", file=sys.stderr)
        elif args.webhooks_command == "list":
            org = None
            if args.org:
                fleet = FleetService(store, SystemClock())
                org = store.run_sync(lambda s: fleet.ensure_org(s, args.org.strip()).id)
            for view in store.run_sync(lambda s: hooks.list(s, org)):
                print(f"{view.id}\t{view.organization_id}\t{view.url}\t{','.join(view.types or ['all'])}")
        elif args.webhooks_command == "delete":
            store.run_sync(lambda s: hooks.delete(s, None, args.subscription_id))
            print(f"deleted {args.subscription_id}")
        elif args.webhooks_command == "deliveries":
            for item in store.run_sync(lambda s: hooks.deliveries(s, None, args.subscription_id, args.limit)):
                print(
                    f"{item.id}\tevent {item.event_id}\t{item.type}\t{item.charger_id or '-'}\t{item.status}"
                    f"\t{item.attempts} attempts\t{item.last_error or ''}"
                )
        else:
            item = store.run_sync(lambda s: hooks.redeliver(s, None, args.subscription_id, args.delivery_id))
            print(f"delivery {item.id} is pending again")
    finally:
        store.close()
    return 0


async def _attach(args: argparse.Namespace) -> int:
    from console.api.client import RemoteBackend

    key = args.key or os.environ.get(KEY_ENV)
    if not key:
        print(f"ocpp-console: an API key is needed (${KEY_ENV} or --key)", file=sys.stderr)
        return 2
    backend = RemoteBackend(args.url, key)
    try:
        await backend.connect()
        await _console_app(backend, SystemClock(), args.theme, args.yes).run_async()
    finally:
        await backend.aclose()
    return 0


async def _runtime(args: argparse.Namespace) -> int:
    """Runtime control from a shell: one line per charger, exit 1 if any failed."""
    from console.api.client import RemoteBackend

    if not args.key:
        print("ocpp-console: an API key is needed (--key or $OCPP_CONSOLE_KEY)", file=sys.stderr)
        return 2
    if not args.chargers and not args.location:
        print("ocpp-console: name chargers or a --location", file=sys.stderr)
        return 2
    backend = RemoteBackend(args.url, args.key)
    failed = 0
    try:
        await backend.connect()
        if args.location:
            locations = await backend.list_locations()
            match = [loc for loc in locations if args.location in (loc.id, loc.name)]
            if not match:
                print(f"ocpp-console: no location {args.location!r}", file=sys.stderr)
                return 1
            for message in await backend.location_runtime(match[0].id, args.runtime_command):
                print(message)
        if args.chargers:
            by_identity = {charger.identity: charger.id for charger in await backend.list_chargers()}
            for name in args.chargers:
                try:
                    outcome = await getattr(backend, f"{args.runtime_command}_charger")(by_identity.get(name, name))
                except ConsoleError as error:
                    failed += 1
                    print(f"{name}: {error}", file=sys.stderr)
                else:
                    print(outcome)
    finally:
        await backend.aclose()
    return 1 if failed else 0


def _store_file(args: argparse.Namespace) -> int:
    """`store backup FILE` / `store restore FILE` / `store stats` / `store vacuum`."""
    from console.core.backup import backup, restore
    from console.core.store import default_db_url

    if args.store_command == "stats":
        return _store_stats(args)
    if args.store_command == "vacuum":
        return _store_vacuum(args)
    url = args.db or default_db_url()
    if args.store_command == "backup":
        copied = backup(url, args.file)
        print(f"backed up {url} to {copied.path} ({copied.size:,} bytes)")
    else:
        copied = restore(args.file, url)
        kept = f"; the store it replaced is kept as {copied.replaced}" if copied.replaced else ""
        print(f"restored {args.file} into {copied.path} ({copied.size:,} bytes){kept}")
    return 0


def _store_stats(args: argparse.Namespace) -> int:
    from console.core.clock import utcnow
    from console.core.retention import store_stats

    policy = _retention(args)
    store = _store(args)
    try:
        stats = store.run_sync(lambda session: store_stats(session, policy, utcnow(), store.wal_bytes()))
    finally:
        store.close()
    if args.json:
        print(json.dumps(
            {
                "kinds": [{**vars(kind), "oldest": kind.oldest.isoformat() if kind.oldest else None} for kind in stats.kinds],
                "other_bytes": stats.other_bytes, "file_bytes": stats.file_bytes, "wal_bytes": stats.wal_bytes,
                "free_bytes": stats.free_bytes, "bytes_per_hour": stats.bytes_per_hour, "projected_bytes": stats.projected_bytes,
            },
            indent=2,
        ))
        return 0
    print(f"{'kind':<8} {'kept':>7} {'rows':>12} {'bytes':>10} {'B/row':>6} {'rows/h':>9} {'bytes/h':>9} {'in a year':>10}  oldest")
    for kind in stats.kinds:
        per_row = kind.bytes // kind.rows if kind.rows else 0
        oldest = kind.oldest.strftime("%Y-%m-%d %H:%M") if kind.oldest else "-"
        print(
            f"{kind.kind:<8} {kind.kept:>7} {kind.rows:>12,} {_size(kind.bytes):>10} {per_row:>6} {kind.rows_per_hour:>9,} "
            f"{_size(kind.bytes_per_hour):>9} {_size(kind.projected_bytes):>10}  {oldest}"
        )
    print(f"{'other':<8} {'forever':>7} {'':>12} {_size(stats.other_bytes):>10}   (sessions, actions, signed readings, tokens, fleet)")
    print(
        f"store {_size(stats.file_bytes)} ({_size(stats.free_bytes)} free), write-ahead log {_size(stats.wal_bytes)}; "
        f"growing {_size(stats.bytes_per_hour)}/h; projected in a year: {_size(stats.projected_bytes)}"
    )
    return 0


def _size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"


def _store_vacuum(args: argparse.Namespace) -> int:
    from console.core.retention import switch_to_incremental
    from console.core.store import Store, default_db_url

    store = Store(args.db or default_db_url(), owner=True)
    try:
        before, after = store.run_sync(lambda _session: switch_to_incremental(store))
    finally:
        store.close()
    print(f"vacuumed {store.display_url}: {_size(before)} -> {_size(after)}; pruned space now goes back to the file system")
    return 0


def _log_to_file() -> Path:
    log_dir = Path(platformdirs.user_log_dir("ocpp-console"))
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "console.log"
    logging.basicConfig(
        filename=path, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return path


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    if "sim" in words and _is_sim(words[: words.index("sim")]):
        # The load mode's options are its own (console/sim/loadrun.py): all that follows `sim` is handed to it
        # (argparse.REMAINDER on a subcommand drops a first word that starts with "-", as `sim --count 10` does).
        return _sim(words[words.index("sim") + 1 :])
    args = build_parser().parse_args(words)
    if getattr(args, "cpu", None) is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    _quiet_libraries()
    if args.command in (None, "attach") and args.theme and (problem := _unknown_theme(args.theme)):
        print(f"ocpp-console: --theme: {problem}", file=sys.stderr)
        return 2
    try:
        if args.command == "fleet":
            return _fleet(args)
        if args.command == "runtime":
            return asyncio.run(_runtime(args))
        if args.command in ("firmware", "diagnostics"):
            from console.filescli import files_command

            return asyncio.run(files_command(args))
        if args.command == "op":
            return op_command(args)
        if args.command == "sim":
            return _sim(args.sim_args)
        if args.command == "chargers":
            return _chargers(args)
        if args.command == "doctor":
            return _doctor(args)
        if args.command == "keys":
            return _keys(args)
        if args.command == "webhooks":
            return _webhooks(args)
        if args.command == "tokens":
            return _tokens(args)
        if args.command == "store":
            return _store_file(args)
        if args.command == "ca":
            return _ca(args)
        if args.command == "cluster":
            return cluster_command(args)
        if args.command == "serve":
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
            if args.log_json:
                from console.api.logfmt import JsonFormatter

                for handler in logging.getLogger().handlers:
                    handler.setFormatter(JsonFormatter())
            return _run(_serve(args))
        if args.command == "attach":
            _log_to_file()
            return asyncio.run(_attach(args))
        _log_to_file()
        return _run(_run_console(args))
    except ConsoleError as error:
        print(f"ocpp-console: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
