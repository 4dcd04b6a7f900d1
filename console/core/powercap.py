"""The depot power cap: a location's grid connection shared among the chargers charging there.

Each charger with a session gets an equal share of the cap, bounded by its
own max power and by its command's power limit; what a bounded charger leaves
goes to the others. Limits go out as charge-point-wide charging profiles,
recorded as actions. The sum of the limits in force never exceeds the cap:
when limits change, every decrease is acknowledged before any increase is
sent, and a connected charger without a session holds 0 W until a session
starts and it is given a share. When every connected charger's max fits
under the cap there is nothing to share and no limit is imposed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from console.core import operations as ops
from console.core.clock import Clock
from console.core.events import ChargerRemoved, ChargerUpdated, EventBus
from console.core.live import LiveState
from console.core.rates import WATTS, ChargingRate
from console.core.views import ChargerView, iso

log = logging.getLogger(__name__)

CAP_PROFILE_ID = 2001
# How often a cluster node asks whether it is the one that balances (s).
LEADER_CHECK_S = 2.0
# Changes smaller than this (W) are not worth a profile.
TOLERANCE_W = 50.0

Operate = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Headroom:
    location_id: str
    cap_kw: float | None
    delivered_kw: float
    allocated_kw: float

    @property
    def headroom_kw(self) -> float | None:
        return None if self.cap_kw is None else round(self.cap_kw - self.delivered_kw, 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "locationId": self.location_id,
            "capKw": self.cap_kw,
            "deliveredKw": round(self.delivered_kw, 3),
            "allocatedKw": round(self.allocated_kw, 3),
            "headroomKw": self.headroom_kw,
        }


def share(cap_w: float, bounds: dict[str, float]) -> dict[str, float]:
    """Equal shares of `cap_w`, each at most its bound; what a bounded one leaves goes to the rest."""
    result: dict[str, float] = {}
    remaining = cap_w
    pending = sorted(bounds.items(), key=lambda item: item[1])
    while pending:
        equal = remaining / len(pending)
        charger_id, bound = pending[0]
        if bound <= equal:
            result[charger_id] = bound
            remaining -= bound
            pending.pop(0)
            continue
        for charger_id, _ in pending:
            result[charger_id] = float(int(equal))  # whole watts, rounded down: never above the cap
        break
    return result


def cap_request(ocpp_version: str, watts: float, start: str, rate: ChargingRate = WATTS) -> tuple[str, dict[str, Any]]:
    """The charge-point-wide limit from `start`, as the charger's version (and unit) takes it."""
    profile = ops.charging_profile(ocpp_version, CAP_PROFILE_ID, 0, ops.STATION_MAX_PROFILE, watts, start=start, rate=rate)
    return ops.set_profile_request(ocpp_version, 0, profile)


class PowerCap:
    def __init__(
        self,
        live: LiveState,
        bus: EventBus,
        clock: Clock,
        operate: Operate,
        is_connected: Callable[[str], bool],
        command_limit_w: Callable[[str], float | None],
    ) -> None:
        self.live = live
        self.bus = bus
        self.clock = clock
        self.operate = operate
        self.is_connected = is_connected
        self.command_limit_w = command_limit_w
        # Whether the depot planner keeps a location's cap (then each charger keeps its own max here).
        self.planned: Callable[[str], bool] = lambda location_id: False
        # The limit each charger last acknowledged (W); unknown means its own max.
        self._in_force: dict[str, float] = {}
        # Each charger's share inputs as last seen (see `_item`).
        self._items: dict[str, tuple[Any, ...]] = {}
        self._dirty: set[str] = set()
        self._kick = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # On a cluster node: whether this node balances now (one node does, core.cluster); None: it always does.
        self.leads: Callable[[], Awaitable[bool]] | None = None
        self._leading = False

    async def start(self) -> None:
        subscription = self.bus.subscribe(kinds=(ChargerUpdated, ChargerRemoved))
        self._dirty.update(location.id for location in self.live.locations() if location.power_cap_kw)
        self._kick.set()
        self._tasks = [
            asyncio.create_task(self._watch(subscription), name="power cap watcher"),
            asyncio.create_task(self._balance_loop(), name="power cap balancer"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def location_changed(self, location_id: str) -> None:
        """A cap was set, changed or removed: balance again."""
        self._dirty.add(location_id)
        self._kick.set()

    def forget(self, charger_id: str) -> None:
        """The charger's cap profile was cleared: it holds no limit of ours now, and its location is balanced again."""
        if self._in_force.pop(charger_id, None) is not None:
            self.live.limit_changed(charger_id, None, "location cap")
        record = self.live.record(charger_id)
        if record is not None:
            self._mark(record.location_id)

    def in_force_w(self, charger_id: str) -> float | None:
        return self._in_force.get(charger_id)

    # -- reads -------------------------------------------------------------------------

    def _members(self, location_id: str) -> list[str]:
        return [
            charger_id
            for charger_id in self.live.ids()
            if (record := self.live.record(charger_id)) is not None and record.location_id == location_id
        ]

    def headroom(self, location_id: str) -> Headroom:
        location = next((item for item in self.live.locations() if item.id == location_id), None)
        members = self._members(location_id)
        delivered = sum(self.live.view(charger_id).current_power_kw for charger_id in members)
        allocated = sum(self._in_force.get(charger_id, 0.0) for charger_id in members if self._capped(charger_id)) / 1000
        return Headroom(location_id, location.power_cap_kw if location else None, delivered, allocated)

    def _capped(self, charger_id: str) -> bool:
        return charger_id in self._in_force

    # -- balancing ---------------------------------------------------------------------

    def _item(self, charger: ChargerView) -> tuple[Any, ...]:
        """What a charger's share depends on: where it is, connected, in a session, its bounds."""
        has_session = any(self.live.open_transaction(charger.id, c.connector_id) for c in charger.connectors)
        return (charger.location_id, charger.is_connected, has_session, charger.max_charging_power, self.command_limit_w(charger.id))

    async def _watch(self, subscription: Any) -> None:
        """Mark a location for balancing when one of its chargers changed in a way its share depends on.

        Each update is compared with that charger's last item only, so a busy fleet
        (meter values from thousands of chargers) costs a tuple per update, not a
        walk over the location.
        """
        while True:
            events = await subscription.next_batch()
            for event in events:
                if isinstance(event, ChargerUpdated):
                    charger = event.charger
                    item = self._item(charger)
                    before = self._items.get(charger.id)
                    if before == item:
                        continue
                    self._items[charger.id] = item
                    self._mark(item[0])
                    if before is not None and before[0] != item[0]:
                        self._mark(before[0])  # it left: the others there may get more
                elif isinstance(event, ChargerRemoved):
                    self._in_force.pop(event.charger_id, None)
                    before = self._items.pop(event.charger_id, None)
                    if before is not None:
                        self._mark(before[0])

    def _mark(self, location_id: str | None) -> None:
        if location_id is not None:
            self._dirty.add(location_id)
            self._kick.set()

    async def _balance_loop(self) -> None:
        while True:
            if self.leads is None:
                await self._kick.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), LEADER_CHECK_S)
                try:
                    leading = await self.leads()
                except Exception as error:  # the store away: asked again next round
                    log.warning("power cap: could not tell whether this node balances: %s", error)
                    leading = False
                if not leading:
                    self._leading = False
                    self._kick.clear()
                    continue
                if not self._leading:  # taken over (or first): every capped location is balanced afresh
                    self._leading = True
                    self._dirty.update(location.id for location in self.live.locations() if location.power_cap_kw)
            self._kick.clear()
            for location_id in list(self._dirty):
                self._dirty.discard(location_id)
                try:
                    await self.balance(location_id)
                except Exception:  # a failed round must not stop later ones
                    log.exception("balancing location %s failed", location_id)

    def targets(self, location_id: str) -> dict[str, float]:
        """The limit (W) each connected charger at the location should have now."""
        cap_kw = next((item.power_cap_kw for item in self.live.locations() if item.id == location_id), None)
        connected = [
            charger_id
            for charger_id in self._members(location_id)
            if (record := self.live.record(charger_id)) is not None and self.is_connected(record.identity)
        ]
        bounds = {}
        for charger_id in connected:
            record = self.live.record(charger_id)
            assert record is not None
            own = self.command_limit_w(charger_id)
            bounds[charger_id] = float(min(record.max_charging_power, own if own is not None else record.max_charging_power))
        if cap_kw is None or self.planned(location_id) or sum(self.live.record(c).max_charging_power for c in connected) <= cap_kw * 1000:  # type: ignore[union-attr]
            return {charger_id: float(self.live.record(charger_id).max_charging_power) for charger_id in connected}  # type: ignore[union-attr]
        active = {
            charger_id: bound
            for charger_id, bound in bounds.items()
            if any(self.live.open_transaction(charger_id, c.connector_id) for c in self.live.view(charger_id).connectors)
        }
        shares = share(cap_kw * 1000, active)
        return {charger_id: shares.get(charger_id, 0.0) for charger_id in connected}

    async def balance(self, location_id: str) -> None:
        """Bring every charger at the location to its target, decreases first."""
        targets = self.targets(location_id)
        for charger_id in self._members(location_id):
            if charger_id not in targets and self._in_force.pop(charger_id, None) is not None:
                # Offline: it draws nothing, and will be set again.
                self.live.limit_changed(charger_id, None, "location cap")
        changes = []
        for charger_id, target in targets.items():
            record = self.live.record(charger_id)
            assert record is not None
            current = self._in_force.get(charger_id, float(record.max_charging_power))
            if abs(current - target) > TOLERANCE_W or (charger_id not in self._in_force and target < record.max_charging_power):
                changes.append((target - current, charger_id, target))
        decreases = [change for change in changes if change[0] < 0]
        increases = [change for change in changes if change[0] >= 0]
        results = await asyncio.gather(*(self._send(charger_id, target) for _, charger_id, target in decreases))
        if not all(results):
            # A charger that did not take its lower limit keeps its share: raising others would break the cap.
            self._dirty.add(location_id)
            return
        await asyncio.gather(*(self._send(charger_id, target) for _, charger_id, target in increases))

    async def _send(self, charger_id: str, watts: float) -> bool:
        record = self.live.record(charger_id)
        if record is None:
            return True
        operation, payload = cap_request(record.ocpp_version, watts, iso(self.clock.now()) or "", self.live.charging_rate(charger_id))
        result = await self.operate(charger_id, operation, payload, command="power_cap")
        if getattr(result, "state", None) == "acknowledged":
            self._in_force[charger_id] = watts
            self.live.limit_changed(charger_id, watts / 1000, "location cap")
            return True
        return False
