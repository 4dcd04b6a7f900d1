"""The one interface every front end talks to: core's front door.

The embedded console gets the in-process `ConsoleService`; attach mode gets an
HTTP client with the same methods. The UI never reaches past this. The front
door is this module and the light ones it names (`views`, `events`, `errors`,
`ports`, `clock`, `chargerevents`, `catalogue`): plain types only, so a front end loads
neither the store (SQLAlchemy) nor the `ocpp` package (import-linter's
contracts in pyproject.toml, and tests/test_front_door.py, hold it).
"""

from __future__ import annotations

from typing import Any, Protocol

from console.core.catalogue import OperationSpec
from console.core.events import Subscription
from console.core.ports import OperatorControls
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


class Backend(OperatorControls, Protocol):
    @property
    def info(self) -> BackendInfo: ...

    async def list_chargers(self) -> list[ChargerView]: ...

    async def get_charger(self, charger_id: str) -> ChargerView: ...

    async def list_locations(self) -> list[LocationView]: ...

    async def check_charger(
        self, fields: dict[str, Any], charger_id: str | None = None
    ) -> dict[str, str]:
        """Validate without saving: field name -> problem (empty when all good)."""
        ...

    async def create_charger(self, fields: dict[str, Any]) -> ChargerView: ...

    async def update_charger(self, charger_id: str, fields: dict[str, Any]) -> ChargerView: ...

    async def delete_charger(self, charger_id: str) -> None: ...

    async def start_charger(self, charger_id: str) -> str:
        """Start the charger's runtime; returns what happened, in words."""
        ...

    async def stop_charger(self, charger_id: str) -> str: ...

    async def restart_charger(self, charger_id: str) -> str: ...

    async def charger_logs(self, charger_id: str, limit: int = 200) -> list[LogView]:
        """The charger's latest log lines, oldest first."""
        ...

    async def list_actions(self, charger_id: str | None = None, limit: int = 200) -> list[ActionView]:
        """Newest first: one charger's history, or the fleet's when no charger is given."""
        ...

    async def list_transactions(self, charger_id: str, limit: int = 100) -> list[TransactionView]: ...

    async def export_transaction(self, charger_id: str, transaction_id: int) -> dict[str, Any]:
        """A session with all its meter values, signed ones verbatim: {transaction, meter_values, signed_meter_values}."""
        ...

    async def fleet_logs(self, limit: int = 500) -> list[LogView]: ...

    async def charger_events(
        self, charger_id: str, limit: int = 200, kind: str | None = None, severity: str | None = None
    ) -> list[ChargerEventView]:
        """What the charger told about itself, newest first; `kind` and `severity` narrow it."""
        ...

    async def fleet_events(self, limit: int = 200, kind: str | None = None, severity: str | None = None) -> list[ChargerEventView]:
        """Every charger's events, newest first."""
        ...

    async def power_history(self, charger_id: str, minutes: int = 15) -> list[PowerSample]: ...

    async def list_unknown(self) -> list[UnknownChargerView]: ...

    async def accept_unknown(self, identity: str, ocpp_version: str = OcppVersion.V16) -> ChargerView: ...

    async def reject_unknown(self, identity: str) -> None: ...

    async def accept_charger(self, charger_id: str) -> ChargerView: ...

    async def reject_charger(self, charger_id: str) -> ChargerView: ...

    async def set_location_cap(self, location_id: str, power_cap_kw: float | None) -> LocationView: ...

    # -- id tokens (the organization's: the embedded console's default one, an API key's) --------

    async def list_tokens(self) -> list[TokenView]: ...

    async def save_token(
        self, fields: dict[str, Any], token_id: str | None = None, *, stop_sessions: bool = False
    ) -> TokenView:
        """Create a token (no `token_id`) or change the fields given; ValidationFailed names every bad field."""
        ...

    async def delete_token(self, token_id: str) -> TokenView | None: ...

    async def import_token_file(self, text: str) -> int:
        """A CSV token file, whole or not at all (the error lists every bad row); returns the rows written."""
        ...

    # -- commands and actions ------------------------------------------------------------

    def charger_commands(self) -> dict[str, Any]:
        """The seed's `commands` object: each command with its parameters and execution modes."""
        ...

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
        """`charge` or `idle`, now, at `start`, or within `start`..`end` (ISO 8601 or "30m", "2h")."""
        ...

    async def cancel_action(self, action_id: str) -> ActionView: ...

    async def get_action(self, action_id: str) -> ActionView: ...

    # -- OCPP operations on one charger (each recorded as an action) -------------------------

    async def reset(self, charger_id: str, hard: bool = False) -> OperationResult: ...

    async def unlock(self, charger_id: str, connector_id: int) -> OperationResult: ...

    async def change_availability(self, charger_id: str, connector_id: int, operative: bool) -> OperationResult: ...

    # -- simulated chargers (and the lab controls of OperatorControls) ------------------------

    async def location_runtime(self, location_id: str, command: str) -> list[str]:
        """start, stop or restart every simulated charger at a location."""
        ...

    def subscribe(self) -> Subscription: ...

    # -- every operation of the catalogue (console/core/catalogue.py), each recorded as an action -----

    async def operation_catalogue(self, charger_id: str) -> list[OperationSpec]:
        """The operations the charger's OCPP version takes, each with the parameters an operator fills in."""
        ...

    async def run_operation(self, charger_id: str, operation: str, params: dict[str, Any] | None = None) -> OperationResult:
        """One operation (OCPP name or slug) with its parameters; ValidationFailed names a bad one, nothing sent."""
    # -- a charger's configuration (kept; fetched and changed on demand) ----------------------

    async def charger_configuration(self, charger_id: str) -> ConfigurationView:
        """As last fetched: nothing is asked of the charger."""
        ...

    async def refresh_configuration(self, charger_id: str) -> ConfigurationView:
        """Fetch it all again (1.6 GetConfiguration, 2.0.1 GetBaseReport); `problem` says what fell short."""
        ...

    async def change_configuration(self, charger_id: str, key: str, value: str, confirmed: bool = False) -> OperationResult:
        """One key; read-only ones are refused, ones that can strand the charger need `confirmed` (CommandRefused
        CONFIRMATION_REQUIRED otherwise)."""
        ...

    # -- reservations, the composite schedule, the profiles the console installed ---------------

    async def list_reservations(self, charger_id: str | None = None) -> list[ReservationView]:
        """Newest first, an accepted one past its expiry as expired."""
        ...

    async def reserve(self, charger_id: str, connector_id: int, id_tag: str, expires: str) -> ReservationView:
        """ReserveNow of a connector (0: any) for a token until `expires` (ISO 8601 or "30m", "2h")."""
        ...

    async def cancel_reservation(self, charger_id: str, reservation_id: int) -> ReservationView: ...

    async def composite_schedule(self, charger_id: str, connector_id: int = 0, duration_s: int = 3600) -> CompositeScheduleView:
        """GetCompositeSchedule: what the charger will draw at most, period by period."""
        ...

    async def installed_profiles(self, charger_id: str) -> list[ProfileView]: ...

    async def clear_profile(self, charger_id: str, profile_id: int) -> OperationResult: ...

    async def local_list(self, charger_id: str) -> LocalListView:
        """The local authorization list version the charger was last given, and whether it is the registry now."""
    # -- the depot planner -------------------------------------------------------------------

    async def location_plan(self, location_id: str) -> dict[str, Any]:
        """The location's plan as GET /locations/{id}/plan gives it: settings, sessions, power per slot."""
        ...

    async def set_location_planner(self, location_id: str, enabled: bool) -> dict[str, Any]:
        """Switch the planner on, or off (equal shares of the cap)."""
        ...

    async def pin_session(self, charger_id: str, connector_id: int, pinned: bool) -> None:
        """Charge a session at full power now (pinned), or back to the plan."""
        ...

    async def set_location_tariff(self, location_id: str, tariff: list[float] | None) -> dict[str, Any]:
        """Set (96 prices per kWh from 00:00 UTC) or remove the location's tariff; the plan after it."""
        ...
