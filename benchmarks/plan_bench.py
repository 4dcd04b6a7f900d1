"""The depot planner's linear program on a big depot: a full plan, and a re-plan after one arrival.

    uv run python -m benchmarks.plan_bench [--sessions 1000] [--slots 96] [--repeat 5] [--spread]

A depot of `--sessions` sessions on 7-22 kW chargers needing 20-70 kWh, leaving between 05:00
and 07:00 (with `--spread`: at any minute of the next 24 h, the hardest case for the LP), a cap
of 4.5 kW per session and a night tariff. Prints one JSON line: the median and worst time of a
full plan and of the re-plan after one more session arrives (from the
full plan's basis), the LP's size, and the plan's
cost against equal shares. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from console.core.planner import SessionNeed, plan, slot_prices
from console.sim.depotrun import night_tariff

START = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)


def depot(count: int, spread: bool, rng: random.Random) -> list[SessionNeed]:
    needs = []
    for number in range(count):
        if spread:
            departure = START + timedelta(minutes=rng.randrange(30, 24 * 60))
        else:
            departure = START + timedelta(hours=12, minutes=rng.randrange(0, 120))
        needs.append(SessionNeed(f"s{number}", rng.choice((7.4, 11.0, 22.0)), round(rng.uniform(20, 70), 1), departure))
    return needs


def timed(
    needs: list[SessionNeed], cap_kw: float, prices: tuple[float, ...] | None, slots: int, warm: dict | None = None
) -> tuple[float, object]:
    began = time.perf_counter()
    result = plan(needs, START, cap_kw=cap_kw, prices=prices, slots=slots, warm=warm)
    return (time.perf_counter() - began) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--slots", type=int, default=96)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--spread", action="store_true", help="departures at any minute of the day")
    args = parser.parse_args()
    rng = random.Random(7)
    prices = slot_prices(night_tariff(), START, args.slots)
    cap = 4.5 * args.sessions
    fulls, replans = [], []
    result = None
    for _ in range(args.repeat):
        needs = depot(args.sessions, args.spread, rng)
        warm: dict = {}
        elapsed, result = timed(needs, cap, prices, args.slots, warm)
        fulls.append(elapsed)
        arrival = SessionNeed("arrival", 22.0, 50.0, START + timedelta(hours=12, minutes=rng.randrange(0, 120)))
        elapsed, again = timed([*needs, arrival], cap, prices, args.slots, warm)
        assert again.status == "optimal", again.status  # type: ignore[attr-defined]
        replans.append(elapsed)
    assert result is not None
    print(
        json.dumps(
            {
                "sessions": args.sessions,
                "slots": args.slots,
                "spread": args.spread,
                "plan_ms_median": round(statistics.median(fulls), 1),
                "plan_ms_max": round(max(fulls), 1),
                "replan_after_arrival_ms_median": round(statistics.median(replans), 1),
                "replan_after_arrival_ms_max": round(max(replans), 1),
                "status": result.status,  # type: ignore[attr-defined]
                "misses": len(result.misses),  # type: ignore[attr-defined]
                "cost": round(result.cost, 2),  # type: ignore[attr-defined]
                "equal_share_cost": round(result.baseline_cost, 2),  # type: ignore[attr-defined]
            }
        )
    )


if __name__ == "__main__":
    main()
