"""uvicorn inside the core's event loop: started as a task, stopped by `should_exit`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Generator

import uvicorn

from console.api.app import create_app, create_files_app
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
        files_only: bool = False,
    ) -> None:
        # files_only: the embedded console's file server (firmware images, log uploads), no REST API.
        self.app = (
            create_files_app(service)
            if files_only
            else create_app(service, environment=environment, ocpp_listening=ocpp_listening, heartbeat_s=heartbeat_s)
        )
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_config=None,
            access_log=access_log,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self.server = _EmbeddedServer(config)
        self.files_only = files_only
        self.host = host
        self.port = port
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen; returns once the socket is bound (raises OSError when it cannot be)."""
        # Bound here rather than by uvicorn, which would exit the process on a busy port.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family)
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(
            self.server.serve(sockets=[sock]), name="file server" if self.files_only else "REST API"
        )
        while not self.server.started:
            if self._task.done():
                sock.close()
                raise OSError(f"the {self._task.get_name()} could not start on {self.url}") from self._task.exception()
            await asyncio.sleep(0.01)
        log.info("%s listening on %s", self._task.get_name(), self.url)

    async def stop(self) -> None:
        """Stop accepting, end the event streams, let requests in flight finish."""
        if self._task is None:
            return
        self.app.state.streams.close_all()
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
