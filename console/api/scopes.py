"""What a key may do: every route needs one scope (`read`, `operate` or `admin`), or the answer is 403.

A route names its scope (`Depends(reader)`, `Depends(operator)`, `Depends(administrator)`);
a router that is all reads and one kind of write takes `by_method(...)` where it is
included. The check also notes the key the request acts for, so every action the
request creates records it (`models.acting_key`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request

from console.api.auth import principal
from console.api.envelope import ApiError
from console.core.keys import Principal
from console.core.models import acting_key

READS = ("GET", "HEAD", "OPTIONS")


def _granted(who: Principal, scope: str) -> Principal:
    if not who.may(scope):
        raise ApiError(
            403,
            "FORBIDDEN",
            f"this API key does not have the {scope!r} scope (it has: {', '.join(who.scopes)})",
            [{"field": "scopes", "message": f"needs {scope}"}],
        )
    acting_key.set(who.key_id)
    return who


def need(scope: str) -> Callable[..., Awaitable[Principal]]:
    async def check(who: Principal = Depends(principal)) -> Principal:
        return _granted(who, scope)

    check.__name__ = f"need_{scope}"
    return check


def by_method(write: str) -> Callable[..., Awaitable[Principal]]:
    """`read` for GET, `write` for every other method."""

    async def check(request: Request, who: Principal = Depends(principal)) -> Principal:
        return _granted(who, "read" if request.method in READS else write)

    check.__name__ = f"read_or_{write}"
    return check


reader = need("read")
operator = need("operate")
administrator = need("admin")
