"""`serve --cluster/--node-name` and `ocpp-console cluster status`: the command line of a cluster (core.cluster)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any


def add_node_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--cluster", action="store_true",
        help="run as one node of a cluster: several serve on one PostgreSQL store are one depot (see the README)",
    )
    serve.add_argument(
        "--node-name", default=None, metavar="NAME",
        help="this node's name in the cluster (implies --cluster; default: HOSTNAME-PID)",
    )


def node_name(args: argparse.Namespace) -> str | None:
    """The node's name when `serve` runs as a cluster node, else None (a single node, as ever)."""
    if getattr(args, "node_name", None):
        return str(args.node_name)
    if not getattr(args, "cluster", False):
        return None
    from console.core.cluster import default_node_name

    return default_node_name()


def add_cluster_parser(commands: Any, add_db: Any) -> None:
    cluster = commands.add_parser("cluster", help="a cluster of serve nodes on one PostgreSQL store: status")
    actions = cluster.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="the nodes, the chargers each holds, and how old each one's lease is")
    status.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_db(status)


def cluster_command(args: argparse.Namespace) -> int:
    from console.core.cluster import cluster_status
    from console.core.errors import ConsoleError
    from console.core.store import Store, default_db_url

    url = args.db or default_db_url()
    store = Store(url)  # brings nothing up to date under running nodes; says so if the schema is behind
    try:
        if store.engine.dialect.name != "postgresql":
            raise ConsoleError("a cluster runs on PostgreSQL (--db postgresql://…); this store is a single node's")
    finally:
        store.close()
    nodes = cluster_status(url)
    if args.json:
        print(json.dumps([asdict(node) for node in nodes], default=str, indent=2))
        return 0
    if not nodes:
        print("no cluster nodes running")
        return 0
    for node in nodes:
        state = "alive" if node.lease_left_s > 0 else "lease lapsed"
        print(
            f"{node.name}  {state}, heartbeat {node.lease_age_s:.1f} s ago  pid {node.pid} on {node.host}  "
            f"OCPP {node.ocpp_url or '-'}  API {node.api_url or '-'}  {len(node.chargers)} chargers"
        )
        for identity in node.chargers:
            print(f"    {identity}")
    return 0
