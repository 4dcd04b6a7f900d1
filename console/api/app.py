"""The FastAPI app of headless mode: both seeds' APIs, the console's own endpoints, /events and /health.

Errors are rendered here, once: domain errors by kind, request validation as
422, and anything unexpected as a 500 in the envelope without a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.api import (
    actions,
    chargingplan,
    configuration,
    contract,
    deployments,
    devices,
    docs,
    events,
    files,
    internal,
    keys,
    operations,
    scopes,
    tokens,
    transactions,
    webhooks,
)
from console.api import planning
from console.api.envelope import ApiError, error_response, new_request_id, ok
from console.api.idempotency import Idempotency
from console.api.limits import ApiLimits, Gate, GateCounts
from console.api.schemas import Envelope, Health, Liveness, errors
from console.core.engine import CommandRefused
from console.core.errors import Conflict, ConsoleError, ImportRefused, NotFound, StoreUnavailable, Unavailable, ValidationFailed
from console.core.service import ConsoleService

log = logging.getLogger("console.api")

# CommandRefused codes that are about the current state rather than the request itself.
STATE_CONFLICTS = ("CONFLICT", "NOT_CANCELLABLE")

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    408: "REQUEST_TIMEOUT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
}


class RequestStamp:
    """Gives each request its id and start time (for `meta`), and echoes the id as X-Request-Id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["started"] = time.perf_counter()

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, stamped)


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] or parts
    return ".".join(parts)


# An error answer names at most this many fields, each briefly: a huge bad body gets a small answer.
MAX_ERROR_DETAILS = 20
MAX_ERROR_TEXT = 200


def _brief(text: str) -> str:
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "…"


def _problems(problems: dict[str, str]) -> list[dict[str, str]]:
    return [{"field": field, "message": message} for field, message in problems.items()]


def domain_error(request: Request, error: ConsoleError) -> Any:
    if isinstance(error, NotFound):
        return error_response(request, 404, "NOT_FOUND", str(error))
    if isinstance(error, ValidationFailed):
        return error_response(request, 422, "VALIDATION_ERROR", str(error), _problems(error.problems))
    if isinstance(error, ImportRefused):
        details = [{"field": f"{subject}.{field}", "message": message} for subject, field, message in error.problems]
        return error_response(request, 422, error.code, str(error), details)
    if isinstance(error, CommandRefused):
        status = 409 if error.code in STATE_CONFLICTS else 422
        details = [{"field": error.field, "message": str(error)}] if error.field else None
        return error_response(request, status, error.code, str(error), details)
    if isinstance(error, StoreUnavailable):  # the request may be tried again once the store takes writes
        return error_response(request, 503, error.code, str(error), headers={"Retry-After": "5"})
    if isinstance(error, Conflict | Unavailable):
        return error_response(request, 409, error.code, str(error))
    return error_response(request, 422, error.code, str(error))


# How long /health waits for its write (the store thread may be waiting out another writer's lock).
HEALTH_WRITE_TIMEOUT_S = 2.0


async def _store_refuses_writes(service: ConsoleService) -> str | None:
    """Why a real write fails now (None: it went through), asked on the store thread."""
    try:
        await asyncio.wait_for(service.store.check_write(), HEALTH_WRITE_TIMEOUT_S)
    except StoreUnavailable as error:
        return error.reason
    except asyncio.TimeoutError:
        return f"a write did not finish within {HEALTH_WRITE_TIMEOUT_S:g} s"
    return None


def create_app(
    service: ConsoleService,
    *,
    environment: str = "production",
    ocpp_listening: Callable[[], bool] | None = None,
    heartbeat_s: float = 15.0,
    limits: ApiLimits | None = None,
    event_log: events.EventLogSettings | None = None,
    webhook_settings: webhooks.WebhookSettings | None = None,
) -> FastAPI:
    """The app over one running service. `ocpp_listening` tells /health whether the OCPP server is up."""
    limits = limits or ApiLimits()
    app = FastAPI(
        title="ocpp-console API",
        version="1.0",
        description=(
            "Headless ocpp-console: the charger deployment API (`/ocpp/chargers`, Bearer auth), the EV charger "
            "device API (`/ev-charger`, `/actions`, x-api-key auth, every response in the `{success, data, meta}` "
            "envelope), the console's own endpoints (`/console`) used by attach mode, server-sent events "
            "(`/events`) and `/health`. Either key header works everywhere; a key sees only its organization."
        ),
        dependencies=[Depends(contract.known_query)],
        generate_unique_id_function=contract.operation_id,
        docs_url=None,  # docs.install serves them without a CDN
        redoc_url=None,
    )
    app.state.service = service
    app.state.environment = environment
    app.state.heartbeat_s = heartbeat_s
    app.state.limits = limits
    app.state.gate_counts = GateCounts()
    app.state.events = events.EventHub(service, event_log, limits.streams_per_key)
    app.state.webhooks = webhooks.WebhookDispatcher(service, app.state.events, webhook_settings)
    # Innermost first: a POST is replayed (Idempotency) only after the gate checked its key, rate and
    # body size; the request stamp is outermost, so every refusal and replay has its own request id.
    app.add_middleware(Idempotency)
    app.add_middleware(Gate, limits=limits, counts=app.state.gate_counts)
    app.add_middleware(RequestStamp)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Any:
        return error_response(request, error.status, error.code, error.message, error.details, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Any:
        problems = error.errors()
        details = [
            {"field": _brief(_field(tuple(item.get("loc", ())))), "message": _brief(str(item.get("msg", "invalid")))}
            for item in problems[:MAX_ERROR_DETAILS]
        ]
        message = "; ".join(f"{item['field']}: {item['message']}" for item in details[:5]) or "invalid request"
        if len(problems) > 5:
            message += f"; and {len(problems) - 5} more"
        return error_response(request, 422, "VALIDATION_ERROR", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Any:
        code = HTTP_CODES.get(error.status_code, "ERROR" if error.status_code >= 500 else "BAD_REQUEST")
        return error_response(request, error.status_code, code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(ConsoleError)
    async def console_error(request: Request, error: ConsoleError) -> Any:
        return domain_error(request, error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Any:
        log.error("%s %s failed: %r", request.method, request.url.path, error, exc_info=error)
        return error_response(request, 500, "INTERNAL_ERROR", "the server failed to answer this request; it has been logged")

    @app.get(
        "/health",
        response_model=Envelope[Health] | Envelope[Liveness],
        tags=["health"],
        summary="Whether the server is up (no key); with a key, the store, the OCPP listener and the organization's counts",
    )
    async def health(request: Request) -> Any:
        listening = ocpp_listening() if ocpp_listening is not None else bool(service.info.ocpp_url)
        who = getattr(request.state, "principal", None)  # the gate checked a key, when one was given
        if who is None:  # said to anyone: up or not, without a write and without details
            up = service.store.unavailable is None and listening
            return ok(request, {"status": "ok" if up else "degraded"})
        reason = await _store_refuses_writes(service)
        reachable = reason is None or await service.store_reachable()
        chargers, connected = service.live.connected_count(who.organization_id)
        counts = request.app.state.gate_counts
        return ok(
            request,
            {
                "status": "ok" if reason is None and listening else "degraded",
                "store": {
                    "reachable": reachable,
                    "url": service.info.store,
                    "writable": reason is None,
                    "reason": reason,
                    "queued": service.writer.queued,
                    "dropped": service.writer.dropped,
                },
                "ocpp": {"url": service.info.ocpp_url, "listening": listening},
                "counts": {"chargers": chargers, "connected": connected},
                "api": {"failed_authentications": counts.failed_authentications, "rate_limited": counts.rate_limited},
            },
        )

    app.include_router(deployments.router)
    app.include_router(actions.router)
    app.include_router(devices.router, dependencies=[Depends(scopes.by_method("operate"))], responses=errors(403))
    app.include_router(internal.router)
    app.include_router(operations.router)
    app.include_router(events.router, dependencies=[Depends(scopes.reader)], responses=errors(403))
    app.include_router(tokens.router, dependencies=[Depends(scopes.by_method("admin"))], responses=errors(403))
    app.include_router(keys.router)
    app.include_router(transactions.router)
    # The operator's firmware and log files: reading needs `read`, the rest `operate`.
    app.include_router(files.router, dependencies=[Depends(scopes.by_method("operate"))], responses=errors(403))
    # What chargers fetch and upload: no key, the URL is theirs alone.
    app.include_router(files.charger_files)
    # Webhook subscriptions and their deliveries: an administrator's.
    app.include_router(webhooks.router, dependencies=[Depends(scopes.administrator)], responses=errors(403))
    app.include_router(configuration.router, responses=errors(403))
    app.include_router(chargingplan.router, responses=errors(403))
    app.include_router(planning.router)
    contract.install(app)
    docs.install(app)
    return app


def create_files_app(service: ConsoleService) -> FastAPI:
    """Only what chargers reach (`/files`): the embedded console's file server for firmware and log uploads."""
    app = FastAPI(title="ocpp-console files", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    app.add_middleware(RequestStamp)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Any:
        return error_response(request, error.status, error.code, error.message, error.details, error.headers)

    @app.exception_handler(ConsoleError)
    async def console_error(request: Request, error: ConsoleError) -> Any:
        return domain_error(request, error)

    app.include_router(files.charger_files)
    return app
