"""uvicorn inside the core's event loop: started as a task, stopped by `should_exit`.

It speaks HTTPS when given a certificate and key, and runs the h11 protocol
with the connection guard of limits.py (header deadline, connection caps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Generator
from pathlib import Path

import uvicorn

from console.api.app import create_app, create_files_app
from console.api.events import EventLogSettings
from console.api.limits import ApiLimits, ConnectionGuard, guarded_protocol
from console.api.webhooks import WebhookSettings
from console.core.errors import ConsoleError
from console.core.service import ConsoleService

log = logging.getLogger("console.api")


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The process that embeds the API owns SIGINT/SIGTERM (it drains the whole depot).
        yield


class ApiServer:
    def __init__(
        self,
        service: ConsoleService,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        environment: str = "production",
        ocpp_listening: Callable[[], bool] | None = None,
        heartbeat_s: float = 15.0,
        access_log: bool = False,
        limits: ApiLimits | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        event_log: EventLogSettings | None = None,
        webhooks: WebhookSettings | None = None,
        files_only: bool = False,
    ) -> None:
        if (tls_cert is None) != (tls_key is None):
            raise ConsoleError("API TLS needs both a certificate (--api-tls-cert) and its private key (--api-tls-key)")
        limits = limits or ApiLimits()
        # files_only: the embedded console's file server (firmware images, log uploads), no REST API.
        self.app = (
            create_files_app(service)
            if files_only
            else create_app(
                service, environment=environment, ocpp_listening=ocpp_listening, heartbeat_s=heartbeat_s, limits=limits,
                event_log=event_log, webhook_settings=webhooks,
            )
        )
        self.guard = ConnectionGuard(limits)
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            http=guarded_protocol(self.guard),
            log_config=None,
            access_log=access_log,
            lifespan="off",
            timeout_graceful_shutdown=5,
            ssl_certfile=str(tls_cert) if tls_cert is not None else None,
            ssl_keyfile=str(tls_key) if tls_key is not None else None,
        )
        if tls_cert is not None:
            try:
                config.load()  # the certificate is read now, so a bad one stops the start with a clear message
            except (OSError, ValueError) as error:
                raise ConsoleError(f"cannot load the API's TLS certificate {tls_cert} with key {tls_key}: {error}") from error
        self.scheme = "https" if tls_cert is not None else "http"
        self.server = _EmbeddedServer(config)
        self.files_only = files_only
        self.host = host
        self.port = port
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    async def start(self) -> None:
        """Listen; returns once the socket is bound (raises OSError when it cannot be)."""
        # Bound here rather than by uvicorn, which would exit the process on a busy port.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family)
        self.port = sock.getsockname()[1]
        await self._start_streams()
        self._task = asyncio.create_task(
            self.server.serve(sockets=[sock]), name="file server" if self.files_only else "REST API"
        )
        while not self.server.started:
            if self._task.done():
                sock.close()
                await self._stop_streams()
                raise OSError(f"the {self._task.get_name()} could not start on {self.url}") from self._task.exception()
            await asyncio.sleep(0.01)
        log.info("%s listening on %s", self._task.get_name(), self.url)

    async def stop(self) -> None:
        """Stop accepting, end the event streams, let requests in flight finish."""
        if self._task is None:
            return
        await self._stop_streams()
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _start_streams(self) -> None:
        """The event hub and webhook deliveries (the REST API's; a file server has neither)."""
        if not self.files_only:
            await self.app.state.events.start()
            await self.app.state.webhooks.start()

    async def _stop_streams(self) -> None:
        if not self.files_only:
            await self.app.state.webhooks.stop()
            await self.app.state.events.stop()
