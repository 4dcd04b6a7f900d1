"""The runtime behind simulated chargers: one asyncio task per charger, reconnecting.

`SimManager` implements `console.core.ports.RuntimeControl`. Every state
change goes to `LiveState.runtime_changed` and every runtime event to the
charger's log, so the UI sees why a charger is not online.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from dataclasses import dataclass, field
from urllib.parse import quote

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from console.core.clock import Clock
from console.core.errors import NotFound
from console.core.live import LiveState
from console.sim.charger import SUBPROTOCOL, ConnectionLost, CsmsTimeout, SimulatedCharger

log = logging.getLogger("console.sim")

BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
OPEN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 1.0
STOP_TIMEOUT = 2.0
SUPPORTED_VERSIONS = ("OCPP1.6",)


@dataclass
class Runtime:
    charger_id: str
    charger: SimulatedCharger
    backoff_rng: random.Random
    state: str = "stopped"
    detail: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


class SimManager:
    def __init__(
        self,
        live: LiveState,
        clock: Clock,
        csms_url: str,
        seed: int | None = None,
        auto_sessions: bool = True,
        reconnect: bool = True,
    ) -> None:
        self.live = live
        self.clock = clock
        self.csms_url = csms_url.rstrip("/")
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.auto_sessions = auto_sessions
        self.reconnect = reconnect
        self._runtimes: dict[str, Runtime] = {}

    # -- RuntimeControl --------------------------------------------------------------

    def state(self, charger_id: str) -> tuple[str, str | None]:
        runtime = self._runtimes.get(charger_id)
        if runtime is None:
            return "stopped", None
        return runtime.state, runtime.detail

    async def start(self, charger_id: str) -> str:
        record = self.live.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id!r}")
        runtime = self._runtimes.get(charger_id)
        if runtime is not None and runtime.running:
            return f"{record.identity} is already running"
        if record.ocpp_version not in SUPPORTED_VERSIONS:
            detail = f"unsupported: {record.ocpp_version} chargers cannot be simulated yet (only OCPP1.6)"
            self._set(self._runtime(charger_id), "crashed", detail, f"runtime: {detail}")
            return f"{record.identity} cannot start: {detail}"
        runtime = self._runtime(charger_id)
        runtime.charger.update_record(record)
        runtime.task = asyncio.get_running_loop().create_task(self._run(runtime), name=f"sim {record.identity}")
        return f"{record.identity} started"

    async def stop(self, charger_id: str) -> str:
        runtime = self._runtimes.get(charger_id)
        record = self.live.record(charger_id)
        identity = record.identity if record else (runtime.charger.identity if runtime else charger_id)
        if runtime is None or not runtime.running:
            return f"{identity} is not running"
        self._set(runtime, "stopping", None, "runtime: stopping (closing the connection)")
        assert runtime.task is not None
        runtime.task.cancel()
        await asyncio.wait({runtime.task}, timeout=STOP_TIMEOUT)
        self._set(runtime, "stopped", None, "runtime: stopped")
        return f"{identity} stopped"

    async def restart(self, charger_id: str) -> str:
        await self.stop(charger_id)
        outcome = await self.start(charger_id)
        if outcome.endswith(" started"):
            return outcome.removesuffix(" started") + " restarted"
        return outcome

    # -- fleet-wide --------------------------------------------------------------------

    async def start_all(self) -> None:
        """Start every simulated charger of the fleet."""
        for charger_id in self.live.ids():
            record = self.live.record(charger_id)
            if record is not None and record.simulated:
                await self.start(charger_id)

    async def close(self) -> None:
        """Stop every runtime, concurrently, so shutting down takes about a second."""
        running = [charger_id for charger_id, runtime in self._runtimes.items() if runtime.running]
        await asyncio.gather(*(self.stop(charger_id) for charger_id in running))

    def idle(self) -> bool:
        """No simulated charger awaits an answer (tests on a manual clock wait for this)."""
        return all(runtime.charger.idle for runtime in self._runtimes.values())

    def charger(self, charger_id: str) -> SimulatedCharger | None:
        runtime = self._runtimes.get(charger_id)
        return runtime.charger if runtime else None

    # -- one charger -------------------------------------------------------------------

    def _runtime(self, charger_id: str) -> Runtime:
        runtime = self._runtimes.get(charger_id)
        if runtime is None:
            record = self.live.record(charger_id)
            assert record is not None
            # Seeded per identity: chargers are independent of each other and of start order.
            charger = SimulatedCharger(
                record,
                self.clock,
                random.Random(f"{self.seed}:{record.identity}"),
                auto_sessions=self.auto_sessions,
            )
            runtime = Runtime(charger_id, charger, random.Random(f"{self.seed}:{record.identity}:backoff"))
            self._runtimes[charger_id] = runtime
        return runtime

    def _set(self, runtime: Runtime, state: str, detail: str | None, message: str | None = None) -> None:
        runtime.state, runtime.detail = state, detail
        self.live.runtime_changed(runtime.charger_id, state, detail)
        if message is not None:
            self.live.log(runtime.charger.identity, "event", message, charger_id=runtime.charger_id)

    def _url(self, runtime: Runtime) -> str:
        return f"{self.csms_url}/{quote(runtime.charger.identity, safe='')}"

    async def _run(self, runtime: Runtime) -> None:
        failures = 0
        retry_detail: str | None = None
        while True:
            url = self._url(runtime)
            self._set(runtime, "connecting", retry_detail, f"runtime: connecting to {url}")
            try:
                reason = await self._connect_and_serve(runtime, url)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                detail = self._describe(error)
                if not isinstance(error, (OSError, InvalidHandshake, ConnectionLost, CsmsTimeout)):
                    log.exception("simulated charger %s failed", runtime.charger.identity)
            else:
                failures, retry_detail = 0, f"rebooting after a {reason}"
                self.live.log(
                    runtime.charger.identity,
                    "event",
                    f"runtime: rebooting after a {reason}",
                    charger_id=runtime.charger_id,
                )
                continue
            self._set(runtime, "crashed", detail, f"runtime: crashed — {detail}")
            if not self.reconnect:
                return
            failures += 1
            delay = self._backoff(runtime, failures)
            retry_detail = f"retry {failures} after {detail}"
            self.live.log(
                runtime.charger.identity,
                "event",
                f"runtime: retrying in {delay:.1f} s",
                charger_id=runtime.charger_id,
            )
            await self.clock.sleep(delay)

    async def _connect_and_serve(self, runtime: Runtime, url: str) -> str:
        async with connect(
            url,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            open_timeout=OPEN_TIMEOUT,
            close_timeout=CLOSE_TIMEOUT,
            compression=None,
            proxy=None,
        ) as connection:
            self._set(runtime, "registering", None, f"runtime: connected ({connection.subprotocol}), booting")

            def online() -> None:
                self._set(runtime, "online", None, "runtime: online (boot accepted)")

            try:
                return await runtime.charger.serve(connection, online)
            except asyncio.CancelledError:
                # Stopped by the operator: say goodbye properly rather than as a crash (1011).
                await asyncio.shield(connection.close(1000, "runtime stopped"))
                raise

    def _backoff(self, runtime: Runtime, failures: int) -> float:
        """Exponential from ~1 s, capped at ~30 s, with jitter so a fleet does not retry in step."""
        base = min(BACKOFF_CAP, BACKOFF_START * 2 ** (failures - 1))
        return base * runtime.backoff_rng.uniform(0.5, 1.0) + runtime.backoff_rng.uniform(0, 0.5)

    def _describe(self, error: BaseException) -> str:
        where = self.csms_url
        if isinstance(error, InvalidStatus):
            code = error.response.status_code
            if code == 404:
                return "handshake_refused: HTTP 404 — the identity is not registered in the central system"
            if code in (401, 403):
                return f"handshake_refused: HTTP {code} — the central system refused the charger's credentials"
            body = error.response.body.decode("utf-8", "replace").strip().splitlines() if error.response.body else []
            return f"handshake_refused: HTTP {code}" + (f" — {body[0]}" if body else "")
        if isinstance(error, InvalidHandshake):
            return f"handshake_failed: {error}"
        if isinstance(error, ConnectionLost):
            return f"connection_lost: {error}"
        if isinstance(error, CsmsTimeout):
            return f"csms_timeout: {error}"
        if isinstance(error, ConnectionRefusedError):
            return f"csms_unreachable: connection refused at {where} — is the central system running?"
        if isinstance(error, socket.gaierror):
            return f"csms_unreachable: cannot resolve the host of {where} — check the URL"
        if isinstance(error, TimeoutError):
            return f"csms_unreachable: no answer from {where} within {OPEN_TIMEOUT:g} s — is the URL right?"
        if isinstance(error, OSError):
            return f"csms_unreachable: {error.strerror or error} at {where} — is the central system running?"
        return f"error: {type(error).__name__}: {error}"
