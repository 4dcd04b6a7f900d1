"""What one API client may cost the server: the gate in front of every request, and the connection guard.

The gate (`Gate`, an ASGI middleware) runs before any route: it takes a token
from the caller's address bucket, checks the key before a byte of the body is
read and takes a token from the key's bucket (429 with Retry-After when one is
empty), and refuses a body larger than the cap from its Content-Length (or as
it streams in) with 413. Failed
authentications are counted and logged (at most once a minute per address).

The connection guard (`guarded_protocol`) is uvicorn's h11 protocol with a
deadline for a request's headers (a client sending them byte by byte is cut
off) and caps on open API connections, in all and per address, kept well under
the process's open-files limit so that chargers always find a descriptor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from console.api.envelope import error_response

log = logging.getLogger("console.api")

MIB = 1024 * 1024

# Paths anyone may read; /health gives more to a caller with a key.
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
# Chargers' own file transfers carry no key (the URL they were sent is theirs alone), nor do the docs' assets.
PUBLIC_PREFIXES = ("/files/", "/docs/static/")
# Routes that bound their bodies themselves (firmware images, chargers' log uploads: files.py's limits).
OWN_BODY_LIMITS = ("/files/uploads/", "/console/firmware/")

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="ocpp-console"'}


@dataclass
class ApiLimits:
    """The API's limits; `serve` takes them from its options, tests set small ones."""

    max_body_bytes: int = MIB
    # Requests per second and burst, per key and per source address (the address also before any key is checked).
    key_rate: float = 50.0
    key_burst: int = 200
    address_rate: float = 100.0
    address_burst: int = 400
    # A failed authentication costs the address this many tokens: guessing keys is slow.
    failed_auth_cost: int = 10
    # Open /events streams per key.
    streams_per_key: int = 5
    # A request's headers must arrive within this; a request's body within body_timeout_s of its headers.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    # Open API connections, in all and per address (the guard lowers max_connections to a quarter of
    # the open-files limit, so chargers keep the rest).
    max_connections: int = 1000
    max_connections_per_address: int = 100


class Buckets:
    """Token buckets by name (a key id, an address), at most `size` of them (the least recently used go)."""

    def __init__(self, rate: float, burst: int, size: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.size = size
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, name: str, cost: float = 1.0, *, owe: bool = False) -> float:
        """0 when the request may go; otherwise how many seconds until it may. `owe`: take the cost even into debt."""
        now = time.monotonic()
        tokens, stamp = self._buckets.pop(name, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
        wait = 0.0
        if tokens >= cost or owe:
            tokens -= cost
        else:
            wait = (cost - tokens) / self.rate if self.rate > 0 else 60.0
        self._buckets[name] = (tokens, now)
        if len(self._buckets) > self.size:
            self._buckets.popitem(last=False)
        return wait


@dataclass
class GateCounts:
    """What the gate refused since start (authenticated /health shows them)."""

    failed_authentications: int = 0
    rate_limited: int = 0


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def request_key(scope: Scope) -> str | None:
    """The API key a request carries (x-api-key or Authorization: Bearer), if any."""
    bearer = None
    for name, value in scope.get("headers", ()):
        if name == b"x-api-key" and value.strip():
            return value.decode("latin-1").strip()
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                bearer = credentials.strip()
    return bearer


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class Gate:
    """Address rate limit, key check, key rate limit and body cap, in that order, before the app reads anything."""

    def __init__(self, app: ASGIApp, limits: ApiLimits, counts: GateCounts) -> None:
        self.app = app
        self.limits = limits
        self.counts = counts
        self.by_address = Buckets(limits.address_rate, limits.address_burst)
        self.by_key = Buckets(limits.key_rate, limits.key_burst)
        self._failures_logged: OrderedDict[str, tuple[float, int]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else "unknown"
        wait = self.by_address.take(address)
        if wait:
            await self._refuse(scope, receive, send, 429, "RATE_LIMITED", "too many requests from this address", wait)
            return
        key = request_key(scope)
        path = scope["path"]
        if (path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES)) or key is not None:
            if key is None:
                await self._refuse(scope, receive, send, 401, "UNAUTHORIZED", "an API key is required (Authorization: Bearer <key> or x-api-key)")
                return
            found = await scope["app"].state.service.authenticate(key)
            if found is None:
                self._failed(address)
                await self._refuse(scope, receive, send, 401, "UNAUTHORIZED", "the API key is not valid (wrong or revoked)")
                return
            wait = self.by_key.take(found.key_id)
            if wait:
                await self._refuse(scope, receive, send, 429, "RATE_LIMITED", "too many requests with this key", wait)
                return
            scope.setdefault("state", {})["principal"] = found
        if path.startswith(OWN_BODY_LIMITS):
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        limit = self.limits.max_body_bytes
        if length is not None and length > limit:
            await self._refuse(scope, receive, send, 413, "PAYLOAD_TOO_LARGE", f"the request body is larger than {limit} bytes")
            return
        await self.app(scope, self._bounded(receive, limit), send)

    def _bounded(self, receive: Receive, limit: int) -> Receive:
        """The body as it comes, refused past `limit` bytes or when it does not finish within the body timeout."""
        received = 0
        deadline = time.monotonic() + self.limits.body_timeout_s
        done = False

        async def bounded() -> Message:
            nonlocal received, done
            if done:  # after the body: a disconnect, whenever it comes
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                raise HTTPException(408, "the request body did not arrive in time") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                done = not message.get("more_body", False)
            else:
                done = True
            return message

        return bounded

    def _failed(self, address: str) -> None:
        self.counts.failed_authentications += 1
        self.by_address.take(address, self.limits.failed_auth_cost - 1, owe=True)
        now = time.monotonic()
        last, unlogged = self._failures_logged.pop(address, (0.0, 0))
        if now - last >= 60:
            log.warning(
                "refused an invalid API key from %s (%d more from there since the last line; %d refused since start)",
                address, unlogged, self.counts.failed_authentications,
            )
            self._failures_logged[address] = (now, 0)
        else:
            self._failures_logged[address] = (last, unlogged + 1)
        if len(self._failures_logged) > 10_000:
            self._failures_logged.popitem(last=False)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str, retry_after: float | None = None
    ) -> None:
        headers: dict[str, str] = {}
        if status == 401:
            headers.update(UNAUTHORIZED_HEADERS)
        if retry_after is not None:
            self.counts.rate_limited += 1
            headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
        if status == 413:  # the body is not read: the connection cannot be used again
            headers["Connection"] = "close"
        response = error_response(Request(scope), status, code, message, headers=headers)
        await response(scope, receive, send)


class ConnectionGuard:
    """Counts the API's open connections, in all and per address, and admits new ones under the caps."""

    def __init__(self, limits: ApiLimits) -> None:
        self.limits = limits
        self.max_connections = min(limits.max_connections, max(16, open_files_limit() // 4))
        self.open = 0
        self.by_address: dict[str, int] = {}
        self.refused = 0
        self.timed_out = 0
        self._said = 0.0

    def admit(self, address: str) -> bool:
        if self.open >= self.max_connections or self.by_address.get(address, 0) >= self.limits.max_connections_per_address:
            self.refused += 1
            now = time.monotonic()
            if now - self._said >= 60:
                self._said = now
                log.warning(
                    "API connections refused: %d open (at most %d, %d per address; %s has %d); %d refused since start",
                    self.open, self.max_connections, self.limits.max_connections_per_address, address,
                    self.by_address.get(address, 0), self.refused,
                )
            return False
        self.open += 1
        self.by_address[address] = self.by_address.get(address, 0) + 1
        return True

    def release(self, address: str) -> None:
        self.open -= 1
        left = self.by_address.get(address, 1) - 1
        if left > 0:
            self.by_address[address] = left
        else:
            self.by_address.pop(address, None)


def open_files_limit() -> int:
    try:
        import resource
    except ImportError:
        return 1 << 20
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request's headers and the guard's caps."""

    guard: ConnectionGuard

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else "unknown"
        self._admitted = self.guard.admit(self._address)
        self._header_deadline: asyncio.TimerHandle | None = None
        if not self._admitted:
            transport.abort()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if getattr(self, "_admitted", False):
            self._admitted = False
            self.guard.release(self._address)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # the headers are in: the request is the app's now

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the next request's headers, or the keep-alive timeout, whichever closes first

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.guard.limits.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if getattr(self, "_header_deadline", None) is not None:
            self._header_deadline.cancel()  # type: ignore[union-attr]
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.guard.timed_out += 1
            self.transport.abort()


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedH11]:
    return type("GuardedH11", (GuardedH11,), {"guard": guard})
