"""The composition root: one running depot (store, core, central system, simulated chargers).

Both the embedded console and `serve` run one of these; only the front end differs.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING
from pathlib import Path

from console.api.events import EventLogSettings
from console.api.limits import ApiLimits
from console.api.server import ApiServer
from console.core.clock import Clock, SystemClock
from console.core.certificates import LabCA
from console.core.errors import ConsoleError, ValidationFailed
from console.core.live import DEFAULT_CLOCK_SKEW_S
from console.core.retention import Pruner, RetentionPolicy
from console.core.service import ConsoleService
from console.core.store import Store
from console.csms.server import CentralSystem
from console.resources import sample_fleet_path
from console.sim.clock import SpeedClock
from console.sim.manager import SimManager

if TYPE_CHECKING:
    from console.core.cluster import Cluster

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
    # Security profile 3: chargers' client certificates are verified against this CA.
    tls_client_ca: Path | None = None
    # A lab CA that signs chargers' certificate signing requests (both or neither).
    ca_cert: Path | None = None
    ca_key: Path | None = None
    # The REST API (headless mode): None runs none; 0 takes any free port.
    api_port: int | None = None
    # The API binds loopback whatever --host says: publishing it takes --api-host (and, off loopback, TLS).
    api_host: str = "127.0.0.1"
    api_tls_cert: Path | None = None
    api_tls_key: Path | None = None
    api_limits: ApiLimits = field(default_factory=ApiLimits)
    # What /events keeps to replay after Last-Event-ID.
    event_log: EventLogSettings = field(default_factory=EventLogSettings)
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
    # The base URL chargers reach the console's files at (firmware images, log uploads); None: the API's own
    # URL, or without the API the embedded file server on loopback (which only chargers on this host reach).
    files_url: str | None = None
    # How long each kind of data is kept (core.retention); the pruner runs in the background.
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    # This node's name in a cluster of serve on one PostgreSQL store (core.cluster); None: a single node.
    node_name: str | None = None


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


def server_tls(cert: Path | None, key: Path | None, client_ca: Path | None = None) -> ssl.SSLContext | None:
    """The TLS context of the OCPP server, or None for plain ws://. With `client_ca`, a client certificate is
    asked for and, when given, verified against it (security profile 3; one not signed by it fails the TLS
    handshake); chargers of profile 1 and 2 still connect without one."""
    if client_ca is not None and cert is None:
        raise ConsoleError("--tls-client-ca needs TLS: give --tls-cert and --tls-key too")
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
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError) as error:
            raise ConsoleError(f"cannot load the client CA {client_ca}: {error}") from error
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def lab_certificate_authority(cert: Path | None, key: Path | None) -> LabCA | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConsoleError("the lab CA needs both its certificate (--ca-cert) and its key (--ca-key)")
    try:
        return LabCA.load(cert, key)
    except ValidationFailed as error:
        raise ConsoleError(error.problems["ca"]) from None


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Depot:
    def __init__(self, settings: DepotSettings, clock: Clock | None = None) -> None:
        ssl_context = server_tls(settings.tls_cert, settings.tls_key, settings.tls_client_ca)  # before anything is opened
        lab_ca = lab_certificate_authority(settings.ca_cert, settings.ca_key)
        self.settings = settings
        self.clock = clock or SystemClock()
        # A second console or serve on this store is refused here (a cluster's nodes share it).
        self.store = Store(settings.db_url, owner=True, cluster=settings.node_name is not None)
        self.service = ConsoleService(self.store, clock=self.clock, read_only=settings.read_only)
        self.service.writer.drain_timeout = settings.stop_timeout
        self.service.tokens.unknown = settings.unknown_tokens
        self.service.certificates.ca = lab_ca
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
        self.files: ApiServer | None = None
        if settings.api_port is not None:  # built now, so a bad API certificate stops the start before anything opens
            self.api = ApiServer(
                self.service, settings.api_host, settings.api_port, environment=settings.environment,
                limits=settings.api_limits, tls_cert=settings.api_tls_cert, tls_key=settings.api_tls_key,
                event_log=settings.event_log,
            )
        self.pruner = Pruner(self.store, settings.retention, self.clock)
        self.service.pruner = self.pruner
        self.cluster: Cluster | None = None
        if settings.node_name is not None:
            # Imported only for a cluster node: a single node does not load psycopg for it.
            from console.core.cluster import Cluster, IdBlocks

            self.cluster = Cluster(
                settings.node_name, self.store.url, self.service.live, self.store, call_timeout=settings.call_timeout
            )
            self.cluster.ocpp_url = self.central.url
            self.service.engine.claim = self.cluster.claim
            self.pruner.leads = partial(self.cluster.leads, "retention")
            self.service.power_cap.leads = partial(self.cluster.leads, "power cap")
            self.service.live.resume_on_connect = True
            self.cluster.registrations = self.service.registrations
            self.cluster.engine = self.service.engine
            self.service.ledger.listeners.append(self.cluster.action_changed)
            self.service.registrations.decision_listeners.append(self.cluster.decided)
            self.central.connection_listeners.append(self.cluster.connection_changed)
            self.service.live.log_ids = IdBlocks(self.store.url, "logentry").take
            if self.api is not None:
                self.api.app.state.events.ids = IdBlocks(self.store.url, "streamevent").take
                self.api.app.state.events.mirrored = self.cluster.mirrored
                self.api.app.state.webhooks.leads = partial(self.cluster.leads, "webhooks")

    async def start(self) -> None:
        raise_open_files_limit()
        if self.cluster is not None:  # before the engine reloads: its claims are the cluster's
            await self.cluster.start()
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
        if self.cluster is not None:
            from console.core.cluster import ClusterGateway

            self.service.attach(gateway=ClusterGateway(self.central, self.cluster))
        if self.settings.simulate:
            self.sims = SimManager(
                self.service.live,
                SpeedClock(self.settings.speed) if self.settings.speed != 1 else self.clock,
                self.central.local_url,
                seed=self.settings.seed,
                ssl_context=self._sim_tls(),
            )
            self.service.attach(runtime=self.sims)
            if self.service.certificates.ca is not None:  # simulated profile 3 chargers get their certificates from the lab CA
                self.sims.provision = self.service.certificates.ca.issue
            await self.sims.start_all()
        if self.api is not None:
            await self.api.start()
            if self.api.scheme == "http" and not is_loopback(self.settings.api_host):
                log.warning(
                    "the REST API on %s is plain HTTP: API keys cross the network in clear text "
                    "(use --api-tls-cert/--api-tls-key, or bind 127.0.0.1 behind a TLS reverse proxy)", self.api.url,
                )
            self.service.firmware.serve_at(self.settings.files_url or self.api.url)
            if self.cluster is not None:
                await self.cluster.describe(self.central.url, self.api.url)
        else:
            # No REST API: a small server of its own lets chargers fetch firmware and upload logs.
            self.files = ApiServer(self.service, "127.0.0.1", 0, files_only=True)
            await self.files.start()
            self.service.firmware.serve_at(self.settings.files_url or self.files.url)

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
        if self.files is not None:
            await self.files.stop()
        if self.sims is not None:
            await self.sims.close()
        await self.central.stop()
        await self.pruner.stop()
        await self.service.close()
        if self.cluster is not None:
            await self.cluster.stop()
        self.store.close()
        return self.service.writer.lost + self.service.writer.dropped
