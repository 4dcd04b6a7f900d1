"""Frame time and key-press-to-frame latency of the console with N live chargers.

Run: `uv run python -m benchmarks.console_bench --chargers 100 1000 5000`
(not part of the test run). Each size gets a fresh store and a real
`ConsoleService`; live state is driven through `service.live` as the central
system would: every charger connected and charging, each sending a meter value
(and its frame) every 10 s, spread evenly. The app runs headless
(`App.run_test`), so a "frame" is the flush of pending updates into the
widgets plus the compositor's render of the screen — everything but the write
to a terminal. A key press is `down`/`up` on the charger table; its latency
runs from the press until the screen has processed it and repainted. The
figures are printed as one JSON line at the end.

With `--attached` the console runs as `ocpp-console attach` does, against
`ocpp-console serve` in its own process (pinned to CPU 0) with N real
chargers: a load generator process (benchmarks.loadgen fleet, pinned to CPU 1)
connects them and each sends a Heartbeat and a MeterValues every 10 s plus
status changes. The console reads the fleet and follows it over HTTP and SSE.

With `--logs-view` (either mode) the fleet Logs view is open and no key is
pressed: a probe on the event loop, due every 10 ms, records each gap between
its runs — the longest time the console could not have drawn a frame — and the
figures are those gaps (`frame_gap_ms`, with p99 and max), the renders and the
log lines the view took per second.

With `--cold-start` the console is started as an operator starts it
(`python -m console`, the embedded depot with its simulated chargers, on a
store made by a first run) in a tmux pane of 160x48, N times (`--runs`). From
the process start, `first_paint_s` is when the pane first shows the console's
frame (its header) and `ready_s` when the header counts the fleet; each is the
median of the runs. Needs tmux.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from textual import events

import console.tui.app
from console.core.clock import SystemClock
from console.core.service import ConsoleService
from console.core.store import Store
from console.tui.app import ConsoleApp
from console.tui.screens.main import MainScreen
from console.tui.widgets.views import LogsView

METER_INTERVAL = 10.0
FEED_TICK = 0.1
KEY_TIMEOUT = 10.0
GAP_PROBE = 0.01
CREATED = "2026-04-01T08:00:00Z"
LOCATIONS = ("loc-north", "loc-south", "loc-east", "loc-west")


def fleet(size: int, prefix: str = "CP-", simulated: bool = True) -> dict[str, Any]:
    return {
        "locations": [
            {"id": location, "name": location.removeprefix("loc-").capitalize(), "power_cap_kw": 50.0 * size}
            for location in LOCATIONS
        ],
        "chargers": [
            {
                "id": f"dep-{index:05d}",
                "identity": f"{prefix}{index:05d}",
                "name": f"Bay {index:05d}",
                "vendor_name": "Wallbox",
                "model": "Pulsar Plus",
                "image_url": None,
                "ocpp_version": "OCPP1.6" if index % 3 or not simulated else "OCPP2.0.1",
                "number_of_connectors": 1,
                "max_charging_power": 22000,
                "connector_type": "Type2",
                "location_id": LOCATIONS[index % len(LOCATIONS)],
                "created_at": CREATED,
                "updated_at": CREATED,
                "simulated": simulated,
            }
            for index in range(size)
        ],
    }


async def live_service(directory: Path, size: int) -> ConsoleService:
    service = ConsoleService(Store(f"sqlite:///{directory / 'bench.db'}"), clock=SystemClock())
    await service.open()

    def work(session: Any) -> None:
        service.fleet.import_fleet(session, fleet(size))
        service.live.load(session)

    service.store.run_sync(work)
    service.set_ocpp_url("ws://127.0.0.1:9000")
    ids = service.live.ids()
    for start in range(0, len(ids), 200):
        chunk = ids[start : start + 200]
        await asyncio.gather(*(service.live.connected(charger_id) for charger_id in chunk))
        await asyncio.gather(*(service.live.connector_status(charger_id, 1, "Charging", None) for charger_id in chunk))
    return service


async def feed(service: ConsoleService, stop: asyncio.Event, sent: list[int]) -> None:
    """Each charger a meter value (and its frame) every METER_INTERVAL seconds, spread evenly."""
    live = service.live
    ids = live.ids()
    per_tick = max(1, round(len(ids) * FEED_TICK / METER_INTERVAL))
    cursor = 0
    message = 0
    while not stop.is_set():
        started = time.perf_counter()
        now = datetime.now(timezone.utc)
        for _ in range(per_tick):
            charger_id = ids[cursor % len(ids)]
            cursor += 1
            message += 1
            watts = 3_000.0 + (message * 37) % 19_000
            live.meter_values(charger_id, 1, None, [(now, "Power.Active.Import", None, "W", watts)])
            live.log_frame(
                f"CP-{int(charger_id[4:]):05d}",
                "in",
                f'[2,"mv-{message}","MeterValues",{{"connectorId":1,"meterValue":[{{"sampledValue":[{{"value":"{watts}"}}]}}]}}]',
            )
            sent[0] += 1
        await asyncio.sleep(max(0.0, FEED_TICK - (time.perf_counter() - started)))


class TimedScreen(MainScreen):
    """The main screen with each flush (pending updates into widgets) and each render timed."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes: list[float] = []
        self.renders: list[float] = []
        self.render_ends: list[float] = []
        # Charger updates taken from the backend's events.
        self.updates = 0

    def flush(self) -> None:
        self.updates += len(self._pending)
        started = time.perf_counter()
        super().flush()
        self.flushes.append((time.perf_counter() - started) * 1000)

    def _on_timer_update(self) -> None:
        started = time.perf_counter()
        super()._on_timer_update()
        finished = time.perf_counter()
        self.renders.append((finished - started) * 1000)
        self.render_ends.append(finished)


class TimedApp(ConsoleApp):
    CSS_PATH = Path(console.tui.app.__file__).with_name("console.tcss")

    def get_default_screen(self) -> MainScreen:
        return TimedScreen()


async def key_to_frame(pilot: Any, screen: MainScreen, key: str, render_ends: list[float]) -> float:
    """From posting a key until the first screen render after the cursor moved, in ms."""
    table = screen.table
    row = table.cursor_row
    event = events.Key(key, None)
    event.set_sender(pilot.app)
    pressed = time.perf_counter()
    # The way a terminal's key reaches the app: through the driver's message queue.
    pilot.app._driver.send_message(event)
    while table.cursor_row == row:
        if time.perf_counter() - pressed > KEY_TIMEOUT:
            raise TimeoutError(f"{key} did not move the cursor within {KEY_TIMEOUT} s")
        await asyncio.sleep(0.0005)
    moved = time.perf_counter()
    while not render_ends or render_ends[-1] < moved:
        await asyncio.sleep(0.0005)
    return (render_ends[-1] - pressed) * 1000


class LoopGaps:
    """Gaps (ms) between runs of a probe due every GAP_PROBE seconds: how long the event loop was held."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._last = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def _probe(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1000)
        self._last = now
        self._handle = asyncio.get_running_loop().call_later(GAP_PROBE, self._probe)

    def __enter__(self) -> LoopGaps:
        self._last = time.perf_counter()
        self._handle = asyncio.get_running_loop().call_later(GAP_PROBE, self._probe)
        return self

    def __exit__(self, *_: object) -> None:
        if self._handle is not None:
            self._handle.cancel()


class CollectorPauses:
    """Python's cyclic collector pauses (ms) while measuring, by generation."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def __enter__(self) -> CollectorPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)

    def figures(self) -> dict[str, Any]:
        return {f"gen{generation}": summary(pauses) for generation, pauses in self.pauses.items() if pauses}


def summary(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 1),
        "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max": round(ordered[-1], 1),
    }


def _start_profiler(profile: Path | None) -> Any:
    if profile is None:
        return None
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="disabled")
    profiler.start()
    return profiler


def _stop_profiler(profiler: Any, profile: Path | None, name: str) -> None:
    if profiler is None or profile is None:
        return
    profiler.stop()
    profile.mkdir(parents=True, exist_ok=True)
    (profile / f"console-{name}.txt").write_text(profiler.output_text(unicode=True, show_all=True))


async def _press_keys(pilot: Any, screen: TimedScreen, seconds: float, presses: int) -> list[float]:
    """Half the time watching, then `presses` key presses spread over the other half."""
    await pilot.pause(seconds / 2)
    gap = (seconds / 2) / presses
    keys = []
    for index in range(presses):
        key = "down" if index % 2 == 0 else "up"
        keys.append(await key_to_frame(pilot, screen, key, screen.render_ends))
        await pilot.pause(gap)
    return keys


async def _watch(pilot: Any, screen: TimedScreen, seconds: float, presses: int, logs_view: bool) -> dict[str, Any]:
    """The measured phase: key presses on the charger table, or the fleet Logs view watched with no key pressed."""
    if not logs_view:
        return {"key_to_frame_ms": summary(await _press_keys(pilot, screen, seconds, presses))}
    logs = screen.query_one(LogsView)
    taken = [0]
    take = logs.take

    def counted(entry: Any) -> None:
        taken[0] += 1
        take(entry)

    logs.take = counted  # type: ignore[method-assign]
    screen.show_view("logs")
    await pilot.pause(1.0)
    screen.renders.clear()
    screen.flushes.clear()
    taken[0] = 0
    with LoopGaps() as gaps:
        await asyncio.sleep(seconds)
    return {
        "view": "logs",
        "frame_gap_ms": summary(gaps.gaps),
        "renders_per_s": round(len(screen.renders) / seconds, 1),
        "log_lines_per_s": round(taken[0] / seconds, 1),
    }


async def measure(
    size: int, seconds: float, presses: int, profile: Path | None = None, logs_view: bool = False
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        setup_started = time.perf_counter()
        service = await live_service(Path(directory), size)
        setup_s = time.perf_counter() - setup_started
        app = TimedApp(service, service.clock)
        app.animation_level = "none"
        sent = [0]
        stop = asyncio.Event()
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            assert isinstance(screen, TimedScreen)
            # Let the first read of the fleet land before measuring.
            while len(screen._chargers) < size:
                await pilot.pause(0.1)
            screen.flushes.clear()
            screen.renders.clear()
            feeder = asyncio.create_task(feed(service, stop, sent))
            profiler = _start_profiler(profile)
            started = time.perf_counter()
            with CollectorPauses() as collector:
                watched = await _watch(pilot, screen, seconds, presses, logs_view)
            elapsed = time.perf_counter() - started
            _stop_profiler(profiler, profile, f"embedded-{size}")
            stop.set()
            await feeder
        await service.close()
        service.store.close()
    return {
        "chargers": size,
        "setup_s": round(setup_s, 1),
        "meter_values_per_s": round(sent[0] / elapsed, 1),
        "flush_ms": summary(screen.flushes),
        "render_ms": summary(screen.renders),
        **watched,
        "gc_pause_ms": collector.figures(),
    }


def _attached_server(directory: Path, size: int) -> tuple[Any, str, str]:
    """`ocpp-console serve` on a store of `size` chargers named LOAD-00000…: (server, API URL, key)."""
    from benchmarks.ocpp_bench import Server, free_port

    db_url = f"sqlite:///{directory / 'attached.db'}"
    fleet_path = directory / "fleet.json"
    # The load generator names its chargers from 1: LOAD-00001 … LOAD-N.
    document = fleet(size + 1, prefix="LOAD-", simulated=False)
    document["chargers"] = document["chargers"][1:]
    fleet_path.write_text(json.dumps(document))
    python = sys.executable
    subprocess.run([python, "-m", "console", "fleet", "import", str(fleet_path), "--db", db_url], check=True, capture_output=True)
    created = subprocess.run(
        [python, "-m", "console", "keys", "create", "--label", "console bench", "--db", db_url],
        check=True, capture_output=True, text=True,
    )
    key = created.stdout.split()[0]
    api_port = free_port()
    server = Server(
        [python, "-m", "console", "serve", "--no-sim", "--ocpp-port", str(free_port()), "--api-port", str(api_port),
         "--db", db_url, "--cpu", "0"]
    )
    return server, f"http://127.0.0.1:{api_port}", key


async def measure_attached(
    size: int, seconds: float, presses: int, profile: Path | None = None, logs_view: bool = False
) -> dict[str, Any]:
    from console.api.client import RemoteBackend

    with tempfile.TemporaryDirectory() as directory:
        setup_started = time.perf_counter()
        server, api_url, key = _attached_server(Path(directory), size)
        load = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.loadgen", "fleet", "--url", server.url, "--connections", str(size),
             "--seconds", str(seconds + 120), "--prefix", "LOAD-", "--cpu", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        backend = RemoteBackend(api_url, key)
        try:
            await backend.connect()
            app = TimedApp(backend, SystemClock())
            app.animation_level = "none"
            async with app.run_test(size=(160, 48)) as pilot:
                screen = app.screen
                assert isinstance(screen, TimedScreen)
                deadline = time.perf_counter() + 120
                while time.perf_counter() < deadline:
                    connected = sum(1 for charger in screen._chargers.values() if charger.is_connected)
                    if len(screen._chargers) >= size and connected >= size:
                        break
                    await pilot.pause(0.5)
                setup_s = time.perf_counter() - setup_started
                screen.flushes.clear()
                screen.renders.clear()
                events_before = screen.updates
                profiler = _start_profiler(profile)
                started = time.perf_counter()
                with CollectorPauses() as collector:
                    watched = await _watch(pilot, screen, seconds, presses, logs_view)
                elapsed = time.perf_counter() - started
                _stop_profiler(profiler, profile, f"attached-{size}")
                events = screen.updates - events_before
                connected = sum(1 for charger in screen._chargers.values() if charger.is_connected)
                server_rss = server.rss_mb()
        finally:
            await backend.aclose()
            load.terminate()
            load.wait(30)
            server.stop()
    return {
        "chargers": size,
        "mode": "attached",
        "connected": connected,
        "setup_s": round(setup_s, 1),
        "charger_updates_per_s": round(events / elapsed, 1),
        "server_rss_mb": server_rss,
        "flush_ms": summary(screen.flushes),
        "render_ms": summary(screen.renders),
        **watched,
        "gc_pause_ms": collector.figures(),
    }


async def run(
    sizes: list[int],
    seconds: float,
    presses: int,
    profile: Path | None = None,
    attached: bool = False,
    logs_view: bool = False,
) -> list[dict[str, Any]]:
    results = []
    for size in sizes:
        result = await (measure_attached if attached else measure)(size, seconds, presses, profile, logs_view)
        results.append(result)
        if logs_view:
            outcome = (
                f"frame gap p99 {result['frame_gap_ms'].get('p99')} ms max {result['frame_gap_ms'].get('max')} ms · "
                f"{result['log_lines_per_s']} log lines/s"
            )
        else:
            outcome = f"key→frame p50 {result['key_to_frame_ms'].get('p50')} ms p95 {result['key_to_frame_ms'].get('p95')} ms"
        print(
            f"{size:>6} chargers: flush p50 {result['flush_ms'].get('p50')} ms p95 {result['flush_ms'].get('p95')} ms · "
            f"render p50 {result['render_ms'].get('p50')} ms p95 {result['render_ms'].get('p95')} ms · {outcome}",
            flush=True,
        )
    return results


COLD_START_TIMEOUT = 60.0
COLD_START_POLL = 0.02
# The header's fleet count once the fleet is read (the frame shows 0/0 or "connecting…" before).
FLEET_SHOWN = re.compile(r"connected \d+/[1-9]")


def _pane(session: str) -> str:
    captured = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True)
    return captured.stdout


def _cold_start_once(session: str, command: list[str]) -> dict[str, float]:
    """Start `command` in a fresh tmux session; seconds from its start to the first frame and to the fleet shown."""
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    started = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "48", subprocess.list2cmdline(command)], check=True
    )
    figures: dict[str, float] = {}
    try:
        while time.perf_counter() - started < COLD_START_TIMEOUT:
            pane = _pane(session)
            now = time.perf_counter() - started
            if "first_paint_s" not in figures and "ocpp-console" in pane:
                figures["first_paint_s"] = now
            if FLEET_SHOWN.search(pane):
                figures.setdefault("first_paint_s", now)
                figures["ready_s"] = now
                break
            time.sleep(COLD_START_POLL)
        else:
            raise TimeoutError(f"the console showed no fleet within {COLD_START_TIMEOUT} s:\n{_pane(session)}")
        # Quit as an operator does, so the simulated chargers stop and the store closes.
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
        deadline = time.perf_counter() + 20
        while time.perf_counter() < deadline:
            if subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode:
                break
            time.sleep(0.1)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return figures


def cold_start(runs: int) -> dict[str, Any]:
    if shutil.which("tmux") is None:
        raise SystemExit("--cold-start needs tmux")
    from benchmarks.ocpp_bench import free_port

    with tempfile.TemporaryDirectory() as directory:
        command = [sys.executable, "-m", "console", "--db", f"sqlite:///{Path(directory) / 'cold.db'}"]
        session = f"console-bench-{int(time.time())}"
        # The first run makes the store (and imports the sample fleet): not measured.
        _cold_start_once(session, [*command, "--ocpp-port", str(free_port())])
        samples = [_cold_start_once(session, [*command, "--ocpp-port", str(free_port())]) for _ in range(runs)]
    paints = [sample["first_paint_s"] for sample in samples]
    ready = [sample["ready_s"] for sample in samples]
    return {
        "runs": runs,
        "first_paint_s": round(statistics.median(paints), 2),
        "first_paint_max_s": round(max(paints), 2),
        "ready_s": round(statistics.median(ready), 2),
        "ready_max_s": round(max(ready), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per fleet size")
    parser.add_argument("--presses", type=int, default=20, help="key presses per fleet size")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile of each measured phase here")
    parser.add_argument(
        "--attached", action="store_true",
        help="attach to `ocpp-console serve` in its own process, loaded by N real chargers from a load generator",
    )
    parser.add_argument(
        "--logs-view", action="store_true",
        help="open the fleet Logs view and record the event loop's longest gaps (frame_gap_ms) instead of pressing keys",
    )
    parser.add_argument(
        "--cold-start", action="store_true",
        help="time `python -m console` from process start to its first frame and to the fleet shown, in tmux",
    )
    parser.add_argument("--runs", type=int, default=5, help="cold starts to take the median of (default 5)")
    arguments = parser.parse_args()
    if arguments.cold_start:
        result = cold_start(arguments.runs)
        print(json.dumps({"benchmark": "console", "mode": "cold-start", "terminal": "160x48", **result}))
        return
    results = asyncio.run(
        run(arguments.chargers, arguments.seconds, arguments.presses, arguments.profile, arguments.attached, arguments.logs_view)
    )
    mode = "attached" if arguments.attached else "embedded"
    print(json.dumps({"benchmark": "console", "mode": mode, "terminal": "160x48", "results": results}))


if __name__ == "__main__":
    main()
