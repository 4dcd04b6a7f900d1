"""The seeds' envelope: `{success, data, meta}` and `{success: false, error: {code, message}, meta}`.

Every response carries `meta` with the request id, the serving environment,
the time, and the server-side latency; the middleware in app.py stamps each
request with its id and start.
"""

from __future__ import annotations

import secrets
import string
import time
from datetime import datetime, timezone
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

_ALPHABET = string.ascii_letters + string.digits


def new_request_id() -> str:
    return "req_" + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def meta(request: Request) -> dict[str, Any]:
    started = getattr(request.state, "started", None)
    latency = 0 if started is None else round((time.perf_counter() - started) * 1000)
    request_id = getattr(request.state, "request_id", None) or new_request_id()
    return {
        "requestId": request_id,
        "environment": getattr(request.app.state, "environment", "production"),
        "timestamp": now_iso(),
        "latencyMs": latency,
    }


def ok(request: Request, data: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "meta": meta(request)}


class ApiError(Exception):
    """An error the API answers with in the envelope; raised by routes, rendered by one handler."""

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return JSONResponse({"success": False, "error": error, "meta": meta(request)}, status_code=status, headers=headers)
