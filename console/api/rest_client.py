"""A small Python client of the REST API, for scripts: `ApiClient`.

    from console.api.rest_client import ApiClient

    with ApiClient("http://depot-box:8080", key) as api:
        for charger in api.chargers(location_id="loc-depot", status="available"):
            print(charger["identity"])
        action = api.command("dep-a01", "charge", start="2026-05-07T22:00:00Z", parameters={"powerLimit": 7.4})
        api.start("CP-A01")                       # control endpoints take the identity
        for item in api.actions(charger="CP-A01", state="failed"):
            print(item["id"], item["command"], item["keyId"])

Every POST carries an Idempotency-Key (a new UUID unless one is given), and a
POST that could not reach the server or got 503 is sent again with the same key,
so a retry never creates a second action. An error answer raises `ApiError` with
the envelope's code, message, details and request id. Lists are read page by page.
(The console's attach mode uses `console.api.client.RemoteBackend` instead: the
UI's `Backend` interface over the same API.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

RETRIED_STATUSES = (502, 503, 504)


class ApiError(Exception):
    """An error answer: its HTTP status and the envelope's code, message, details and request id."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, str]] | None, request_id: str | None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id


class ApiClient:
    """The REST API of `ocpp-console serve`, with one API key; use it as a context manager (or call `close`)."""

    def __init__(self, url: str, key: str, *, timeout: float = 10.0, retries: int = 2, backoff_s: float = 0.5) -> None:
        self.retries = retries
        self.backoff_s = backoff_s
        self._http = httpx.Client(base_url=url.rstrip("/"), headers={"x-api-key": key}, timeout=timeout)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the charger deployment API ---------------------------------------------------

    def chargers(self, *, location_id: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Every charger of the key's organization (the seed's charger objects), narrowed by location and live status."""
        found: list[dict[str, Any]] = []
        while True:
            response = self._request("GET", "/ocpp/chargers", params={"location_id": location_id, "status": status, "offset": len(found), "limit": 500})
            found += response.json()
            if len(found) >= int(response.headers["X-Total-Count"]) or not response.json():
                return found

    def charger(self, charger_id: str) -> dict[str, Any]:
        return self._request("GET", f"/ocpp/chargers/{charger_id}").json()

    def start(self, identity: str) -> dict[str, Any]:
        """Start a simulated charger's runtime (by identity or internal id)."""
        return self._post(f"/ocpp/chargers/{identity}/start")

    def stop(self, identity: str) -> dict[str, Any]:
        return self._post(f"/ocpp/chargers/{identity}/stop")

    def restart(self, identity: str) -> dict[str, Any]:
        """A simulated charger's runtime restarts; a real charger is sent an OCPP Reset."""
        return self._post(f"/ocpp/chargers/{identity}/restart")

    def transactions(self, identity: str, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """A charger's charging sessions, newest first."""
        return self._request("GET", f"/ocpp/chargers/{identity}/transactions", params={"limit": limit, "offset": offset}).json()

    def transaction(self, transaction_id: int) -> dict[str, Any]:
        """One session with its meter values (and signed readings)."""
        return self._request("GET", f"/transactions/{transaction_id}").json()

    def meter_values_csv(self, transaction_id: int) -> str:
        return self._request("GET", f"/transactions/{transaction_id}/meter-values.csv").text

    # -- the EV charger device API -----------------------------------------------------

    def command(
        self,
        device_id: str,
        command: str,
        *,
        parameters: dict[str, Any] | None = None,
        execution: str | None = None,
        start: str | None = None,
        end: str | None = None,
        on_conflict: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Send `charge` or `idle`; returns the action. The same `idempotency_key` never makes a second one."""
        body = {"command": command, "parameters": parameters, "execution": execution, "start": start, "end": end, "onConflict": on_conflict}
        body = {name: value for name, value in body.items() if value is not None}
        return self._post(f"/ev-charger/{device_id}", body, idempotency_key)["data"]

    def action(self, action_id: str) -> dict[str, Any]:
        return self._request("GET", f"/actions/{action_id}").json()["data"]

    def cancel(self, action_id: str) -> dict[str, Any]:
        return self._post(f"/actions/{action_id}/cancel")["data"]

    def actions(
        self,
        *,
        charger: str | None = None,
        command: str | None = None,
        state: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The organization's actions, newest first, read 50 at a time."""
        offset = 0
        while True:
            params = {"charger": charger, "command": command, "state": state, "since": since, "until": until, "offset": offset, "limit": 50}
            page = self._request("GET", "/actions", params=params).json()["data"]
            yield from page["items"]
            if not page["pagination"]["hasMore"]:
                return
            offset += len(page["items"])

    # -- API keys (admin) -------------------------------------------------------------

    def keys(self) -> list[dict[str, Any]]:
        return self._request("GET", "/keys", params={"limit": 500}).json()["data"]["items"]

    def create_key(self, *, label: str | None = None, scopes: list[str] | None = None, expires_at: str | None = None) -> dict[str, Any]:
        """A new key of the organization; its `key` is in this answer only."""
        body: dict[str, Any] = {"label": label, "expiresAt": expires_at}
        if scopes is not None:
            body["scopes"] = scopes
        return self._post("/keys", body)["data"]

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        return self._request("DELETE", f"/keys/{key_id}").json()["data"]

    # -- OCPP operations (the console's catalogue) -------------------------------------

    def charger_id(self, name: str) -> str:
        """A charger's id from its identity (or its id)."""
        for charger in self._request("GET", "/console/chargers").json():
            if name in (charger["identity"], charger["id"]):
                return charger["id"]
        return name

    def operations(self, charger_id: str) -> list[dict[str, Any]]:
        """What the charger's version takes, each operation with its parameters."""
        return self._request("GET", f"/console/chargers/{charger_id}/operations").json()

    def operate(self, charger_id: str, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one operation (its slug, e.g. trigger-message) with its parameters; returns the outcome."""
        return self._post(f"/console/chargers/{charger_id}/operations/{operation}", params or {})

    def raw_operation(self, charger_id: str, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send an operation's OCPP payload as given."""
        return self._post(f"/console/chargers/{charger_id}/operations", {"operation": operation, "payload": payload})

    # -- the wire ---------------------------------------------------------------------

    def _post(self, path: str, body: Any = None, idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        for attempt in range(self.retries + 1):
            try:
                return self._request("POST", path, json=body, headers=headers).json()
            except (httpx.TransportError, ApiError) as error:
                retried = isinstance(error, httpx.TransportError) or error.status in RETRIED_STATUSES
                if not retried or attempt == self.retries:
                    raise
                time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        query = {name: value for name, value in (params or {}).items() if value is not None}
        response = self._http.request(method, path, params=query, **kwargs)
        if response.is_error:
            try:
                envelope = response.json()
                error = envelope["error"]
                request_id = envelope.get("meta", {}).get("requestId")
            except (ValueError, KeyError, TypeError):
                error, request_id = {"code": "HTTP_ERROR", "message": response.text[:200]}, None
            raise ApiError(response.status_code, error.get("code", "ERROR"), error.get("message", ""), error.get("details"), request_id)
        return response
