"""Charger passwords (OCPP security profiles 1 and 2): only salted scrypt hashes are stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

# scrypt cost: ~30 ms a check; the central system caches good checks so reconnect storms stay cheap.
N, R, P = 2**13, 8, 1
PASSWORD_MIN, PASSWORD_MAX = 16, 40  # OCPP's BasicAuthPassword / AuthorizationKey length


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return "scrypt${}${}${}${}${}".format(
        N, R, P, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def password_problem(password: object) -> str | None:
    """Why a password is not acceptable, or None."""
    if not isinstance(password, str):
        return "must be text"
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters (OCPP's limits), not {len(password)}"
    if not all(33 <= ord(char) <= 126 for char in password):
        return "only printable ASCII without spaces"
    return None


MASK = "********"
# Configuration keys (1.6) and variables (2.0.1) whose value is the charger's password.
SECRET_KEYS = frozenset({"AuthorizationKey", "BasicAuthPassword"})


def mask_secrets(value: Any) -> tuple[Any, bool]:
    """The value with every secret masked, and whether there was one."""
    if isinstance(value, list):
        items = [mask_secrets(item) for item in value]
        return [item for item, _ in items], any(found for _, found in items)
    if not isinstance(value, dict):
        return value, False
    found = False
    masked = {}
    for name, item in value.items():
        if "password" in name.lower() and isinstance(item, str):
            masked[name], found = MASK, True
        else:
            masked[name], inner = mask_secrets(item)
            found = found or inner
    # 1.6 ChangeConfiguration / GetConfiguration: {"key": "AuthorizationKey", "value": ...}
    key = masked.get("key")
    if isinstance(key, str) and key in SECRET_KEYS and isinstance(masked.get("value"), str):
        masked["value"], found = MASK, True
    # 2.0.1 SetVariables / GetVariables: {"variable": {"name": "BasicAuthPassword"}, "attributeValue": ...}
    variable = masked.get("variable")
    name = variable.get("name") if isinstance(variable, dict) else None
    if isinstance(name, str) and name in SECRET_KEYS and isinstance(masked.get("attributeValue"), str):
        masked["attributeValue"], found = MASK, True
    return masked, found
