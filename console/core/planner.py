"""The depot planner: each session's power per time slot, as a linear program solved by HiGHS.

A location's plan covers `slots` slots of `slot_minutes` from `start`. Each
session has a power per slot between 0 and its maximum (the charger's and the
vehicle's, whichever is lower) until its departure, and 0 after. Together they
stay under the location's cap minus its base load in every slot. The plan
meets every need where that is possible and, among the plans that do, costs
least under the tariff (a price per kWh per slot). Where not every need can be
met the shortfall is what the LP gives up, weighted by the sessions' order
(the token's priority, higher first, then the earliest departure): a kWh of a
session earlier in that order always outweighs one of a later one.

    minimise   Σ_s Σ_t (price_t + ε·t)·h·x[s,t]  +  Σ_s w_s·u_s
    subject to Σ_t h·x[s,t] + u_s ≥ E_s                 (each session's need, u_s its shortfall)
               Σ_s x[s,t] ≤ cap_t − base_t              (the cap, every slot)
               0 ≤ x[s,t] ≤ max_s  (t before departure), u_s ≥ 0

h is the slot's length in hours. ε·t (1e-5 per slot: above the solver's tolerance, below any real tariff step) breaks ties
toward charging early, so without a tariff a session charges as soon as it
can. Pure arithmetic on plain values: no store, no clock, no I/O.
"""

from __future__ import annotations

import math
import os
import time
from datetime import datetime, timedelta
from typing import Any

import highspy
import numpy as np

from console.core.planshapes import (  # noqa: F401  (the planner's shapes, named here too)
    MET_TOLERANCE_KWH,
    SLOT_MINUTES,
    SLOTS,
    Plan,
    PlanInputError,
    SessionNeed,
    SessionPlan,
    check_series,
    departure_slots,
    slot_prices,
    slot_start,
)

EARLY_BIAS = 1e-5


def _hush_banner() -> None:
    """HiGHS prints its banner on standard output (from C, past `sys.stdout`) at its first solver: take it at import, unseen."""
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_hush_banner()


def _order(needs: list[SessionNeed]) -> list[int]:
    """Indexes of `needs` in the order the planner serves them when not all can be met."""
    return sorted(range(len(needs)), key=lambda i: (-needs[i].priority, needs[i].departure, needs[i].key))


def _presence(needs: list[SessionNeed], start: datetime, slot_minutes: int, slots: int) -> np.ndarray:
    """The part of each slot each session is plugged in: 1 before its departure, the fraction of the slot it leaves in."""
    present = np.zeros((len(needs), slots))
    for s, need in enumerate(needs):
        span = departure_slots(start, need.departure, slot_minutes, slots)
        full = int(span)
        present[s, :full] = 1.0
        if full < slots and span > full:
            present[s, full] = span - full
        if need.arrival is not None:
            present[s, : math.ceil(departure_slots(start, need.arrival, slot_minutes, slots))] = 0.0
    return present


def _forced(needs: list[SessionNeed], upper: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """`hours`: each session's charging hours per slot (the slot's length times its presence)."""
    """Pinned and uncontrolled sessions draw their max from now until their need is met."""
    lower = np.zeros_like(upper)
    for s, need in enumerate(needs):
        if not (need.pinned or need.uncontrolled):
            continue
        left = need.energy_kwh
        for t in range(upper.shape[1]):
            if left <= 1e-9 or upper[s, t] <= 0:
                break
            lower[s, t] = min(upper[s, t], left / hours[s, t])
            left -= lower[s, t] * hours[s, t]
    return lower


def plan(
    needs: list[SessionNeed],
    start: datetime,
    *,
    cap_kw: float | None = None,
    base_load_kw: tuple[float, ...] | None = None,
    prices: tuple[float, ...] | None = None,
    slot_minutes: int = SLOT_MINUTES,
    slots: int = SLOTS,
    now: datetime | None = None,
    warm: dict[str, Any] | None = None,
) -> Plan:
    """The least-cost plan that meets every need it can, within the cap.

    `start` is a slot's start (the tariff's slots line up with the plan's); `now`,
    when later, leaves only the rest of the first slot to charge in. `warm`, a dict
    the caller keeps between plans of one location, holds the last solve's basis:
    a re-plan after one arrival starts from it (the columns and rows it shares
    with the last plan keep their status) instead of from nothing.
    """
    started = time.perf_counter()
    hours = np.full(slots, slot_minutes / 60)
    if now is not None and now > start:
        hours[0] = max(0.0, slot_minutes * 60 - (now - start).total_seconds()) / 3600
    n = len(needs)
    available = None
    if cap_kw is not None:
        base = np.asarray(base_load_kw if base_load_kw is not None else (0.0,) * slots, dtype=float)
        available = np.maximum(0.0, cap_kw - base)
    price = np.asarray(prices if prices is not None else (0.0,) * slots, dtype=float)
    energy = np.array([max(0.0, need.energy_kwh) for need in needs], dtype=float)
    present = _presence(needs, start, slot_minutes, slots)
    # Each session's hours of charging per slot: the slot's length times the part of it the session is there.
    charging = present * hours
    upper = np.array([need.max_kw for need in needs], dtype=float).reshape(len(needs), 1) * (charging > 0)
    lower = _forced(needs, upper, charging)
    if available is not None:
        # Forced draws beyond the cap cannot be planned away: they are shrunk to fit, in the sessions' order.
        over = lower.sum(axis=0) - available
        if (over > 1e-9).any():
            for t in np.nonzero(over > 1e-9)[0]:
                scale = available[t] / lower[:, t].sum()
                lower[:, t] *= scale
    power = np.zeros((n, slots))
    status = "optimal"
    if n:
        power, status = _solve(needs, energy, lower, upper, available, price, charging, start, slot_minutes, warm)
        # Whole tenths of a watt, rounded down: the sum never passes the cap by a rounding.
        power = np.floor(power * 1e4 + 1e-6) / 1e4
    sessions = tuple(
        SessionPlan(
            key=need.key,
            power_kw=tuple(power[s].tolist()),
            need_kwh=float(energy[s]),
            planned_kwh=float(round((power[s] * charging[s]).sum(), 4)),
            departure=need.departure,
            priority=need.priority,
        )
        for s, need in enumerate(needs)
    )
    cost = float((power * charging).sum(axis=0) @ price)
    baseline, baseline_shortfall = equal_share_cost(needs, upper, energy, available, price, charging)
    return Plan(
        start=start,
        slot_minutes=slot_minutes,
        available_kw=None if available is None else tuple(available.tolist()),
        prices=None if prices is None else tuple(price.tolist()),
        sessions=sessions,
        cost=cost,
        baseline_cost=baseline,
        baseline_shortfall_kwh=baseline_shortfall,
        solve_ms=(time.perf_counter() - started) * 1000,
        status=status,
        misses=tuple(item.key for item in sessions if not item.makes_it),
    )


def _blocks(
    lower: np.ndarray, upper: np.ndarray, available: np.ndarray | None, price: np.ndarray, hours: np.ndarray
) -> list[tuple[int, int]]:
    """Runs of slots in which nothing differs (bounds, cap, price): (first slot, number of slots).

    Slots of one run are interchangeable, so the LP needs one column per session
    per run, not per slot: a depot whose vans leave between 05:00 and 07:00 has a
    dozen runs, not 96 slots.
    """
    slots = upper.shape[1]
    change = np.any(upper[:, 1:] != upper[:, :-1], axis=0) | np.any(lower[:, 1:] != lower[:, :-1], axis=0)
    change |= (price[1:] != price[:-1]) | np.any(hours[:, 1:] != hours[:, :-1], axis=0)
    if available is not None:
        change |= available[1:] != available[:-1]
    firsts = [0, *(np.nonzero(change)[0] + 1).tolist()]
    return [(first, (firsts[i + 1] if i + 1 < len(firsts) else slots) - first) for i, first in enumerate(firsts)]


def _solve(
    needs: list[SessionNeed],
    energy: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    available: np.ndarray | None,
    price: np.ndarray,
    hours: np.ndarray,
    start: datetime | None = None,
    slot_minutes: int = SLOT_MINUTES,
    warm: dict[str, Any] | None = None,
) -> tuple[np.ndarray, str]:
    n, slots = upper.shape
    blocks = _blocks(lower, upper, available, price, hours)
    # `hours` is per session and slot here (its charging hours): constant within a run, by construction of the runs.
    first = np.array([block[0] for block in blocks])
    length = np.array([block[1] for block in blocks], dtype=float)
    # A column is a session's energy-weighted power summed over a run (kW x slots), spread evenly back over it.
    block_upper = upper[:, first] * length
    block_lower = lower[:, first] * length
    # Only runs a session can draw in are columns: a van leaving at 05:30 has none after it.
    rows_s, rows_b = np.nonzero(block_upper > 0)
    m = len(rows_s)
    order = _order(needs)
    rank = np.empty(n)
    rank[order] = np.arange(n)
    top_price = float(price.max()) if len(price) else 0.0
    # Any shortfall outweighs any energy cost; one kWh of an earlier session outweighs one of a later.
    unit = (top_price + 1.0) * 10.0
    weights = unit * (n + (n - rank))
    coefficient = hours[rows_s, first[rows_b]]
    cost = np.concatenate([(price[first[rows_b]] + EARLY_BIAS * (first[rows_b] + 1)) * coefficient, weights])
    col_lower = np.concatenate([block_lower[rows_s, rows_b], np.zeros(n)])
    col_upper = np.concatenate([block_upper[rows_s, rows_b], np.full(n, highspy.kHighsInf)])
    capped = available is not None
    # Column-wise matrix: y[s,b] is in session s's energy row and (capped) run b's cap row; u_s in its energy row.
    per_column = 2 if capped else 1
    starts = np.concatenate([np.arange(m) * per_column, m * per_column + np.arange(n + 1)])
    if capped:
        index = np.empty(2 * m, dtype=np.int32)
        index[0::2] = rows_s
        index[1::2] = n + rows_b
        value = np.empty(2 * m)
        value[0::2] = coefficient
        value[1::2] = 1.0
    else:
        index = rows_s.astype(np.int32)
        value = coefficient
    index = np.concatenate([index, np.arange(n, dtype=np.int32)])
    value = np.concatenate([value, np.ones(n)])
    row_lower = energy.copy()
    row_upper = np.full(n, highspy.kHighsInf)
    if capped:
        assert available is not None
        row_lower = np.concatenate([row_lower, np.full(len(blocks), -highspy.kHighsInf)])
        row_upper = np.concatenate([row_upper, available[first] * length])
    lp = highspy.HighsLp()
    lp.num_col_ = m + n
    lp.num_row_ = len(row_lower)
    lp.col_cost_ = cost
    lp.col_lower_ = col_lower
    lp.col_upper_ = col_upper
    lp.row_lower_ = row_lower
    lp.row_upper_ = row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = starts.astype(np.int32)
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("threads", 1)
    solver.passModel(lp)
    if warm is not None and start is not None:
        at = [start + timedelta(minutes=slot_minutes * int(first[b])) for b in range(len(blocks))]
        col_keys = [(needs[s].key, at[b], int(length[b])) for s, b in zip(rows_s.tolist(), rows_b.tolist(), strict=True)]
        col_keys += [("shortfall", need.key) for need in needs]
        row_keys = [("need", need.key) for need in needs] + ([("cap", at[b], int(length[b])) for b in range(len(blocks))] if capped else [])
        _warm_start(solver, warm, col_keys, row_keys)
    solver.run()
    model_status = solver.getModelStatus()
    power = np.zeros((n, slots))
    if model_status != highspy.HighsModelStatus.kOptimal:
        return power, solver.modelStatusToString(model_status).lower()
    if warm is not None and start is not None:
        basis = solver.getBasis()
        warm["columns"] = dict(zip(col_keys, basis.col_status, strict=True))
        warm["rows"] = dict(zip(row_keys, basis.row_status, strict=True))
    values = np.maximum(0.0, np.asarray(solver.getSolution().col_value[:m]))
    per_block = np.zeros((n, len(blocks)))
    per_block[rows_s, rows_b] = values
    forced = lower.any(axis=1)
    for b, (first_slot, count) in enumerate(blocks):
        total = per_block[:, b]
        # Forced draws stay as planned; the rest charge as early in the run as the run allows.
        power[forced, first_slot : first_slot + count] = (total[forced] / count)[:, None]
        room = None if available is None else available[first_slot] - power[forced, first_slot].sum()
        power[~forced, first_slot : first_slot + count] = _front_load(total[~forced], upper[~forced, first_slot], room, count)
    return power, "optimal"


def _warm_start(solver: Any, warm: dict[str, Any], col_keys: list[Any], row_keys: list[Any]) -> None:
    """Start from the last basis where this LP shares it: known columns and rows keep their status, new columns
    sit at their lower bound and new rows are basic. A basis that does not fit (the count of basic ones differs)
    is left out: the solve starts cold."""
    columns, rows = warm.get("columns"), warm.get("rows")
    if not columns or not rows:
        return
    lower, basic = highspy.HighsBasisStatus.kLower, highspy.HighsBasisStatus.kBasic
    col_status = [columns.get(key, lower) for key in col_keys]
    row_status = [rows.get(key, basic) for key in row_keys]
    if sum(status == basic for status in col_status) + sum(status == basic for status in row_status) != len(row_keys):
        return
    basis = highspy.HighsBasis()
    basis.col_status = col_status
    basis.row_status = row_status
    basis.valid = True
    solver.setBasis(basis)


def water_fill(amount: float, heads: np.ndarray) -> np.ndarray:
    """`amount` shared equally among `heads`, none above its head (what a bounded one leaves goes to the rest)."""
    if amount >= heads.sum():
        return heads.copy()
    ordered = np.sort(heads)
    n = len(ordered)
    # The level L with sum(min(head, L)) == amount.
    spent = np.concatenate([[0.0], np.cumsum(ordered)[:-1]])
    levels = (amount - spent) / (n - np.arange(n))
    index = int(np.argmax(levels <= ordered))
    return np.minimum(heads, levels[index])


def _front_load(totals: np.ndarray, max_kw: np.ndarray, room: float | None, count: int) -> np.ndarray:
    """Each session's `totals` (kW x slots) over `count` alike slots, as early as its max and the room allow.

    In each slot a session first gets what it must to finish within the slots
    left at its max, then the rest of the room is shared equally; so no later
    slot is asked for more than it has.
    """
    power = np.zeros((len(totals), count))
    left = totals.copy()
    for j in range(count):
        remaining = count - j - 1
        must = np.maximum(0.0, left - max_kw * remaining)
        heads = np.maximum(0.0, np.minimum(max_kw, left) - must)
        spare = np.inf if room is None else max(0.0, room - must.sum())
        give = must + water_fill(spare, heads) if spare < np.inf else must + heads
        give = np.minimum(give, left)
        power[:, j] = give
        left = left - give
    return power


def equal_share(cap_kw: float, bounds: list[float]) -> list[float]:
    """Equal shares of `cap_kw`, each at most its bound; what a bounded one leaves goes to the rest."""
    result = [0.0] * len(bounds)
    remaining = cap_kw
    pending = sorted((bound, i) for i, bound in enumerate(bounds) if bound > 0)
    while pending:
        equal = remaining / len(pending)
        bound, i = pending[0]
        if bound <= equal:
            result[i] = bound
            remaining -= bound
            pending.pop(0)
            continue
        for _, j in pending:
            result[j] = equal
        break
    return result


def equal_share_cost(
    needs: list[SessionNeed],
    upper: np.ndarray,
    energy: np.ndarray,
    available: np.ndarray | None,
    price: np.ndarray,
    hours: np.ndarray,
) -> tuple[float, float]:
    """The cost and total shortfall of the console's equal shares: every session draws from now, its share of the cap."""
    left = energy.copy()
    cost = 0.0
    for t in range(upper.shape[1]):
        slot_hours = hours[:, t]
        wanting = (left > 1e-9) & (slot_hours > 0)
        if not wanting.any():
            continue
        bounds = np.zeros_like(left)
        bounds[wanting] = np.minimum(upper[wanting, t], left[wanting] / slot_hours[wanting])
        shares = bounds if available is None else water_fill(float(available[t]), bounds)
        delivered = shares * slot_hours
        left -= delivered
        cost += float(delivered.sum()) * float(price[t])
    return cost, float(np.maximum(left, 0.0).sum())
