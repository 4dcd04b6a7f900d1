"""Safe retries: a POST with an `Idempotency-Key` is answered once.

The first successful (2xx) answer to a POST with a key is kept for a day, per API
key: the same key and body again gets that answer back (`Idempotent-Replayed: true`)
and creates nothing new; the same key with another body or path is a 422. A
retry that arrives while the first is still running waits for it. Answers that
are not a success are not kept (they created nothing), so a retry runs again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from datetime import datetime, timedelta, timezone

from sqlmodel import Session, col, delete
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.api.envelope import error_response
from console.core.errors import StoreUnavailable
from console.core.models import IdempotentRequest
from console.core.service import ConsoleService

log = logging.getLogger("console.api")

HEADER = "idempotency-key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
KEPT_FOR = timedelta(hours=24)
# The answer's headers that are part of it (the rest are the request's own: its id, its length).
REPLAYED_HEADERS = ("content-type", "location", "x-total-count", "x-next-before")


def _api_key(headers: Headers) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


class Idempotency:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._running: dict[tuple[str, str], asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        api_key = _api_key(headers)
        if key is None or api_key is None:  # without a key of either kind the app answers (401 for no API key)
            await self.app(scope, receive, send)
            return
        if not KEY_PATTERN.match(key):
            problem = "1 to 255 printable ASCII characters without spaces"
            await self._refuse(scope, receive, send, f"Idempotency-Key: {problem}", problem)
            return
        body = await _read_body(receive)
        service: ConsoleService = scope["app"].state.service
        owner = hashlib.sha256(api_key.encode()).hexdigest()
        request_hash = hashlib.sha256(
            b"\n".join((scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body))
        ).hexdigest()
        slot = (owner, key)
        while slot in self._running:  # the same key is being answered: wait for that answer
            await self._running[slot].wait()
        done = self._running[slot] = asyncio.Event()
        try:
            kept = await self._kept(service, owner, key)
            if kept is not None and await service.authenticate(api_key) is not None:
                if kept.body_hash != request_hash:
                    message = "this Idempotency-Key was used with another request (body or path) within 24 h"
                    await self._refuse(scope, receive, send, message, "used with another request", code="IDEMPOTENCY_KEY_REUSED")
                else:
                    await _replay(kept, send)
                return
            answer = _Captured()
            await self.app(scope, _replaying(body, receive), answer.send)
            if 200 <= answer.status < 300:
                await self._keep(service, owner, key, scope, request_hash, answer)
            await answer.deliver(send)
        finally:
            del self._running[slot]
            done.set()

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, message: str, detail: str, code: str = "VALIDATION_ERROR"
    ) -> None:
        response = error_response(Request(scope), 422, code, message, [{"field": "Idempotency-Key", "message": detail}])
        await response(scope, receive, send)

    @staticmethod
    async def _kept(service: ConsoleService, owner: str, key: str) -> IdempotentRequest | None:
        since = service.clock.now() - KEPT_FOR

        def read(session: Session) -> IdempotentRequest | None:
            row = session.get(IdempotentRequest, (owner, key))
            if row is None or _utc(row.created_at) <= since:
                return None
            return IdempotentRequest(**row.model_dump())

        try:
            return await service.store.run(read)
        except StoreUnavailable:
            return None

    @staticmethod
    async def _keep(
        service: ConsoleService, owner: str, key: str, scope: Scope, request_hash: str, answer: _Captured
    ) -> None:
        now = service.clock.now()
        row = IdempotentRequest(
            key_hash=owner,
            idempotency_key=key,
            method=scope["method"],
            path=scope["path"],
            body_hash=request_hash,
            status=answer.status,
            headers=answer.kept_headers(),
            body=answer.body.decode("utf-8", errors="replace"),
            created_at=now,
        )

        def write(session: Session) -> None:
            session.exec(delete(IdempotentRequest).where(col(IdempotentRequest.created_at) < now - KEPT_FOR))
            session.merge(row)
            session.commit()

        try:
            await service.store.run(write)
        except StoreUnavailable as error:  # the answer still goes out; a retry would run again
            log.warning("the answer to Idempotency-Key %r was not kept: %s", key, error)


class _Captured:
    """A response held back until it is kept, then sent as it was."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.messages: list[Message] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
        self.messages.append(message)

    def kept_headers(self) -> dict[str, str]:
        return {name.decode().lower(): value.decode() for name, value in self.headers if name.decode().lower() in REPLAYED_HEADERS}

    async def deliver(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the connection's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _replay(kept: IdempotentRequest, send: Send) -> None:
    body = kept.body.encode()
    headers = [(name.encode(), value.encode()) for name, value in (kept.headers or {}).items()]
    headers += [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
    await send({"type": "http.response.start", "status": kept.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
