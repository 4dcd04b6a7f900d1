"""Attach mode: the `Backend` interface over HTTP, against a headless server.

Every method is one request; an error answer becomes the same domain error the
in-process service raises (NotFound, ValidationFailed with its problems,
Unavailable, CommandRefused), and a lost server becomes Unavailable, so the UI
behaves the same either way. `subscribe()` follows GET /events and, when the
server is lost, says so (ServerLost, and a Notice to read), reconnects with
backoff, re-sends every charger so the UI catches up on what it missed, and says
so again (ServerBack).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from console.api.wire import TOKEN_WIRE_FIELDS, charger_from_dict, configuration_from_dict, schedule_from_dict, decode_event, from_dict, parse_time, token_from_wire
from console.core.catalogue import OperationSpec, find
from console.core.errors import CommandRefused, ConsoleError, NotFound, Unavailable, ValidationFailed
from console.core.events import ChargerRemoved, ChargerUpdated, EventBus, Notice, ServerBack, ServerLost, StoreHealth, Subscription
from console.core.versions import OcppVersion
from console.core.views import (
    ActionView,
    BackendInfo,
    ChargerEventView,
    ChargerView,
    CompositeScheduleView,
    ConfigurationView,
    LocalListView,
    LocationView,
    LogView,
    OperationResult,
    PowerSample,
    ProfileView,
    ReservationView,
    TokenView,
    TransactionView,
    UnknownChargerView,
)

log = logging.getLogger("console.api.client")

GENERIC_CODES = {"NOT_FOUND", "VALIDATION_ERROR", "UNAVAILABLE", "UNAUTHORIZED", "INTERNAL_ERROR"}


# The registry's field names on the wire.
WIRE_NAMES = {field: wire for wire, field in TOKEN_WIRE_FIELDS.items()}


def domain_error(response: httpx.Response) -> ConsoleError:
    """The domain error an error answer stands for."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = str(error.get("code") or "ERROR")
    message = str(error.get("message") or f"HTTP {response.status_code}")
    if response.status_code == 404:
        return NotFound(message)
    if response.status_code == 401:
        return Unavailable(f"the server refused the API key: {message}")
    if code == "VALIDATION_ERROR":
        details = error.get("details") or []
        problems = {str(item.get("field")): str(item.get("message")) for item in details if isinstance(item, dict)}
        return ValidationFailed(problems or {"request": message})
    if code == "UNAVAILABLE":
        return Unavailable(message)
    if response.status_code in (409, 422) and code not in GENERIC_CODES:
        fields = [str(item["field"]) for item in error.get("details") or [] if isinstance(item, dict) and item.get("field")]
        return CommandRefused(code, message, field=fields[0] if fields else None)
    return Unavailable(f"the server answered {response.status_code}: {message}")


class RemoteSubscription(Subscription):
    """The core's Subscription (same queue, same superseding), fed by the server's event stream."""

    def __init__(self, backend: RemoteBackend, max_pending: int = 50_000) -> None:
        # A private bus nobody publishes to: the events come from the stream task.
        super().__init__(EventBus(), max_pending)
        self._backend = backend
        self._known: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        with contextlib.suppress(RuntimeError):  # no loop yet: started by the first read
            self._task = asyncio.get_running_loop().create_task(self._follow(), name="remote events")

    def _ensure_started(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._follow(), name="remote events")

    async def next_batch(self) -> list[Any]:
        self._ensure_started()
        return await super().next_batch()

    async def __anext__(self) -> Any:
        self._ensure_started()
        return await super().__anext__()

    def close(self) -> None:
        super().close()
        if self._task is not None:
            self._task.cancel()

    def _deliver(self, event: Any) -> None:
        if isinstance(event, ChargerUpdated):
            self._known.add(event.charger.id)
        elif isinstance(event, ChargerRemoved):
            self._known.discard(event.charger_id)
        elif isinstance(event, StoreHealth):  # the header says it, as it does in process
            self._backend._info = replace(self._backend._info, store_unavailable=event.reason)
        elif isinstance(event, (ServerLost, ServerBack)):
            self._backend._info = replace(self._backend._info, server_lost=event.url if isinstance(event, ServerLost) else None)
        self._put(event)

    async def _follow(self) -> None:
        delays = self._backend.reconnect_delays
        failures = 0
        lost = False
        while not self._closed:
            try:
                async for name, data in self._backend._event_stream():
                    if name is None:  # the stream is open
                        if lost:
                            await self._catch_up()
                            self._deliver(ServerBack(self._backend.base_url))
                            self._deliver(Notice(f"reconnected to {self._backend.base_url}"))
                        lost, failures = False, 0
                        continue
                    event = decode_event(name, data)
                    if event is not None:
                        self._deliver(event)
            except asyncio.CancelledError:
                raise
            except (httpx.HTTPError, ConsoleError, ValueError, KeyError) as error:
                log.info("event stream from %s: %r", self._backend.base_url, error)
            if self._closed:
                return
            if not lost:
                lost = True
                self._deliver(ServerLost(self._backend.base_url))
                self._deliver(
                    Notice(f"lost the server at {self._backend.base_url}; reconnecting", "warning")
                )
            await asyncio.sleep(delays[min(failures, len(delays) - 1)])
            failures += 1

    async def _catch_up(self) -> None:
        """After a gap: every charger as it is now, and the ones gone meanwhile removed."""
        chargers = await self._backend.list_chargers()
        present = {charger.id for charger in chargers}
        for charger_id in sorted(self._known - present):
            self._deliver(ChargerRemoved(charger_id=charger_id, identity=charger_id))
        for charger in chargers:
            self._deliver(ChargerUpdated(charger))


class RemoteBackend:
    """The `Backend` of a headless server at `base_url`, authenticated with an API key."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        timeout: float = 15.0,
        reconnect_delays: tuple[float, ...] = (0.5, 1, 2, 4, 8),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.reconnect_delays = reconnect_delays
        self._headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport
        )
        self._stream_timeout = httpx.Timeout(timeout, read=None)
        self._info = BackendInfo(mode="attached", ocpp_url="", store=self.base_url)
        self._commands: dict[str, Any] = {}
        # The id of the last event read: a reconnected stream starts after it (the server replays what was missed).
        self._last_event_id: str | None = None

    async def connect(self) -> BackendInfo:
        """Check the key and learn what the server is; call once before handing the backend to the UI."""
        data = await self._get("/console/info")
        self._info = BackendInfo(
            mode="attached",
            ocpp_url=data.get("ocpp_url", ""),
            store=f"{self.base_url} ({data.get('store', '')})",
            read_only=bool(data.get("read_only", False)),
            store_unavailable=data.get("store_unavailable"),
            frames_since=parse_time(data.get("frames_since")),
            samples_since=parse_time(data.get("samples_since")),
        )
        self._commands = await self._get("/console/commands")
        return self._info

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def info(self) -> BackendInfo:
        return self._info

    # -- the wire --------------------------------------------------------------------

    async def _call(self, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        try:
            response = await send()
        except httpx.HTTPError as error:
            raise Unavailable(f"cannot reach the server at {self.base_url}: {error or type(error).__name__}") from error
        if response.is_error:
            raise domain_error(response)
        return response

    async def _get(self, path: str, **params: Any) -> Any:
        query = {name: value for name, value in params.items() if value is not None}
        return (await self._call(lambda: self._client.get(path, params=query))).json()

    async def _post(self, path: str, body: Any = None) -> Any:
        response = await self._call(lambda: self._client.post(path, json=body))
        return response.json() if response.content else None

    async def _put(self, path: str, body: Any) -> Any:
        return (await self._call(lambda: self._client.put(path, json=body))).json()

    async def _delete(self, path: str) -> None:
        await self._call(lambda: self._client.delete(path))

    async def _event_stream(self) -> Any:
        """(None, None) once the stream is open, then (event name, data) per server-sent event."""
        headers = {"Accept": "text/event-stream"}
        if self._last_event_id is not None:
            headers["Last-Event-ID"] = self._last_event_id
        async with self._client.stream("GET", "/events", headers=headers, timeout=self._stream_timeout) as response:
            if response.is_error:
                await response.aread()
                raise domain_error(response)
            yield None, None
            name, data, event_id = "message", [], None
            async for line in response.aiter_lines():
                if line == "":
                    if data:
                        yield name, json.loads("\n".join(data))
                        if event_id is not None:
                            self._last_event_id = event_id
                    name, data, event_id = "message", [], None
                elif line.startswith(":"):
                    continue
                elif line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
        raise httpx.RemoteProtocolError("the server ended the event stream")

    @staticmethod
    def _path(value: str) -> str:
        return quote(value, safe="")

    # -- Backend ---------------------------------------------------------------------

    async def list_chargers(self) -> list[ChargerView]:
        return [charger_from_dict(item) for item in await self._get("/console/chargers")]

    async def get_charger(self, charger_id: str) -> ChargerView:
        return charger_from_dict(await self._get(f"/console/chargers/{self._path(charger_id)}"))

    async def list_locations(self) -> list[LocationView]:
        return [from_dict(LocationView, item) for item in await self._get("/console/locations")]

    async def check_charger(self, fields: dict[str, Any], charger_id: str | None = None) -> dict[str, str]:
        answer = await self._post("/console/chargers/check", {"fields": fields, "charger_id": charger_id})
        return dict(answer["problems"])

    async def create_charger(self, fields: dict[str, Any]) -> ChargerView:
        return charger_from_dict(await self._post("/console/chargers", fields))

    async def update_charger(self, charger_id: str, fields: dict[str, Any]) -> ChargerView:
        return charger_from_dict(await self._put(f"/console/chargers/{self._path(charger_id)}", fields))

    async def delete_charger(self, charger_id: str) -> None:
        await self._delete(f"/ocpp/chargers/{self._path(charger_id)}")

    async def _runtime(self, charger_id: str, command: str) -> str:
        return str((await self._post(f"/ocpp/chargers/{self._path(charger_id)}/{command}"))["message"])

    async def start_charger(self, charger_id: str) -> str:
        return await self._runtime(charger_id, "start")

    async def stop_charger(self, charger_id: str) -> str:
        return await self._runtime(charger_id, "stop")

    async def restart_charger(self, charger_id: str) -> str:
        return await self._runtime(charger_id, "restart")

    async def charger_logs(self, charger_id: str, limit: int = 200) -> list[LogView]:
        items = await self._get(f"/console/chargers/{self._path(charger_id)}/logs", limit=limit)
        return [from_dict(LogView, item) for item in items]

    async def list_actions(self, charger_id: str | None = None, limit: int = 200) -> list[ActionView]:
        return [from_dict(ActionView, item) for item in await self._get("/console/actions", charger_id=charger_id, limit=limit)]

    async def list_transactions(self, charger_id: str, limit: int = 100) -> list[TransactionView]:
        items = await self._get(f"/console/chargers/{self._path(charger_id)}/transactions", limit=limit)
        return [from_dict(TransactionView, item) for item in items]

    async def export_transaction(self, charger_id: str, transaction_id: int) -> dict[str, Any]:
        return dict(await self._get(f"/console/chargers/{self._path(charger_id)}/transactions/{transaction_id}/export"))

    async def fleet_logs(self, limit: int = 500) -> list[LogView]:
        return [from_dict(LogView, item) for item in await self._get("/console/logs", limit=limit)]

    async def charger_events(
        self, charger_id: str, limit: int = 200, kind: str | None = None, severity: str | None = None
    ) -> list[ChargerEventView]:
        items = await self._get("/console/events", charger_id=charger_id, limit=limit, kind=kind, severity=severity)
        return [from_dict(ChargerEventView, item) for item in items]

    async def fleet_events(self, limit: int = 200, kind: str | None = None, severity: str | None = None) -> list[ChargerEventView]:
        items = await self._get("/console/events", limit=limit, kind=kind, severity=severity)
        return [from_dict(ChargerEventView, item) for item in items]

    async def power_history(self, charger_id: str, minutes: int = 15) -> list[PowerSample]:
        items = await self._get(f"/console/chargers/{self._path(charger_id)}/power", minutes=minutes)
        return [from_dict(PowerSample, item) for item in items]

    async def list_unknown(self) -> list[UnknownChargerView]:
        return [from_dict(UnknownChargerView, item) for item in await self._get("/console/unknown")]

    async def accept_unknown(self, identity: str, ocpp_version: str = OcppVersion.V16) -> ChargerView:
        return charger_from_dict(
            await self._post(f"/console/unknown/{self._path(identity)}/accept", {"ocpp_version": ocpp_version})
        )

    async def reject_unknown(self, identity: str) -> None:
        await self._post(f"/console/unknown/{self._path(identity)}/reject")

    async def accept_charger(self, charger_id: str) -> ChargerView:
        return charger_from_dict(await self._post(f"/console/chargers/{self._path(charger_id)}/accept"))

    async def reject_charger(self, charger_id: str) -> ChargerView:
        return charger_from_dict(await self._post(f"/console/chargers/{self._path(charger_id)}/reject"))

    async def set_location_cap(self, location_id: str, power_cap_kw: float | None) -> LocationView:
        answer = await self._put(f"/console/locations/{self._path(location_id)}/cap", {"power_cap_kw": power_cap_kw})
        return from_dict(LocationView, answer)

    # -- id tokens: /tokens, in the envelope ----------------------------------------------

    async def list_tokens(self) -> list[TokenView]:
        tokens: list[TokenView] = []
        while True:
            page = (await self._get("/tokens", limit=500, offset=len(tokens)))["data"]
            tokens += [token_from_wire(item) for item in page["items"]]
            if not page["pagination"]["hasMore"]:
                return tokens

    async def save_token(
        self, fields: dict[str, Any], token_id: str | None = None, *, stop_sessions: bool = False
    ) -> TokenView:
        body = {WIRE_NAMES[name]: value for name, value in fields.items()}
        if token_id is None:
            answer = await self._post("/tokens", body)
        else:
            path = f"/tokens/{self._path(token_id)}"
            params = {"stopSessions": "true"} if stop_sessions else {}
            answer = (await self._call(lambda: self._client.put(path, json=body, params=params))).json()
        return token_from_wire(answer["data"])

    async def delete_token(self, token_id: str) -> None:
        await self._delete(f"/tokens/{self._path(token_id)}")

    async def import_token_file(self, text: str) -> int:
        send = lambda: self._client.post("/tokens/import", content=text.encode(), headers={"Content-Type": "text/csv"})  # noqa: E731
        return int((await self._call(send)).json()["data"]["imported"])

    def charger_commands(self) -> dict[str, Any]:
        """As learned at connect()."""
        return {name: {"parameters": dict(spec["parameters"]), "execution": list(spec["execution"])} for name, spec in self._commands.items()}

    async def send_command(
        self,
        charger_id: str,
        command: str,
        parameters: dict[str, Any] | None = None,
        execution: str | None = None,
        start: str | None = None,
        end: str | None = None,
        on_conflict: str | None = None,
    ) -> ActionView:
        body = {
            "command": command,
            "parameters": parameters,
            "execution": execution,
            "start": start,
            "end": end,
            "on_conflict": on_conflict,
        }
        return from_dict(ActionView, await self._post(f"/console/chargers/{self._path(charger_id)}/commands", body))

    async def cancel_action(self, action_id: str) -> ActionView:
        return from_dict(ActionView, await self._post(f"/console/actions/{self._path(action_id)}/cancel"))

    async def get_action(self, action_id: str) -> ActionView:
        return from_dict(ActionView, await self._get(f"/console/actions/{self._path(action_id)}"))

    async def reset(self, charger_id: str, hard: bool = False) -> OperationResult:
        return from_dict(OperationResult, await self._post(f"/console/chargers/{self._path(charger_id)}/reset", {"hard": hard}))

    async def unlock(self, charger_id: str, connector_id: int) -> OperationResult:
        answer = await self._post(f"/console/chargers/{self._path(charger_id)}/unlock", {"connector_id": connector_id})
        return from_dict(OperationResult, answer)

    async def change_availability(self, charger_id: str, connector_id: int, operative: bool) -> OperationResult:
        answer = await self._post(
            f"/console/chargers/{self._path(charger_id)}/availability", {"connector_id": connector_id, "operative": operative}
        )
        return from_dict(OperationResult, answer)

    async def location_runtime(self, location_id: str, command: str) -> list[str]:
        answer = await self._post(f"/console/locations/{self._path(location_id)}/runtime", {"command": command})
        return [str(message) for message in answer["messages"]]

    # -- simulated chargers (lab controls) ----------------------------------------------------

    async def _control(self, charger_id: str, control: str, **fields: Any) -> str:
        body = {"control": control, **{name: value for name, value in fields.items() if value is not None}}
        answer = await self._post(f"/console/chargers/{self._path(charger_id)}/simulator", body)
        return str(answer["message"])

    async def plug_in(
        self, charger_id: str, connector_id: int, soc: float | None = None, battery_kwh: float | None = None
    ) -> str:
        return await self._control(charger_id, "plug_in", connector_id=connector_id, soc=soc, battery_kwh=battery_kwh)

    async def unplug(self, charger_id: str, connector_id: int) -> str:
        return await self._control(charger_id, "unplug", connector_id=connector_id)

    async def present_id_tag(self, charger_id: str, connector_id: int, id_tag: str) -> str:
        return await self._control(charger_id, "present_id_tag", connector_id=connector_id, id_tag=id_tag)

    async def inject_fault(self, charger_id: str, connector_id: int, error_code: str = "OtherError") -> str:
        return await self._control(charger_id, "inject_fault", connector_id=connector_id, error_code=error_code)

    async def clear_fault(self, charger_id: str, connector_id: int) -> str:
        return await self._control(charger_id, "clear_fault", connector_id=connector_id)

    async def drop_connection(self, charger_id: str) -> str:
        return await self._control(charger_id, "drop_connection")

    def subscribe(self) -> Subscription:
        return RemoteSubscription(self)

    async def operation_catalogue(self, charger_id: str) -> list[OperationSpec]:
        return [OperationSpec.from_dict(item) for item in await self._get(f"/console/chargers/{self._path(charger_id)}/operations")]

    async def run_operation(self, charger_id: str, operation: str, params: dict[str, Any] | None = None) -> OperationResult:
        slug = find(operation).slug
        answer = await self._post(f"/console/chargers/{self._path(charger_id)}/operations/{slug}", dict(params or {}))
        return from_dict(OperationResult, answer)
    # -- configuration ---------------------------------------------------------------------

    async def charger_configuration(self, charger_id: str) -> ConfigurationView:
        return configuration_from_dict(await self._get(f"/console/chargers/{self._path(charger_id)}/configuration"))

    async def refresh_configuration(self, charger_id: str) -> ConfigurationView:
        return configuration_from_dict(await self._post(f"/console/chargers/{self._path(charger_id)}/configuration/refresh"))

    async def change_configuration(self, charger_id: str, key: str, value: str, confirmed: bool = False) -> OperationResult:
        body = {"key": key, "value": value, "confirm": confirmed}
        return from_dict(OperationResult, await self._put(f"/console/chargers/{self._path(charger_id)}/configuration", body))

    # -- reservations, composite schedule, installed profiles ----------------------------------

    async def list_reservations(self, charger_id: str | None = None) -> list[ReservationView]:
        params = {} if charger_id is None else {"charger_id": charger_id}
        return [from_dict(ReservationView, item) for item in await self._get("/console/reservations", **params)]

    async def reserve(self, charger_id: str, connector_id: int, id_tag: str, expires: str) -> ReservationView:
        body = {"connector_id": connector_id, "id_tag": id_tag, "expires": expires}
        return from_dict(ReservationView, await self._post(f"/console/chargers/{self._path(charger_id)}/reservations", body))

    async def cancel_reservation(self, charger_id: str, reservation_id: int) -> ReservationView:
        path = f"/console/chargers/{self._path(charger_id)}/reservations/{reservation_id}/cancel"
        return from_dict(ReservationView, await self._post(path))

    async def composite_schedule(self, charger_id: str, connector_id: int = 0, duration_s: int = 3600) -> CompositeScheduleView:
        body = {"connector_id": connector_id, "duration_s": duration_s}
        return schedule_from_dict(await self._post(f"/console/chargers/{self._path(charger_id)}/composite-schedule", body))

    async def installed_profiles(self, charger_id: str) -> list[ProfileView]:
        return [from_dict(ProfileView, item) for item in await self._get(f"/console/chargers/{self._path(charger_id)}/profiles")]

    async def clear_profile(self, charger_id: str, profile_id: int) -> OperationResult:
        path = f"/console/chargers/{self._path(charger_id)}/profiles/{profile_id}"
        return from_dict(OperationResult, (await self._call(lambda: self._client.delete(path))).json())

    async def local_list(self, charger_id: str) -> LocalListView:
        return from_dict(LocalListView, await self._get(f"/console/chargers/{self._path(charger_id)}/local-list"))
    async def location_plan(self, location_id: str) -> dict[str, Any]:
        return (await self._get(f"/locations/{self._path(location_id)}/plan"))["data"]

    async def set_location_planner(self, location_id: str, enabled: bool) -> dict[str, Any]:
        return (await self._put(f"/locations/{self._path(location_id)}/plan", {"enabled": enabled}))["data"]

    async def pin_session(self, charger_id: str, connector_id: int, pinned: bool) -> None:
        await self._post(f"/chargers/{self._path(charger_id)}/connectors/{connector_id}/pin", {"pinned": pinned})

    async def set_location_tariff(self, location_id: str, tariff: list[float] | None) -> dict[str, Any]:
        return (await self._put(f"/locations/{self._path(location_id)}/plan", {"tariff": tariff}))["data"]
