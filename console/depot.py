"""The composition root: one running depot (store, core, central system, simulated chargers).

Both the embedded console and `serve` run one of these; only the front end differs.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from console.api.server import ApiServer
from console.core.clock import Clock, SystemClock
from console.core.errors import ConsoleError
from console.core.live import DEFAULT_CLOCK_SKEW_S
from console.core.retention import Pruner, RetentionPolicy
from console.core.service import ConsoleService
from console.core.store import Store
from console.csms.server import CentralSystem
from console.resources import sample_fleet_path
from console.sim.clock import SpeedClock
from console.sim.manager import SimManager

log = logging.getLogger("console.depot")

# Each charger connection is an open file; many systems start processes with a soft limit of 1,024.
OPEN_FILES_WANTED = 1_048_576


def raise_open_files_limit() -> int | None:
    """Raise this process's open-files limit to what it may have (at most OPEN_FILES_WANTED); the limit now.

    A depot of thousands of chargers needs thousands of sockets; a soft limit of
    1,024 would refuse the rest with "too many open files". The hard limit is the
    system's to set: when it is low, say so once at start.
    """
    try:
        import resource
    except ImportError:  # not on this platform (Windows): nothing to raise
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError) as error:
            log.warning("could not raise the open-files limit from %d: %s", soft, error)
    if soft != resource.RLIM_INFINITY and soft < 12_000:
        log.warning(
            "open-files limit %d: at most about %d chargers can connect (raise the hard limit: ulimit -Hn)", soft, soft - 100
        )
    return soft


@dataclass
class DepotSettings:
    db_url: str | None = None
    host: str = "127.0.0.1"
    ocpp_port: int = 9000
    heartbeat_interval: int = 60
    # How long a charger has to answer an operation before the action fails with a timeout.
    call_timeout: float = 30.0
    simulate: bool = True
    seed: int | None = None
    read_only: bool = False
    # Imported into an empty store: the embedded console's newcomer path; `serve` only with --demo.
    first_run_fleet: Path | None = field(default_factory=sample_fleet_path)
    # Both given: the OCPP server speaks wss:// (security profile 2 with a charger password).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # The REST API (headless mode): None runs none; 0 takes any free port.
    api_port: int | None = None
    api_host: str = "127.0.0.1"
    environment: str = "production"
    # Unknown chargers get a Pending record instead of a 404 at the handshake.
    auto_register: bool = False
    # permessage-deflate per subprotocol; None: $OCPP_CONSOLE_COMPRESSION, else on for 2.0.1/2.1 and off for 1.6.
    compression: dict[str, bool] | None = None
    # Simulated time runs this many times faster (demos).
    speed: float = 1.0
    # How long a stop waits for acknowledged rows still queued while the store takes no writes (s).
    stop_timeout: float = 10.0
    # Every charger in tolerant mode (quirky firmware's transaction and meter messages taken, with warnings).
    tolerant: bool = False
    # A charger's clock further than this (s) from ours is wrong: its times are taken as received.
    max_clock_skew_s: float = DEFAULT_CLOCK_SKEW_S
    # What a token not in the registry gets: "accept" (a lab) or "reject" (`serve` with real chargers).
    unknown_tokens: str = "accept"
    # How long each kind of data is kept (core.retention); the pruner runs in the background.
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)


# The TLS 1.2 suites the OCPP server offers: Python's default (forward-secret ECDHE/DHE suites
# only) and, after them, the two RSA key-exchange suites OCPP's security profiles require a
# central system to support besides the ECDHE ones (OCPP 2.0.1 Part 2 and the 1.6 security
# whitepaper, TLS requirements): TLS_RSA_WITH_AES_128_GCM_SHA256 and TLS_RSA_WITH_AES_256_GCM_SHA384.
# Python's default leaves them out, so a charger that implements only those could not connect.
# TLS 1.3 suites are set apart by OpenSSL and stay its defaults.
TLS12_CIPHERS = (
    "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:AES128-GCM-SHA256:AES256-GCM-SHA384"
    ":!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"
)


def server_tls(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The TLS context of the OCPP server, or None for plain ws://."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConsoleError("TLS needs both a certificate (--tls-cert) and its private key (--tls-key)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # OCPP's security profiles require TLS 1.2 or later
    context.set_ciphers(TLS12_CIPHERS)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise ConsoleError(f"cannot load the TLS certificate {cert} with key {key}: {error}") from error
    return context


class Depot:
    def __init__(self, settings: DepotSettings, clock: Clock | None = None) -> None:
        ssl_context = server_tls(settings.tls_cert, settings.tls_key)  # before anything is opened
        self.settings = settings
        self.clock = clock or SystemClock()
        self.store = Store(settings.db_url, owner=True)  # a second console or serve on this store is refused here
        self.service = ConsoleService(self.store, clock=self.clock, read_only=settings.read_only)
        self.service.writer.drain_timeout = settings.stop_timeout
        self.service.tokens.unknown = settings.unknown_tokens
        # Simulated time at --speed runs ahead of ours by design, further every minute: no clock is checked then.
        self.service.live.max_clock_skew_s = settings.max_clock_skew_s if settings.speed == 1 else float("inf")
        self.central = CentralSystem(
            self.service,
            host=settings.host,
            port=settings.ocpp_port,
            heartbeat_interval=settings.heartbeat_interval,
            call_timeout=settings.call_timeout,
            ssl_context=ssl_context,
            auto_register=settings.auto_register,
            compression=settings.compression,
            tolerant=settings.tolerant,
        )
        self.sims: SimManager | None = None
        self.api: ApiServer | None = None
        self.pruner = Pruner(self.store, settings.retention, self.clock)
        self.service.pruner = self.pruner

    async def start(self) -> None:
        raise_open_files_limit()
        await self.service.open()
        self.pruner.start()
        if self.store.schema.created:
            log.warning(
                "a new store: %s did not exist (or had no tables) and was created empty%s", self.store.display_url,
                "" if self.settings.first_run_fleet is not None
                else " (no chargers: import a fleet with `ocpp-console fleet import FILE`, or start with --demo)",
            )
        if self.settings.first_run_fleet is not None:
            imported = await self.service.import_if_empty(self.settings.first_run_fleet)
            if imported:
                log.info("first run: imported %d chargers from %s", imported, self.settings.first_run_fleet)
        await self.central.start()
        if self.settings.simulate:
            self.sims = SimManager(
                self.service.live,
                SpeedClock(self.settings.speed) if self.settings.speed != 1 else self.clock,
                self.central.local_url,
                seed=self.settings.seed,
                ssl_context=self._sim_tls(),
            )
            self.service.attach(runtime=self.sims)
            await self.sims.start_all()
        if self.settings.api_port is not None:
            self.api = ApiServer(
                self.service, self.settings.api_host, self.settings.api_port, environment=self.settings.environment
            )
            await self.api.start()

    def _sim_tls(self) -> ssl.SSLContext | None:
        """Our own simulators reach a wss:// listener on loopback trusting its certificate, whatever its host name."""
        if self.settings.tls_cert is None:
            return None
        context = ssl.create_default_context(cafile=str(self.settings.tls_cert))
        context.check_hostname = False
        return context

    async def stop(self) -> int:
        """Stop everything; the acknowledged rows the store did not take (0: nothing lost)."""
        if self.api is not None:  # first: no new requests while the rest winds down
            await self.api.stop()
        if self.sims is not None:
            await self.sims.close()
        await self.central.stop()
        await self.pruner.stop()
        await self.service.close()
        self.store.close()
        return self.service.writer.lost + self.service.writer.dropped
