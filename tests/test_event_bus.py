"""The event bus: what each subscriber takes, and what a subscriber that falls behind loses."""

from __future__ import annotations

from datetime import datetime, timezone

from console.core.events import ActionChanged, ChargerUpdated, EventBus, LogAppended, Notice
from console.core.views import ActionSummary, ChargerView, LogView

AT = datetime(2026, 4, 2, 9, 15, tzinfo=timezone.utc)


def charger(number: int) -> ChargerView:
    return ChargerView(
        id=f"dep-{number}", identity=f"CP-{number}", name=None, vendor_name=None, model=None, image_url=None,
        ocpp_version="OCPP1.6", number_of_connectors=1, max_charging_power=22000, connector_type=None,
        location_id=None, created_at=AT, updated_at=AT,
    )


def frame(number: int, direction: str = "in") -> LogAppended:
    return LogAppended(LogView(number, "dep-1", "CP-1", AT, direction, "Heartbeat", f"m{number}", "[2]"))


def action(number: int) -> ActionChanged:
    return ActionChanged("dep-1", ActionSummary(f"act-{number}", "charge", "scheduled", AT, AT))


def test_subscribers_take_the_kinds_they_ask_for_and_frames_only_if_they_want_them() -> None:
    bus = EventBus()
    everything = bus.subscribe()
    updates = bus.subscribe(kinds=(ChargerUpdated,))
    events_only = bus.subscribe(kinds=(LogAppended, Notice), frames=False)
    assert bus.wants_frames
    bus.publish(ChargerUpdated(charger(1)))
    bus.publish(frame(1))
    bus.publish(frame(2, "event"))  # a connection event, not a frame
    bus.publish(Notice("hello"))
    assert len(everything.drain()) == 4
    assert [type(e) for e in updates.drain()] == [ChargerUpdated]
    assert [type(e) for e in events_only.drain()] == [LogAppended, Notice]
    everything.close()
    assert not bus.wants_frames  # nobody takes frames now: the core need not build them


def test_a_subscriber_that_falls_behind_loses_old_frames_never_actions() -> None:
    bus = EventBus()
    slow = bus.subscribe(max_pending=100)
    for number in range(10):
        bus.publish(action(number))
    for number in range(300):
        bus.publish(frame(number))
        bus.publish(ChargerUpdated(charger(number % 5)))  # five chargers: older snapshots are superseded
    pending = slow.drain()
    assert [e.action.id for e in pending if isinstance(e, ActionChanged)] == [f"act-{n}" for n in range(10)]
    frames = [e.entry.id for e in pending if isinstance(e, LogAppended)]
    assert frames == sorted(frames) and frames[-1] == 299  # the newest kept, in order
    notices = [e.message for e in pending if isinstance(e, Notice)]
    skipped = sum(int(message.split()[2]) for message in notices)
    assert skipped + len(frames) == 300 and all("in the store" in message for message in notices)
    assert len(pending) <= 100 + len(notices)


def test_what_cannot_be_dropped_stays_and_the_queue_is_not_scanned_at_every_event() -> None:
    bus = EventBus()
    slow = bus.subscribe(max_pending=100)
    scans = 0
    make_room = slow._make_room

    def counted() -> None:
        nonlocal scans
        scans += 1
        make_room()

    slow._make_room = counted  # type: ignore[method-assign]
    for number in range(1000):
        bus.publish(action(number))
    assert len(slow.drain()) == 1000
    # Each scan raises the mark by a quarter of the bound: ~36 scans for 900 events over it, not 900.
    assert scans < 60
