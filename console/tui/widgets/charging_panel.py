"""What a charger may draw and who may charge there next (the detail's Charging tab).

Reservations with their expiry (`n` reserves, `delete` cancels the selected
one), the charging profiles the console installed (`delete` clears the
selected one), and the composite schedule the charger reports (`g` asks for
the next hour), drawn as a bar per period.
"""

from __future__ import annotations

from datetime import timedelta, tzinfo
from typing import TYPE_CHECKING

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from console.core.errors import ConsoleError
from console.core.views import CompositeScheduleView, ProfileView, ReservationView
from console.tui.format import gauge, local_stamp
from console.tui.modals.confirm import ConfirmDialog
from console.tui.modals.reservation_form import ReservationForm
from console.tui.widgets.charger_table import ChargerTable
from console.tui.widgets.paint import Readout
from console.tui.widgets.row_table import RowTable

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost

SCHEDULE_S = 3600


class ReservationTable(RowTable):
    COLUMNS = (("id", "#", 6), ("connector", "Conn", 5), ("id_tag", "Id tag", 20), ("expires", "Expires", 24), ("state", "State", 22))

    def show(self, reservations: list[ReservationView]) -> None:
        self.clear()
        for item in reservations:
            state = f"{item.state} ({item.detail})" if item.detail else item.state
            connector = str(item.connector_id or "any")
            self.add_row(str(item.id), connector, escape(item.id_tag), local_stamp(item.expires_at, self.app.zone), escape(state), key=str(item.id))


class ProfileTable(RowTable):
    COLUMNS = (("id", "Profile", 8), ("connector", "Conn", 5), ("purpose", "Purpose", 22), ("stack", "Stack", 5), ("limit", "Limit", 12), ("by", "By", 12), ("at", "Installed", 24))

    def show(self, profiles: list[ProfileView]) -> None:
        self.clear()
        for item in profiles:
            self.add_row(
                str(item.profile_id), str(item.connector_id), item.purpose, str(item.stack_level),
                f"{item.limit:g} {item.unit}", item.command, local_stamp(item.installed_at, self.app.zone), key=f"{item.profile_id}",
            )


def schedule_lines(schedule: CompositeScheduleView | None, zone: tzinfo | None = None) -> Content:
    """The composite schedule, one line a period: from when, the limit, a bar against the highest limit."""
    if schedule is None:
        return Content.styled("Schedule: g asks the charger for the next hour", "$text-muted")
    if schedule.problem or not schedule.periods:
        return Content.styled(f"Schedule: {schedule.problem or 'no periods reported'}", "$warning")
    top = max(period.limit for period in schedule.periods) or 1.0
    start = local_stamp(schedule.start, zone) if schedule.start else "now"
    where = f"connector {schedule.connector_id}" if schedule.connector_id else "the whole charger"
    lines: list[Content] = [Content.styled(f"Schedule of {where} from {start}, {schedule.duration_s or 0} s in {schedule.unit}\n", "bold $primary")]
    for period in schedule.periods:
        at = f"+{timedelta(seconds=period.start_s)}"
        filled, empty = gauge(period.limit, top, 30)
        phases = f" · {period.number_phases} ph" if period.number_phases else ""
        lines.append(Content.assemble((f"{at:>10}  ", "$text-muted"), (filled, "$accent"), (empty, "$text-disabled"), f"  {period.limit:g} {schedule.unit}{phases}\n"))
    return Content.assemble(*lines).rstrip()


class ChargingPanel(Vertical):
    BINDINGS = [
        Binding("n", "reserve", "Reserve", id="charging.reserve", tooltip="Reserve a connector for a token"),
        Binding("delete", "remove", "Cancel/clear", id="charging.remove", tooltip="Cancel the selected reservation or clear the selected profile"),
        Binding("g", "schedule", "Schedule", id="charging.schedule", tooltip="Ask the charger its composite schedule for the next hour"),
        Binding("escape", "leave", "Back", id="charging.leave", tooltip="Back to the chargers"),
    ]
    app: ConsoleHost

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.charger_id: str | None = None
        self.identity = ""
        self.schedule: CompositeScheduleView | None = None

    def compose(self) -> ComposeResult:
        yield Static("Reservations   n reserve · delete cancel the selected", classes="panel-label")
        yield ReservationTable(id="reservation-table")
        yield Static("Profiles the console installed   delete clears the selected", classes="panel-label")
        yield ProfileTable(id="profile-table")
        yield Readout(id="schedule-chart")

    def action_leave(self) -> None:
        self.screen.query_one(ChargerTable).focus()

    def clear(self) -> None:
        self.charger_id, self.schedule = None, None
        self.query_one(ReservationTable).clear()
        self.query_one(ProfileTable).clear()
        self.query_one("#schedule-chart", Readout).show(schedule_lines(None))

    def show(self, charger_id: str, identity: str, reservations: list[ReservationView], profiles: list[ProfileView]) -> None:
        if charger_id != self.charger_id:
            self.schedule = None
        self.charger_id, self.identity = charger_id, identity
        self.query_one(ReservationTable).show(reservations)
        self.query_one(ProfileTable).show(profiles)
        self.query_one("#schedule-chart", Readout).show(schedule_lines(self.schedule, self.app.zone))

    async def reload(self) -> None:
        charger_id = self.charger_id
        if charger_id is None:
            return
        backend = self.app.backend
        reservations, profiles = await backend.list_reservations(charger_id), await backend.installed_profiles(charger_id)
        if charger_id == self.charger_id:
            self.show(charger_id, self.identity, reservations, profiles)

    def action_reserve(self) -> None:
        if self.charger_id is None:
            return

        def done(held: ReservationView | None) -> None:
            if held is not None:
                severity = "information" if held.state == "accepted" else "warning"
                self.notify(f"reservation #{held.id} {held.state}" + (f": {held.detail}" if held.detail else ""), severity=severity)
                self.run_worker(self.reload(), group="charging-reload", exclusive=True)

        self.app.push_screen(ReservationForm(self.charger_id, self.identity), done)

    def action_remove(self) -> None:
        charger_id = self.charger_id
        focused = self.app.focused
        if charger_id is None or not isinstance(focused, ReservationTable | ProfileTable) or focused.row_count == 0:
            return
        key = focused.coordinate_to_cell_key(focused.cursor_coordinate).row_key.value
        if key is None:
            return
        if isinstance(focused, ReservationTable):
            question, work = f"Cancel reservation #{key} on {self.identity}?", self._cancel(charger_id, int(key))
        else:
            question, work = f"Clear charging profile {key} on {self.identity}?", self._clear(charger_id, int(key))

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(work, group="charging-change")
            else:
                work.close()

        self.app.push_screen(ConfirmDialog(question, "Yes"), answered)

    async def _cancel(self, charger_id: str, reservation_id: int) -> None:
        try:
            cancelled = await self.app.backend.cancel_reservation(charger_id, reservation_id)
        except ConsoleError as error:
            self.notify(str(error), title="Not cancelled", severity="error")
            return
        self.notify(f"reservation #{cancelled.id} {cancelled.state}")
        await self.reload()

    async def _clear(self, charger_id: str, profile_id: int) -> None:
        try:
            result = await self.app.backend.clear_profile(charger_id, profile_id)
        except ConsoleError as error:
            self.notify(str(error), title="Not cleared", severity="error")
            return
        severity = "information" if result.state == "acknowledged" else "warning"
        self.notify(f"profile {profile_id}: {result.status or result.detail or result.state}", severity=severity)
        await self.reload()

    def action_schedule(self) -> None:
        if self.charger_id is not None:
            self.run_worker(self._schedule(self.charger_id), group="charging-schedule", exclusive=True)

    async def _schedule(self, charger_id: str) -> None:
        try:
            schedule = await self.app.backend.composite_schedule(charger_id, 0, SCHEDULE_S)
        except ConsoleError as error:
            self.notify(str(error), title="No schedule", severity="error")
            return
        if charger_id == self.charger_id:
            self.schedule = schedule
            self.query_one("#schedule-chart", Readout).show(schedule_lines(schedule, self.app.zone))
