"""The central system's listener: handshake, registry of live connections, outbound calls.

One listener serves every OCPP version; the WebSocket subprotocol picks the
handler. The handshake is where chargers are told no: an unknown identity
(404, unless auto-registration is on), one an operator rejected (403, known or
not), a wrong or missing password (401), a subprotocol we speak that is not the
one the charger's record says (400).

Offered subprotocols none of which we speak are refused as OCPP-J says (1.6
and 2.0.1 Part 4, the handshake): the handshake is completed without a
Sec-WebSocket-Protocol header and the connection closed at once (1002,
protocol error). A charger that offers none at all (some firmware sends no
header) is served with its record's version, a protocol warning on it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import http
import logging
import os
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from ocpp.exceptions import OCPPError
from ocpp.v16 import call as call16
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from console.core.certificates import peer_common_name, security_profile
from console.core.passwords import verify_password
from console.core.service import ConsoleService
from console.csms.collector import CollectorTuning
from console.csms.framelog import LoggedConnection
from console.csms.transport import Connection, Listener
from console.csms.v16 import ChargePoint16
from console.csms.v201 import ChargePoint21, ChargePoint201
from console.core import versions
from console.core.versions import OcppVersion

log = logging.getLogger("console.csms")

# Record version -> subprotocol, and what each subprotocol is served with.
SUBPROTOCOL_OF = {version.value: version.subprotocol for version in OcppVersion}
VERSION_OF = {protocol: version for version, protocol in SUBPROTOCOL_OF.items()}
HANDLERS: dict[str, type[ChargePoint16] | type[ChargePoint201]] = {
    OcppVersion.V16.subprotocol: ChargePoint16,
    OcppVersion.V201.subprotocol: ChargePoint201,
    OcppVersion.V21.subprotocol: ChargePoint21,
}
CALLS = {OcppVersion.V16.subprotocol: call16, OcppVersion.V201.subprotocol: call201, OcppVersion.V21.subprotocol: call21}
CLOSE_TIMEOUT = 10.0  # websockets' default, seconds
MAX_CLOSE_REASON = 123  # bytes (RFC 6455 §5.5: a control frame's payload is at most 125, 2 of them the code)
REJECTED = "rejected by an operator"
# Most recent first: an unknown charger offering several gets the newest.
SUBPROTOCOLS = versions.SUBPROTOCOLS
# permessage-deflate per subprotocol, for chargers that offer it. OCPP 2.0.1 asks a CSMS to
# support it; for 1.6 it is off. Measured (benchmarks.ocpp_bench compression, 2-core box): deflate
# costs about a quarter more server CPU per CALL (1.6: 5,817 -> 4,120 CALLs per CPU-second; 2.0.1:
# 5,632 -> 4,180) and about 41 KB more per connection (76 -> 117 KB with 2,000 connected).
COMPRESSION = {version.subprotocol: not version.is_16 for version in OcppVersion}
# "ocpp1.6=on,ocpp2.0.1=off": the setting from the environment (benchmarks, operators).
COMPRESSION_ENV = "OCPP_CONSOLE_COMPRESSION"
# Which connection layer serves chargers: "sansio" (console.csms.transport, our asyncio protocol around
# websockets' sans-I/O ServerProtocol) or "asyncio" (websockets.asyncio.server.serve). Same behaviour;
# the first spends less CPU per frame.
TRANSPORT_ENV = "OCPP_CONSOLE_TRANSPORT"
TRANSPORTS = ("sansio", "asyncio")


def compression_setting(text: str | None) -> dict[str, bool]:
    """COMPRESSION, with what `text` ("subprotocol=on|off,…") changes; unknown names are ignored."""
    setting = dict(COMPRESSION)
    for item in (text or "").split(","):
        name, _, value = item.strip().partition("=")
        if name in setting and value.strip().lower() in ("on", "off"):
            setting[name] = value.strip().lower() == "on"
    return setting


class CallFailed(Exception):
    """An outbound CALL was answered with a CALLERROR."""


@dataclass
class Link:
    """One live charger connection."""

    identity: str
    charger_id: str
    subprotocol: str
    connection: ServerConnection | Connection
    charge_point: ChargePoint16 | ChargePoint201
    # Set when the connection has ended: a call still waiting for its answer gives up at once.
    closed: asyncio.Event = field(default_factory=asyncio.Event)


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


def basic_credentials(headers: Headers) -> tuple[str, str] | None:
    value = headers.get("Authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, separator, password = decoded.partition(":")
    return (user, password) if separator else None


class CentralSystem:
    def __init__(
        self,
        service: ConsoleService,
        host: str = "127.0.0.1",
        port: int = 9000,
        heartbeat_interval: int = 60,
        call_timeout: float = 30.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        auto_register: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        max_frame_bytes: int = 1 << 20,
        tune_collector: bool = True,
        compression: dict[str, bool] | None = None,
        transport: str | None = None,
        tolerant: bool = False,
    ) -> None:
        self.service = service
        self.live = service.live
        self.host = host
        self.requested_port = port
        self.heartbeat_interval = heartbeat_interval
        self.call_timeout = call_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.auto_register = auto_register
        # Every charger in tolerant mode, whatever its record says (console.csms.validation.tolerate).
        self.tolerant = tolerant
        self.ssl_context = ssl_context
        self.max_frame_bytes = max_frame_bytes
        self.compression = compression if compression is not None else compression_setting(os.environ.get(COMPRESSION_ENV))
        # Keep Python's cyclic collector from pausing thousands of connections (console.csms.collector).
        self.collector = CollectorTuning(self.connected_count) if tune_collector else None
        self.transport = transport or os.environ.get(TRANSPORT_ENV) or TRANSPORTS[0]
        if self.transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {self.transport!r}: one of {', '.join(TRANSPORTS)}")
        self._server: Server | Listener | None = None
        self._links: dict[str, Link] = {}
        # Told (identity, charger id, connected) when a charger's connection here begins and when it ends
        # (a cluster node's connection registry).
        self.connection_listeners: list[Callable[[str, str, bool], None]] = []
        self._closing: set[asyncio.Task[None]] = set()
        # Good password checks, by (stored hash, sha256 of the password), so a reconnect
        # storm does not pay scrypt again for every charger.
        self._verified: set[tuple[str, str]] = set()

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        # A peer that missed its pong will not answer a close frame either: give up as soon.
        close_timeout = min(self.ping_timeout or CLOSE_TIMEOUT, CLOSE_TIMEOUT)
        # The same options whichever layer serves the connections.
        options: dict[str, Any] = {
            "subprotocols": list(SUBPROTOCOLS),
            "select_subprotocol": self._select_subprotocol,
            "process_request": self._check_handshake,
            "ping_interval": self.ping_interval,
            "ping_timeout": self.ping_timeout,
            "close_timeout": close_timeout,
            "max_size": self.max_frame_bytes,
        }
        server: Server | Listener
        if self.transport == "sansio":
            server = Listener(self._handle, **options)
            await server.start(self.host, self.requested_port, ssl=self.ssl_context, backlog=1024)
        else:
            server = await serve(
                self._handle, self.host, self.requested_port, ssl=self.ssl_context, backlog=1024, **options
            )
        self._server = server
        # Keep the port we got, so a restart (port 0 at first) listens on the same one.
        self.requested_port = server.sockets[0].getsockname()[1]
        self.live.tls = self.ssl_context is not None
        self.service.set_ocpp_url(self.url)
        self.service.attach(gateway=self)
        if self.collector is not None:
            self.collector.start()
        log.info("OCPP central system listening on %s (%s)", self.url, ", ".join(reversed(SUBPROTOCOLS)))

    @property
    def port(self) -> int:
        return self.requested_port

    @property
    def scheme(self) -> str:
        return "wss" if self.ssl_context is not None else "ws"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def local_url(self) -> str:
        """Where a client on this machine reaches the listener (for our own simulators)."""
        if self.host in ("0.0.0.0", ""):
            return f"{self.scheme}://127.0.0.1:{self.port}"
        if self.host == "::":
            return f"{self.scheme}://[::1]:{self.port}"
        return self.url

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)
        self._server = None
        if self.collector is not None:
            await self.collector.stop()

    # -- handshake -------------------------------------------------------------------

    def _refuse(
        self, connection: ServerConnection | Connection, status: http.HTTPStatus, identity: str, reason: str, logged: bool = True
    ) -> Response:
        """Refuse the handshake; `logged` False: counted elsewhere, not logged again (an unknown identity's repeats)."""
        if logged:
            self.live.log(identity or "?", "event", f"refused: {reason} (HTTP {status.value})")
            log.warning("refused %r from %s: %s", identity, connection.remote_address, reason)
        return connection.respond(status, f"{reason}\n")

    async def _check_handshake(self, connection: ServerConnection | Connection, request: Request) -> Response | None:
        identity = identity_from_path(request.path)
        offered = offered_subprotocols(request.headers)
        supported = [protocol for protocol in SUBPROTOCOLS if protocol in offered]
        remote = connection.remote_address[0] if connection.remote_address else None
        if not identity:
            return self._refuse(connection, http.HTTPStatus.NOT_FOUND, "", "no charger identity in the URL path")
        charger_id = self.live.charger_id_for(identity)
        if charger_id is None:
            registrations = self.service.registrations
            attempt = await registrations.note_attempt(identity, remote, ", ".join(offered) or None)
            # An identity that keeps trying is logged once an hour; every attempt is counted (:unknown).
            if attempt.decision == "rejected":
                return self._refuse(connection, http.HTTPStatus.FORBIDDEN, identity, REJECTED, registrations.first_this_hour)
            if not self.auto_register:
                return self._refuse(
                    connection, http.HTTPStatus.NOT_FOUND, identity, f"unknown identity {identity!r}", registrations.first_this_hour
                )
            if not offered:  # no record's version to serve it with
                return self._refuse(
                    connection, http.HTTPStatus.BAD_REQUEST, identity,
                    f"no subprotocol offered; this server speaks {', '.join(SUBPROTOCOLS)}",
                )
            if not supported:
                return self._unspoken(connection, identity, offered)
            charger = await self.service.registrations.auto_register(identity, VERSION_OF[supported[0]])
            charger_id = charger.id
        record = self.live.record(charger_id)
        assert record is not None
        if record.registration == "rejected":
            await self.live.handshake_refused(charger_id, REJECTED)
            return self._refuse(connection, http.HTTPStatus.FORBIDDEN, identity, REJECTED)
        wanted = SUBPROTOCOL_OF[record.ocpp_version]
        if offered and not supported:
            reason = f"no supported subprotocol offered ({', '.join(offered)}); {identity} must offer {wanted}"
            await self.live.handshake_refused(charger_id, f"wrong subprotocol: {reason}")
            return self._unspoken(connection, identity, offered)
        if offered and wanted not in offered:
            reason = (
                f"{identity} is registered as {record.ocpp_version} but offered only {', '.join(offered)}; "
                f"change the charger's ocpp_version or its configuration"
            )
            await self.live.handshake_refused(charger_id, f"wrong subprotocol: {reason}")
            return self._refuse(connection, http.HTTPStatus.BAD_REQUEST, identity, reason)
        # Security profile 3: a client certificate the TLS layer verified against --tls-client-ca; its CN
        # must be the identity. It stands in for the password (profile 3 has no Basic auth).
        tls = self.ssl_context is not None
        certified = peer_common_name(connection.transport.get_extra_info("peercert")) if tls else None
        if certified is not None and certified != identity:
            problem = f"wrong client certificate: issued to {certified!r}, not {identity!r}"
            await self.live.handshake_refused(charger_id, problem)
            return self._refuse(connection, http.HTTPStatus.FORBIDDEN, identity, problem)
        if record.password_hash is not None and certified is None:
            problem = await self._check_password(identity, record.password_hash, request.headers)
            if problem is not None:
                await self.live.handshake_refused(charger_id, problem)
                response = self._refuse(connection, http.HTTPStatus.UNAUTHORIZED, identity, problem)
                response.headers["WWW-Authenticate"] = 'Basic realm="ocpp-console", charset="UTF-8"'
                return response
        profile = security_profile(tls, record.password_hash is not None, certified is not None)
        if record.security_profile and profile < record.security_profile:
            problem = f"security profile {profile} is below the {record.security_profile} its record requires"
            if record.security_profile == 3:
                problem += ": it must present a client certificate signed by the console's CA (--tls-client-ca)"
            await self.live.handshake_refused(charger_id, problem)
            return self._refuse(connection, http.HTTPStatus.FORBIDDEN, identity, problem)
        if not self.compression.get(wanted, False):
            # Decline permessage-deflate for this connection only (the handshake answer is built next).
            connection.protocol.available_extensions = []
        return None

    def _unspoken(self, connection: ServerConnection | Connection, identity: str, offered: list[str]) -> None:
        """Offered subprotocols none of which we speak: the handshake completes without one, and `_handle` closes it."""
        reason = f"no supported subprotocol offered ({', '.join(offered)}); this server speaks {', '.join(SUBPROTOCOLS)}"
        self.live.log(identity, "event", f"refused: {reason} (handshake completed without a subprotocol, closed with 1002)")
        log.warning("refused %r from %s: %s", identity, connection.remote_address, reason)
        connection.protocol.available_extensions = []
        return None

    async def _check_password(self, identity: str, stored: str, headers: Headers) -> str | None:
        credentials = basic_credentials(headers)
        if credentials is None:
            return "missing password: this charger must send HTTP Basic auth"
        user, password = credentials
        if user != identity:
            return f"wrong user name {user!r}: Basic auth must use the charger identity"
        key = (stored, hashlib.sha256(password.encode()).hexdigest())
        if key in self._verified:
            return None
        if not await asyncio.to_thread(verify_password, password, stored):
            return "wrong password"
        self._verified.add(key)
        return None

    def _select_subprotocol(self, connection: ServerConnection | Connection, offered: Any) -> Any:
        identity = identity_from_path(connection.request.path if connection.request else "")
        record = self.live.record(self.live.charger_id_for(identity) or "")
        if record is not None and SUBPROTOCOL_OF[record.ocpp_version] in offered:
            return SUBPROTOCOL_OF[record.ocpp_version]
        return next((protocol for protocol in SUBPROTOCOLS if protocol in offered), None)

    # -- connections -----------------------------------------------------------------

    async def _handle(self, connection: ServerConnection | Connection) -> None:
        identity = identity_from_path(connection.request.path if connection.request else "")
        charger_id = self.live.charger_id_for(identity)
        subprotocol = connection.subprotocol or ""
        if not subprotocol:
            offered = offered_subprotocols(connection.request.headers) if connection.request else []
            if offered:  # none we speak (`_unspoken`)
                reason = f"no supported subprotocol offered ({', '.join(offered)})"
                await connection.close(CloseCode.PROTOCOL_ERROR, reason.encode()[:MAX_CLOSE_REASON].decode(errors="ignore"))
                return
            record = self.live.record(charger_id) if charger_id is not None else None
            if charger_id is not None and record is not None:
                subprotocol = SUBPROTOCOL_OF[record.ocpp_version]
                self.live.protocol_warning(
                    charger_id, f"no Sec-WebSocket-Protocol header: served as {record.ocpp_version}, the version of its record"
                )
        if charger_id is None or subprotocol not in HANDLERS:  # deleted between handshake and now
            await connection.close(1008, "unknown identity")
            return
        previous = self._links.get(identity)
        if previous is not None:
            # A charger that reconnects replaces its half-dead old socket at once.
            self.live.log(identity, "event", "new connection replaces the previous one")
            del self._links[identity]
            # Not awaited: a half-dead socket would hold the new connection up for the close timeout.
            closing = asyncio.create_task(previous.connection.close(1000, "replaced by a new connection"))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        charge_point = HANDLERS[subprotocol](
            identity,
            charger_id,
            LoggedConnection(connection, self.live, identity),
            self.live,
            self.service.clock,
            self.heartbeat_interval,
            self.call_timeout,
        )
        charge_point.tolerant = self.tolerant
        charge_point.tokens = self.service.tokens
        charge_point.certificates = self.service.certificates
        if hasattr(charge_point, "ev_needs"):
            charge_point.ev_needs = self.service.planner.ev_needs
        if isinstance(connection, Connection):  # our connection layer: CALLs to plain functions are answered as they arrive
            connection.answer_at_once = charge_point.answer_at_once
        link = Link(identity, charger_id, subprotocol, connection, charge_point)
        self._links[identity] = link
        if self.collector is not None:
            self.collector.opened()
        remote = connection.remote_address[0] if connection.remote_address else "?"
        self.live.log(identity, "event", f"connected from {remote} ({subprotocol})")
        await self.live.connected(charger_id)
        for listener in self.connection_listeners:
            listener(identity, charger_id, True)
        quality = asyncio.create_task(self._watch_quality(link))
        try:
            await charge_point.start()
        except ConnectionClosed as closed:
            reason = f"code {closed.rcvd.code}" if closed.rcvd else "no close frame"
            self.live.log(identity, "event", f"disconnected ({reason})")
        finally:
            link.closed.set()
            quality.cancel()
            if self.collector is not None:
                self.collector.closed()
            if self._links.get(identity) is link:
                del self._links[identity]
                for listener in self.connection_listeners:
                    listener(identity, charger_id, False)
                await self.live.disconnected(charger_id)

    async def _watch_quality(self, link: Link) -> None:
        """Report the ping round-trip websockets measures on each keepalive."""
        if not self.ping_interval:
            return
        while True:
            await asyncio.sleep(self.ping_interval)
            latency = link.connection.latency
            self.live.link_quality(link.charger_id, round(latency * 1000, 1) if latency else None)

    # -- the gateway the core calls ----------------------------------------------------

    def is_connected(self, identity: str) -> bool:
        return identity in self._links

    def disconnect(self, identity: str, reason: str) -> None:
        link = self._links.get(identity)
        if link is None:
            return
        self.live.log(identity, "event", f"disconnecting: {reason}")
        # Not awaited: a half-dead socket would hold the operator's request up for the close timeout.
        closing = asyncio.create_task(link.connection.close(CloseCode.POLICY_VIOLATION, reason))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    def connected_count(self) -> int:
        return len(self._links)

    def version_of(self, identity: str) -> str | None:
        link = self._links.get(identity)
        return VERSION_OF[link.subprotocol] if link else None

    async def call(self, identity: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        link = self._links.get(identity)
        if link is None:
            raise ConnectionError(f"{identity} is not connected")
        if getattr(CALLS[link.subprotocol], action, None) is None:
            raise ValueError(f"{action!r} is not an OCPP {VERSION_OF[link.subprotocol]} operation")
        unique_id = str(uuid.uuid4())
        # Sent as given and answered as received: vendor data (DataTransfer, customData) keeps its keys.
        answer = asyncio.ensure_future(link.charge_point.call_payload(action, payload, unique_id))
        closed = asyncio.ensure_future(link.closed.wait())
        try:
            await asyncio.wait({answer, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not answer.done() and link.charge_point.has_answer(unique_id):
                # The answer arrived before the close (a charger that accepts a Reset reboots at once),
                # and reading it takes a few more turns of the loop: it is the outcome.
                await asyncio.wait({answer})
        finally:
            closed.cancel()
            if not answer.done():
                answer.cancel()
        if answer.cancelled() or not answer.done():
            # The charger went away with the call outstanding: no answer is coming.
            raise ConnectionError(f"the connection closed before {identity} answered")
        try:
            result = answer.result()
        except OCPPError as error:
            raise CallFailed(f"{type(error).__name__}: {error.description}") from error
        except asyncio.TimeoutError as error:
            raise TimeoutError(f"no answer within {self.call_timeout:g} s") from error
        return result
