"""The runtime behind simulated chargers: one asyncio task per charger, reconnecting.

`SimManager` implements `console.core.ports.RuntimeControl`. Every state
change goes to the reporter's `runtime_changed` and every runtime event to the
charger's log, so the UI sees why a charger is not online. Each runtime also
keeps its provisioning stages (queued → starting → connecting → registering →
online), each ok, failed, stuck or pending, with a verdict and a hint.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import socket
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from console.core.clock import Clock
from console.core.errors import NotFound, Unavailable
from console.sim.charger import (
    POWER_LOSS,
    REBOOT,
    ConnectionLost,
    CsmsTimeout,
    NotAccepted,
    SessionPlan,
    SimulatedCharger,
)
from console.sim.report import RuntimeReporter
from console.sim.v16 import Charger16
from console.sim.v201 import Charger201
from console.core.versions import OcppVersion

log = logging.getLogger("console.sim")

BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
OPEN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 1.0
STOP_TIMEOUT = 2.0
# How long a charger being stopped waits for the central system to answer the end of its sessions.
SESSION_END_TIMEOUT = 2.0
# This many failures within the window make a crash loop.
CRASH_LOOP_FAILURES = 5
CRASH_LOOP_WINDOW = timedelta(minutes=5)
CHARGERS: dict[str, type[SimulatedCharger]] = {OcppVersion.V16: Charger16, OcppVersion.V201: Charger201}
SUPPORTED_VERSIONS = tuple(CHARGERS)
STAGES = ("queued", "starting", "connecting", "registering", "online")
HINTS = {
    "csms_unreachable": "Start the central system, or fix the URL (host, port, ws:// or wss://).",
    "handshake_refused_404": "Register this identity in the central system, or fix the identity in the URL.",
    "handshake_refused_401": (
        "The central system wants a password this simulated charger does not have: set the charger's password "
        "again (e, Edit) and it keeps its own copy to connect with."
    ),
    "handshake_refused_subprotocol": "Set the charger's OCPP version to one the central system speaks for it.",
    "handshake_refused": "The central system refused the WebSocket handshake: see its log for why.",
    "tls_failed": "Trust the central system's certificate (CA file) or use the right wss:// host name.",
    "boot_rejected": "The central system rejects this charger (its BootNotification or, once an operator rejected it, "
    "its handshake): accept it there.",
    "boot_pending": "The central system keeps the charger Pending: finish its registration there.",
    "connection_lost": "The connection dropped; the runtime reconnects by itself. If it keeps happening, "
    "check the central system's log.",
    "csms_timeout": "The central system did not answer a CALL in time: is it overloaded or stuck?",
    "crash_loop": "The runtime keeps failing: fix the cause in the last error, then restart it.",
    "unsupported_version": "Set the charger's OCPP version to OCPP1.6 or OCPP2.0.1.",
    "error": "An unexpected error: see the console's log.",
}


class HandshakeRefused(Exception):
    """The server opened the WebSocket without the subprotocol the charger needs."""


@dataclass
class Target:
    """Where one simulated charger connects, and how."""

    url: str
    password: str | None = None
    ssl_context: ssl.SSLContext | None = None


@dataclass
class Stage:
    name: str
    status: str = "pending"  # pending | ok | failed | stuck
    detail: str | None = None


@dataclass
class Runtime:
    charger_id: str
    charger: SimulatedCharger
    backoff_rng: random.Random
    state: str = "stopped"
    detail: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    stages: list[Stage] = field(default_factory=lambda: [Stage(name) for name in STAGES])
    verdict: str | None = None
    hint: str | None = None
    failures: deque[datetime] = field(default_factory=deque)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def stage(self, name: str, status: str, detail: str | None = None) -> None:
        for stage in self.stages:
            if stage.name == name:
                stage.status, stage.detail = status, detail
                return

    def reset_stages(self, start: str) -> None:
        """Every stage from `start` on becomes pending again."""
        reached = False
        for stage in self.stages:
            reached = reached or stage.name == start
            if reached:
                stage.status, stage.detail = "pending", None


def basic_auth(identity: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode("ascii")


def ssl_context_for(ca_file: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    """A client TLS context: the system's CAs, or `ca_file`; `insecure` skips verification (labs only)."""
    context = ssl.create_default_context(cafile=ca_file)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SimManager:
    def __init__(
        self,
        live: RuntimeReporter,
        clock: Clock,
        csms_url: str,
        seed: int | None = None,
        auto_sessions: bool = True,
        reconnect: bool = True,
        *,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        plan: SessionPlan | None = None,
        response_timeout: float = 30.0,
    ) -> None:
        self.live = live
        self.clock = clock
        self.target = Target(csms_url.rstrip("/"), password, ssl_context)
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.auto_sessions = auto_sessions
        self.reconnect = reconnect
        self.plan = plan or SessionPlan()
        self.response_timeout = response_timeout
        self._targets: dict[str, Target] = {}
        self._plans: dict[str, SessionPlan] = {}
        # Security profile 3: issues a charger its client certificate and key (PEM) by its identity
        # (the depot's lab CA); without it such a charger connects with none, and is refused.
        self.provision: Callable[[str], tuple[str, str]] | None = None
        self._runtimes: dict[str, Runtime] = {}

    @property
    def csms_url(self) -> str:
        return self.target.url

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
        runtime = self._runtime(charger_id)
        runtime.reset_stages("queued")
        runtime.verdict = runtime.hint = None
        runtime.failures.clear()
        runtime.stage("queued", "ok")
        if record.ocpp_version not in SUPPORTED_VERSIONS:
            known = ", ".join(SUPPORTED_VERSIONS)
            detail = f"unsupported: {record.ocpp_version} chargers cannot be simulated (only {known})"
            runtime.stage("starting", "failed", detail)
            runtime.verdict, runtime.hint = "unsupported_version", HINTS["unsupported_version"]
            self._set(runtime, "crashed", detail, f"runtime: {detail}")
            return f"{record.identity} cannot start: {detail}"
        self._set(runtime, "starting", None, "runtime: starting")
        if type(runtime.charger) is not CHARGERS[record.ocpp_version]:
            # The record changed version: a new charger (its energy registers start afresh).
            del self._runtimes[charger_id]
            runtime = self._runtime(charger_id)
            runtime.stage("queued", "ok")
        runtime.charger.update_record(record)
        runtime.stage("starting", "ok")
        runtime.task = asyncio.get_running_loop().create_task(self._run(runtime), name=f"sim {record.identity}")
        return f"{record.identity} started"

    async def stop(self, charger_id: str, reason: str = POWER_LOSS) -> str:
        """Switch the charger off: its sessions end (with `reason`, as 1.6 words it), then the connection closes."""
        runtime = self._runtimes.get(charger_id)
        record = self.live.record(charger_id)
        identity = record.identity if record else (runtime.charger.identity if runtime else charger_id)
        if runtime is None or not runtime.running:
            return f"{identity} is not running"
        self._set(runtime, "stopping", None, "runtime: stopping (ending its sessions, closing the connection)")
        await runtime.charger.power_off(reason, SESSION_END_TIMEOUT)
        assert runtime.task is not None
        runtime.task.cancel()
        await asyncio.wait({runtime.task}, timeout=STOP_TIMEOUT)
        runtime.reset_stages("queued")
        runtime.verdict = runtime.hint = None
        self._set(runtime, "stopped", None, "runtime: stopped")
        return f"{identity} stopped"

    async def restart(self, charger_id: str) -> str:
        await self.stop(charger_id, REBOOT)
        outcome = await self.start(charger_id)
        if outcome.endswith(" started"):
            return outcome.removesuffix(" started") + " restarted"
        return outcome

    # -- provisioning ----------------------------------------------------------------

    def provisioning(self, charger_id: str) -> dict[str, Any]:
        """Where the charger's runtime stands: the current stage, every stage, a verdict and a hint."""
        if self.live.record(charger_id) is None:
            raise NotFound(f"no charger {charger_id!r}")
        runtime = self._runtimes.get(charger_id)
        if runtime is None:
            stages = [Stage(name) for name in STAGES]
            state, detail, verdict, hint = "stopped", None, None, None
        else:
            stages, state, detail = runtime.stages, runtime.state, runtime.detail
            verdict, hint = runtime.verdict, runtime.hint
        current = next((s.name for s in stages if s.status != "ok"), "online")
        return {
            "state": state,
            "stage": current if state != "stopped" or verdict else "stopped",
            "stages": [{"name": s.name, "status": s.status, "detail": s.detail} for s in stages],
            "verdict": verdict,
            "detail": detail,
            "hint": hint,
        }

    # -- targets ---------------------------------------------------------------------

    def set_target(
        self, charger_id: str, url: str | None, password: str | None = None, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """Point one simulated charger at another central system (None: back to the default); next connection."""
        if url is None:
            self._targets.pop(charger_id, None)
        else:
            self._targets[charger_id] = Target(url.rstrip("/"), password, ssl_context)

    def set_plan(self, charger_id: str, plan: SessionPlan) -> None:
        """Give one charger its own session generator (arrivals, durations, SoC); from its next EV."""
        self._plans[charger_id] = plan
        runtime = self._runtimes.get(charger_id)
        if runtime is not None:
            runtime.charger.plan = plan

    def target_of(self, charger_id: str) -> Target:
        return self._targets.get(charger_id, self.target)

    # -- fleet-wide --------------------------------------------------------------------

    def _simulated(self, location_id: str | None = None) -> list[str]:
        chosen = []
        for charger_id in self.live.ids():
            record = self.live.record(charger_id)
            if record is not None and record.simulated and (location_id is None or record.location_id == location_id):
                chosen.append(charger_id)
        return chosen

    async def start_all(self) -> None:
        """Start every simulated charger of the fleet."""
        for charger_id in self._simulated():
            await self.start(charger_id)

    async def start_location(self, location_id: str) -> list[str]:
        return [await self.start(charger_id) for charger_id in self._simulated(location_id)]

    async def stop_location(self, location_id: str) -> list[str]:
        return list(await asyncio.gather(*(self.stop(c) for c in self._simulated(location_id))))

    async def restart_location(self, location_id: str) -> list[str]:
        chargers = self._simulated(location_id)
        await asyncio.gather(*(self.stop(c, REBOOT) for c in chargers))
        started = [await self.start(charger_id) for charger_id in chargers]
        return [message.removesuffix(" started") + " restarted" if message.endswith(" started") else message for message in started]

    async def close(self) -> None:
        """Stop every runtime, concurrently: the console quitting is its chargers losing power.

        Each ends its sessions and hears the answers first (at most
        SESSION_END_TIMEOUT), so call this while the central system still answers.
        """
        running = [charger_id for charger_id, runtime in self._runtimes.items() if runtime.running]
        await asyncio.gather(*(self.stop(charger_id) for charger_id in running))

    def idle(self) -> bool:
        """No simulated charger awaits an answer (tests on a manual clock wait for this)."""
        return all(runtime.charger.idle for runtime in self._runtimes.values())

    def charger(self, charger_id: str) -> SimulatedCharger | None:
        runtime = self._runtimes.get(charger_id)
        return runtime.charger if runtime else None

    # -- operator controls -------------------------------------------------------------

    def _online_charger(self, charger_id: str) -> SimulatedCharger:
        if self.live.record(charger_id) is None:
            raise NotFound(f"no charger {charger_id!r}")
        runtime = self._runtimes.get(charger_id)
        if runtime is None or not runtime.running or not runtime.charger.online:
            identity = self.live.record(charger_id).identity  # type: ignore[union-attr]
            raise Unavailable(f"{identity} is not online: start its runtime first")
        return runtime.charger

    async def _control(self, charger_id: str, control: str, *args: Any) -> str:
        charger = self._online_charger(charger_id)
        try:
            outcome: str = getattr(charger, control)(*args)
        except NotAccepted as refused:
            raise Unavailable(str(refused)) from refused
        self.live.log(charger.identity, "event", f"operator: {outcome}", charger_id=charger_id)
        return outcome

    async def plug_in(
        self, charger_id: str, connector_id: int, soc: float | None = None, battery_kwh: float | None = None
    ) -> str:
        return await self._control(charger_id, "plug_in", connector_id, soc, battery_kwh)

    async def unplug(self, charger_id: str, connector_id: int) -> str:
        return await self._control(charger_id, "unplug", connector_id)

    async def present_id_tag(self, charger_id: str, connector_id: int, id_tag: str) -> str:
        return await self._control(charger_id, "present_id_tag", connector_id, id_tag)

    async def inject_fault(self, charger_id: str, connector_id: int, error_code: str = "OtherError") -> str:
        return await self._control(charger_id, "inject_fault", connector_id, error_code)

    async def clear_fault(self, charger_id: str, connector_id: int) -> str:
        return await self._control(charger_id, "clear_fault", connector_id)

    async def drop_connection(self, charger_id: str) -> str:
        charger = self._online_charger(charger_id)
        charger.drop()
        message = f"{charger.identity}: connection dropped (the runtime reconnects)"
        self.live.log(charger.identity, "event", f"operator: {message}", charger_id=charger_id)
        return message

    # -- one charger -------------------------------------------------------------------

    def _runtime(self, charger_id: str) -> Runtime:
        runtime = self._runtimes.get(charger_id)
        if runtime is None:
            record = self.live.record(charger_id)
            assert record is not None
            kind = CHARGERS.get(record.ocpp_version, Charger16)
            # Seeded per identity: chargers are independent of each other and of start order.
            charger = kind(
                record,
                self.clock,
                random.Random(f"{self.seed}:{record.identity}"),
                auto_sessions=self.auto_sessions,
                response_timeout=self.response_timeout,
                plan=self._plans.get(charger_id, self.plan),
            )
            runtime = Runtime(charger_id, charger, random.Random(f"{self.seed}:{record.identity}:backoff"))
            charger.on_boot = lambda status, interval: self._booted(runtime, status, interval)
            self._runtimes[charger_id] = runtime
        return runtime

    def _set(self, runtime: Runtime, state: str, detail: str | None, message: str | None = None) -> None:
        runtime.state, runtime.detail = state, detail
        self.live.runtime_changed(runtime.charger_id, state, detail)
        if message is not None:
            self.live.log(runtime.charger.identity, "event", message, charger_id=runtime.charger_id)

    def _url(self, runtime: Runtime) -> str:
        return f"{self.target_of(runtime.charger_id).url}/{quote(runtime.charger.identity, safe='')}"

    def _booted(self, runtime: Runtime, status: str, interval: int) -> None:
        if status == "Accepted":
            runtime.stage("registering", "ok")
            runtime.stage("online", "ok")
            runtime.verdict = runtime.hint = None
            return
        retry = f"; retrying in {interval or 30} s"
        if status == "Pending":
            runtime.stage("registering", "stuck", "BootNotification answered Pending" + retry)
            runtime.verdict, runtime.hint = "boot_pending", HINTS["boot_pending"]
            detail = "boot_pending: the central system keeps the charger Pending" + retry
        else:
            runtime.stage("registering", "failed", f"BootNotification answered {status}" + retry)
            runtime.verdict, runtime.hint = "boot_rejected", HINTS["boot_rejected"]
            detail = f"boot_rejected: the central system answered the BootNotification {status}" + retry
        self._set(runtime, "registering", detail, f"runtime: {detail}")

    async def _run(self, runtime: Runtime) -> None:
        failures = 0
        retry_detail: str | None = None
        while True:
            url = self._url(runtime)
            runtime.reset_stages("connecting")
            self._set(runtime, "connecting", retry_detail, f"runtime: connecting to {url}")
            try:
                reason = await self._connect_and_serve(runtime, url)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                verdict, detail = self._describe(error, runtime)
                if not isinstance(error, (OSError, InvalidHandshake, ConnectionLost, CsmsTimeout, HandshakeRefused)):
                    log.exception("simulated charger %s failed", runtime.charger.identity)
            else:
                failures, retry_detail = 0, f"rebooting after a {reason}"
                message = f"runtime: rebooting after a {reason}"
                self.live.log(runtime.charger.identity, "event", message, charger_id=runtime.charger_id)
                continue
            self._failed(runtime, verdict, detail)
            if runtime.verdict == "crash_loop":
                detail = f"crash_loop: {len(runtime.failures)} failures in {self._window_text()}; last: {detail}"
            self._set(runtime, "crashed", detail, f"runtime: crashed — {detail}")
            if not self.reconnect:
                return
            failures += 1
            delay = self._backoff(runtime, failures)
            retry_detail = f"retry {failures} after {detail}"
            self.live.log(
                runtime.charger.identity, "event", f"runtime: retrying in {delay:.1f} s", charger_id=runtime.charger_id
            )
            await self.clock.sleep(delay)

    def _window_text(self) -> str:
        return f"{CRASH_LOOP_WINDOW.total_seconds() / 60:g} min"

    def _failed(self, runtime: Runtime, verdict: str, detail: str) -> None:
        """Flag the stage that failed, and notice a crash loop."""
        # A handshake refused because an operator rejected the charger is a registration decision.
        stage = "registering" if runtime.stages[2].status == "ok" or verdict == "boot_rejected" else "connecting"
        if verdict in ("connection_lost", "csms_timeout") and runtime.stages[4].status == "ok":
            stage = "online"
        runtime.stage(stage, "failed", detail)
        now = self.clock.now()
        runtime.failures.append(now)
        while runtime.failures and now - runtime.failures[0] > CRASH_LOOP_WINDOW:
            runtime.failures.popleft()
        # The three ways of refusing a handshake share a verdict and differ in the fix.
        runtime.verdict = "handshake_refused" if verdict.startswith("handshake_refused") else verdict
        runtime.hint = HINTS.get(verdict, HINTS["error"])
        if len(runtime.failures) >= CRASH_LOOP_FAILURES:
            runtime.verdict = "crash_loop"
            runtime.hint = f"{HINTS['crash_loop']} {runtime.hint}"

    async def _connect_and_serve(self, runtime: Runtime, url: str) -> str:
        target = self.target_of(runtime.charger_id)
        record = self.live.record(runtime.charger_id)
        # A password given with the target wins; else the charger's own, as set in its record.
        password = target.password if target.password is not None else (record.sim_password if record else None)
        headers = {}
        if password is not None:
            headers["Authorization"] = basic_auth(runtime.charger.identity, password)
        wanted = runtime.charger.subprotocol
        tls = target.ssl_context if url.startswith("wss://") else None
        certificates = runtime.charger.certificates
        if tls is not None and record is not None and record.security_profile == 3 and certificates.certificate is None:
            if self.provision is not None:  # a charger of profile 3 leaves the factory with its certificate
                certificates.provision(*self.provision(runtime.charger.identity))
        async with connect(
            url,
            subprotocols=[wanted],  # type: ignore[list-item]
            additional_headers=headers or None,
            ssl=certificates.tls(tls),
            open_timeout=OPEN_TIMEOUT,
            close_timeout=CLOSE_TIMEOUT,
            compression=None,
            proxy=None,
        ) as connection:
            if connection.subprotocol != wanted:
                await connection.close(1002, f"{wanted} required")
                raise HandshakeRefused(
                    f"the central system did not agree to {wanted} (it chose {connection.subprotocol or 'none'})"
                )
            runtime.stage("connecting", "ok")
            self._set(runtime, "registering", None, f"runtime: connected ({connection.subprotocol}), booting")

            def online() -> None:
                runtime.failures.clear()
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
        delay = base * runtime.backoff_rng.uniform(0.5, 1.0) + runtime.backoff_rng.uniform(0, 0.5)
        # The network does not run faster at a demo's speed: retry in wall seconds, not simulated ones.
        return delay * getattr(self.clock, "speed", 1.0)

    def _describe(self, error: BaseException, runtime: Runtime) -> tuple[str, str]:
        """(verdict, detail) of a failed connection."""
        where = self.target_of(runtime.charger_id).url
        if isinstance(error, InvalidStatus):
            code = error.response.status_code
            if code == 404:
                return "handshake_refused_404", (
                    "handshake_refused: HTTP 404 — the identity is not registered in the central system"
                )
            body_text = error.response.body.decode("utf-8", "replace") if error.response.body else ""
            if code == 403 and "rejected" in body_text:
                return "boot_rejected", f"boot_rejected: HTTP 403 — {body_text.strip()}"
            if code in (401, 403):
                return "handshake_refused_401", (
                    f"handshake_refused: HTTP {code} — the central system refused the charger's credentials"
                )
            body = error.response.body.decode("utf-8", "replace").strip().splitlines() if error.response.body else []
            verdict = "handshake_refused"
            if code == 400 and any(word in line.lower() for line in body for word in ("subprotocol", "offered")):
                verdict = "handshake_refused_subprotocol"
            return verdict, f"handshake_refused: HTTP {code}" + (f" — {body[0]}" if body else "")
        if isinstance(error, HandshakeRefused):
            return "handshake_refused_subprotocol", f"handshake_refused: {error}"
        if isinstance(error, InvalidHandshake):
            return "handshake_refused", f"handshake_failed: {error}"
        if isinstance(error, ConnectionLost):
            return "connection_lost", f"connection_lost: {error}"
        if isinstance(error, CsmsTimeout):
            return "csms_timeout", f"csms_timeout: {error}"
        if isinstance(error, ssl.SSLError):
            return "tls_failed", f"tls_failed: {error.reason or error} at {where}"
        if isinstance(error, ConnectionRefusedError):
            return "csms_unreachable", (
                f"csms_unreachable: connection refused at {where} — is the central system running?"
            )
        if isinstance(error, socket.gaierror):
            return "csms_unreachable", f"csms_unreachable: cannot resolve the host of {where} — check the URL"
        if isinstance(error, TimeoutError):
            return "csms_unreachable", (
                f"csms_unreachable: no answer from {where} within {OPEN_TIMEOUT:g} s — is the URL right?"
            )
        if isinstance(error, OSError):
            return "csms_unreachable", (
                f"csms_unreachable: {error.strerror or error} at {where} — is the central system running?"
            )
        return "error", f"error: {type(error).__name__}: {error}"
