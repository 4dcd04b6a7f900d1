"""The central system's listener: handshake, registry of live connections, outbound calls."""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.v16 import call as call16
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from console.core.service import ConsoleService
from console.csms.framelog import LoggedConnection
from console.csms.v16 import SUBPROTOCOL as OCPP16
from console.csms.v16 import ChargePoint16

log = logging.getLogger("console.csms")

SUBPROTOCOLS = (OCPP16,)


class CallFailed(Exception):
    """An outbound CALL was answered with a CALLERROR."""


@dataclass
class Link:
    """One live charger connection."""

    identity: str
    charger_id: str
    connection: ServerConnection
    charge_point: ChargePoint16


def identity_from_path(path: str) -> str:
    """The charge-box identity is the last segment of the URL path."""
    return unquote(urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1])


def offered_subprotocols(headers: Headers) -> list[str]:
    return [
        token.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for token in value.split(",")
        if token.strip()
    ]


class CentralSystem:
    def __init__(
        self,
        service: ConsoleService,
        host: str = "127.0.0.1",
        port: int = 9000,
        heartbeat_interval: int = 60,
        call_timeout: float = 30.0,
        ping_interval: float | None = 20.0,
    ) -> None:
        self.service = service
        self.live = service.live
        self.host = host
        self.requested_port = port
        self.heartbeat_interval = heartbeat_interval
        self.call_timeout = call_timeout
        self.ping_interval = ping_interval
        self._server: Server | None = None
        self._links: dict[str, Link] = {}

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        server = await serve(
            self._handle,
            self.host,
            self.requested_port,
            subprotocols=list(SUBPROTOCOLS),  # type: ignore[arg-type]
            process_request=self._check_handshake,
            ping_interval=self.ping_interval,
            backlog=1024,
        )
        self._server = server
        # Keep the port we got, so a restart (port 0 at first) listens on the same one.
        self.requested_port = server.sockets[0].getsockname()[1]
        self.service.set_ocpp_url(self.url)
        self.service.attach(gateway=self)
        log.info("OCPP central system listening on %s", self.url)

    @property
    def port(self) -> int:
        if self._server is None:
            return self.requested_port
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    @property
    def local_url(self) -> str:
        """Where a client on this machine reaches the listener (for our own simulators)."""
        if self.host in ("0.0.0.0", ""):
            return f"ws://127.0.0.1:{self.port}"
        if self.host == "::":
            return f"ws://[::1]:{self.port}"
        return self.url

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)
        self._server = None

    # -- handshake -------------------------------------------------------------------

    def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        identity = identity_from_path(request.path)
        charger_id = self.live.charger_id_for(identity) if identity else None
        if charger_id is None:
            self.live.log(identity or "?", "event", f"refused: unknown identity {identity!r} (HTTP 404)")
            log.warning("refused unknown charger identity %r from %s", identity, connection.remote_address)
            return connection.respond(http.HTTPStatus.NOT_FOUND, f"Unknown charger identity {identity!r}\n")
        offered = offered_subprotocols(request.headers)
        if not any(protocol in SUBPROTOCOLS for protocol in offered):
            wanted = ", ".join(SUBPROTOCOLS)
            self.live.log(
                identity, "event", f"refused: no supported subprotocol offered ({offered or 'none'}; want {wanted})"
            )
            return connection.respond(
                http.HTTPStatus.BAD_REQUEST, f"No supported OCPP subprotocol offered; this server speaks {wanted}\n"
            )
        return None

    # -- connections -----------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        identity = identity_from_path(connection.request.path if connection.request else "")
        charger_id = self.live.charger_id_for(identity)
        if charger_id is None:  # deleted between handshake and now
            await connection.close(1008, "unknown identity")
            return
        previous = self._links.get(identity)
        if previous is not None:
            # A charger that reconnects replaces its half-dead old socket at once.
            self.live.log(identity, "event", "new connection replaces the previous one")
            await previous.connection.close(1000, "replaced by a new connection")
        charge_point = ChargePoint16(
            identity,
            charger_id,
            LoggedConnection(connection, self.live, identity),
            self.live,
            self.service.clock,
            self.heartbeat_interval,
            self.call_timeout,
        )
        link = Link(identity, charger_id, connection, charge_point)
        self._links[identity] = link
        remote = connection.remote_address[0] if connection.remote_address else "?"
        self.live.log(identity, "event", f"connected from {remote} ({connection.subprotocol})")
        await self.live.connected(charger_id)
        try:
            await charge_point.start()
        except ConnectionClosed as closed:
            reason = f"code {closed.rcvd.code}" if closed.rcvd else "no close frame"
            self.live.log(identity, "event", f"disconnected ({reason})")
        finally:
            if self._links.get(identity) is link:
                del self._links[identity]
                await self.live.disconnected(charger_id)

    # -- the gateway the core calls ----------------------------------------------------

    def is_connected(self, identity: str) -> bool:
        return identity in self._links

    def connected_count(self) -> int:
        return len(self._links)

    async def call(self, identity: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        link = self._links.get(identity)
        if link is None:
            raise ConnectionError(f"{identity} is not connected")
        request_type = getattr(call16, action, None)
        if request_type is None:
            raise ValueError(f"unknown OCPP 1.6 operation {action!r}")
        request = request_type(**camel_to_snake_case(payload))
        try:
            result = await link.charge_point.call(request, suppress=False)
        except OCPPError as error:
            raise CallFailed(f"{type(error).__name__}: {error.description}") from error
        except asyncio.TimeoutError as error:
            raise TimeoutError(f"no answer within {self.call_timeout:g} s") from error
        return snake_to_camel_case(remove_nones(serialize_as_dict(result)))
