"""Charger connections served by our own asyncio protocol around websockets' sans-I/O server.

`websockets.asyncio.server.serve` wraps each connection's sans-I/O
`ServerProtocol` in a general-purpose `ServerConnection`: an `Assembler` with
its own queue and futures, an async context manager and locks around every
send, a keepalive task per connection. A central system needs less of it: one
reader per connection, whole text frames, sends that fit the write buffer. This
module drives the same `ServerProtocol` (same handshake, same
`process_request`/`select_subprotocol` hooks, same permessage-deflate
extension objects, same `max_size`, close codes, ping/pong) from a plain
`asyncio.Protocol`, copying what `websockets.asyncio.connection.Connection` does
at each step:

- every `receive_data`/`receive_eof` is followed by writing `data_to_send()`
  (an empty chunk is a half-close: `write_eof`);
- the common case skips the sans-I/O machinery: while the connection is open
  with no extension, no fragmented message under way and the parser at a frame
  boundary, whole final masked text frames within `max_size` are cut from the
  received bytes here, and a whole text message is sent as the frame
  `send_text` would make (`text_frame`). Anything else (control frames,
  fragments, binary, bad or partial frames, permessage-deflate, websockets'
  debug log on) goes through `ServerProtocol` from the same frame boundary;
- a whole text message that arrives while the handler waits in `recv`, with
  nothing queued before it and writes not held up, is offered to the
  handler's `answer_at_once` first (the central system answers a CALL to a
  plain-function handler right there, `write_text`), which saves waking the
  handler's task; what it does not take is queued as below, in order;
- received data frames queue until `recv` takes them; more than `max_queue`
  frames waiting pause reading, down to a quarter resumes it; fragments are
  joined and text decoded in `recv`, which fails the connection with 1009 (too
  many fragments) or 1007 (bad UTF-8) as websockets does;
- a send writes at once and waits only while the transport has paused writing
  (the same 32 KiB write limit);
- once a close is expected (sent, received, or failed), the transport is
  aborted if the peer has not closed TCP within `close_timeout`;
- keepalive: a ping every `ping_interval` (less the last round trip), the
  connection failed with 1011 "keepalive ping timeout" when no pong comes
  within `ping_timeout`; timers, not a task per connection;
- the server closes open connections with 1001 when stopped, answers 503 to
  handshakes still under way, and waits for every handler to return.

What the CSMS uses of `ServerConnection` is here under the same names:
`recv`, `send`, `close`, `wait_closed`, `respond`, `request`, `response`,
`subprotocol`, `remote_address`, `latency`, `state`, `protocol`.

Measured (2-core box, loopback, 50 connections back to back, uvloop, the
server on one core): an OCPP answerer that decodes each CALL and answers it
answers about 40,000 CALLs/s on this layer (about 21 µs of CPU per CALL,
system calls included), against 9,000-12,000 on websockets' asyncio server.
`OCPP_CONSOLE_TRANSPORT=asyncio` (console.csms.server)
brings websockets' asyncio server back.
"""

from __future__ import annotations

import asyncio
import collections
import http
import logging
import os
import random
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from websockets.exceptions import ConcurrencyError, ConnectionClosed, ConnectionClosedOK, TooManyFragments
from websockets.extensions.base import ServerExtensionFactory
from websockets.extensions.permessage_deflate import enable_server_permessage_deflate
from websockets.frames import BINARY, CONT, PONG, TEXT, CloseCode, Frame, apply_mask
from websockets.http11 import SERVER, Request, Response
from websockets.protocol import CLOSED, CONNECTING, OPEN
from websockets.server import ServerProtocol
from websockets.typing import StatusLike, Subprotocol

MAX_FRAGMENTS = int(os.environ.get("WEBSOCKETS_MAX_FRAGMENTS", "4096"))  # websockets' own setting

Handler = Callable[["Connection"], Awaitable[None]]
ProcessRequest = Callable[["Connection", Request], Awaitable[Response | None]]
SelectSubprotocol = Callable[["Connection", Sequence[Subprotocol]], Subprotocol | None]


_SHORT_HEADERS = tuple(bytes((0x81, length)) for length in range(126))


def text_frame(payload: bytes) -> bytes:
    """A whole text frame from a server (unmasked, no extension): the bytes `send_text` would queue."""
    length = len(payload)
    if length < 126:
        return _SHORT_HEADERS[length] + payload
    if length < 65536:
        return b"\x81\x7e" + length.to_bytes(2, "big") + payload
    return b"\x81\x7f" + length.to_bytes(8, "big") + payload


class Connection(asyncio.Protocol):
    """One WebSocket connection: the asyncio protocol and the handler's interface to it."""

    def __init__(
        self,
        server: Listener,
        protocol: ServerProtocol,
        *,
        ping_interval: float | None,
        ping_timeout: float | None,
        close_timeout: float | None,
        max_queue: int | None = 16,
        write_limit: int = 2**15,
    ) -> None:
        self.server = server
        self.protocol = protocol
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.max_queue_high = max_queue
        self.max_queue_low = max_queue // 4 if max_queue is not None else None
        self.write_limit = write_limit
        self.logger = protocol.logger
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport
        self.request: Request | None = None
        self.response: Response | None = None
        self.request_rcvd: asyncio.Future[None] = self.loop.create_future()
        self.connection_lost_waiter: asyncio.Future[None] = self.loop.create_future()
        self.connection_exc: BaseException | None = None
        self.latency: float = 0.0
        # Received data frames, not yet taken by recv.
        self._frames: collections.deque[Frame] = collections.deque()
        self._recv_waiter: asyncio.Future[None] | None = None
        self._recv_in_progress = False
        self._frames_closed = False
        # The handler's way to take a whole text message at once, where it arrives (see `_take_text_frames`).
        self.answer_at_once: Callable[[str], bool] | None = None
        self._reading_paused = False
        # Flow control of writes.
        self._writing_paused = False
        self._drain_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        # Closing.
        self.close_deadline: float | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        # Keepalive: data -> time sent, of pings not yet answered.
        self._pending_pings: dict[bytes, float] = {}
        self._keepalive_ping: bytes | None = None
        self._keepalive_timer: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        self._pong_timer_due = False  # the keepalive ping waits in a paused write buffer

    # -- what the handler sees ---------------------------------------------------------

    @property
    def remote_address(self) -> Any:
        return self.transport.get_extra_info("peername")

    @property
    def local_address(self) -> Any:
        return self.transport.get_extra_info("sockname")

    @property
    def state(self) -> Any:
        return self.protocol.state

    @property
    def subprotocol(self) -> Subprotocol | None:
        return self.protocol.subprotocol

    @property
    def close_code(self) -> int | None:
        return self.protocol.close_code

    @property
    def close_reason(self) -> str | None:
        return self.protocol.close_reason

    @property
    def close_exc(self) -> ConnectionClosed:
        exc = self.protocol.close_exc
        if self.connection_exc is not None:
            exc.__cause__ = self.connection_exc
        return exc

    def respond(self, status: StatusLike, text: str) -> Response:
        """A plain-text HTTP answer instead of the WebSocket handshake (websockets' `respond`)."""
        return self.protocol.reject(status, text)

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        """Messages until the connection closes: normally (1000, 1001, no code) ends it, else ConnectionClosedError."""
        try:
            while True:
                yield await self.recv()
        except ConnectionClosedOK:
            return

    async def recv(self) -> str | bytes:
        """The next message: text as str, binary as bytes; ConnectionClosed once the connection is closed."""
        if self._recv_in_progress:
            raise ConcurrencyError("cannot call recv while another coroutine is already running recv")
        frames = self._frames
        if not frames and not self._frames_closed:
            # Wait for a frame here rather than in _assemble: most messages are one frame.
            self._recv_in_progress = True
            waiter = self._recv_waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self._recv_waiter = None
                self._recv_in_progress = False
        # The fast path: a whole message is waiting.
        if frames and frames[0].fin:
            frame = frames.popleft()
            if self._reading_paused and len(frames) <= self.max_queue_low:  # type: ignore[operator]
                self._reading_paused = False
                self.transport.resume_reading()
            if frame.opcode is TEXT:
                try:
                    return frame.data.decode()
                except UnicodeDecodeError as exc:
                    await self._fail_on_receive(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}", exc)
            else:
                return bytes(frame.data)
        try:
            return await self._assemble()
        except EOFError:
            pass
        except TooManyFragments as exc:
            await self._fail_on_receive(CloseCode.MESSAGE_TOO_BIG, "too many fragments", exc)
        except UnicodeDecodeError as exc:
            await self._fail_on_receive(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}", exc)
        await asyncio.shield(self.connection_lost_waiter)
        raise self.close_exc

    async def send(self, message: str | bytes) -> None:
        """Send a text (str) or binary (bytes) message; ConnectionClosed when the connection is not open."""
        protocol = self.protocol
        if (
            type(message) is str
            and protocol.state is OPEN
            and not protocol.extensions
            and not protocol.expect_continuation_frame
            and not protocol.debug
        ):
            try:
                self.transport.write(text_frame(message.encode()))
                if self._writing_paused or self.transport.is_closing():
                    await self.drain()
            except Exception as exc:
                self.set_connection_exc(exc)
                await self._abort_and_raise()
            return
        if self.protocol.state is OPEN:
            try:
                if isinstance(message, str):
                    self.protocol.send_text(message.encode())
                else:
                    self.protocol.send_binary(message)
            except Exception as exc:
                self.logger.error("unexpected internal error", exc_info=True)
                self.set_connection_exc(exc)
                await self._abort_and_raise()
            try:
                self.send_data()
                if self._writing_paused or self.transport.is_closing():
                    await self.drain()
            except Exception as exc:
                self.set_connection_exc(exc)
                await self._abort_and_raise()
            return
        await self._wait_for_close()
        await self._abort_and_raise()

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake and wait until the TCP connection is closed (at most `close_timeout`)."""
        if self.protocol.state is OPEN:
            try:
                self.protocol.send_close(code, reason)
            except Exception as exc:
                self.logger.error("unexpected internal error", exc_info=True)
                self.set_connection_exc(exc)
                self.transport.abort()
                await asyncio.shield(self.connection_lost_waiter)
                return
            if not await self._send_close():
                await asyncio.shield(self.connection_lost_waiter)
                return
        await self._closed()

    async def _send_close(self) -> bool:
        """Write the close frame the protocol has queued and expect TCP to close; False: that failed, transport aborted."""
        self._close_expected()
        try:
            await self._write_out()
        except Exception:
            return False
        return True

    async def _write_out(self) -> None:
        """Write what the protocol has queued and wait while writes are held up; a failure aborts the transport and is raised."""
        try:
            self.send_data()
            await self.drain()
        except Exception as exc:
            self.set_connection_exc(exc)
            self.transport.abort()
            raise

    async def _closed(self) -> None:
        """Wait for the peer to close TCP (at most `close_timeout`), then make sure it is closed."""
        await self._wait_for_close()
        self.transport.abort()
        await asyncio.shield(self.connection_lost_waiter)

    async def wait_closed(self) -> None:
        await asyncio.shield(self.connection_lost_waiter)

    # -- receiving -----------------------------------------------------------------------

    async def _next_frame(self) -> Frame:
        frames = self._frames
        if not frames:
            if self._frames_closed:
                raise EOFError("stream of frames ended")
            waiter = self._recv_waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self._recv_waiter = None
            if not frames:  # woken by connection_lost
                raise EOFError("stream of frames ended")
        frame = frames.popleft()
        if self._reading_paused and len(frames) <= self.max_queue_low:  # type: ignore[operator]
            self._reading_paused = False
            self.transport.resume_reading()
        return frame

    async def _assemble(self) -> str | bytes:
        """The Assembler's `get`: a whole message from one or more frames."""
        self._recv_in_progress = True
        try:
            frame = await self._next_frame()
            decode = frame.opcode is TEXT
            parts = [frame]
            while not frame.fin:
                try:
                    frame = await self._next_frame()
                except asyncio.CancelledError:
                    self._frames.extendleft(reversed(parts))
                    raise
                if len(parts) >= MAX_FRAGMENTS:
                    raise TooManyFragments(MAX_FRAGMENTS)
                parts.append(frame)
        finally:
            self._recv_in_progress = False
        data = b"".join(part.data for part in parts)
        return data.decode() if decode else data

    async def _fail_on_receive(self, code: int, reason: str, exc: BaseException) -> None:
        """What websockets does when a received message cannot be delivered: fail the connection."""
        self.set_connection_exc(exc)
        if self.protocol.state is OPEN:
            self.protocol.fail(code, reason)
            await self._send_close()
        await self._closed()
        raise self.close_exc

    def _put_frame(self, frame: Frame) -> None:
        if self._frames_closed:
            return
        self._frames.append(frame)
        waiter = self._recv_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        high = self.max_queue_high
        if high is not None and not self._reading_paused and len(self._frames) > high:
            self._reading_paused = True
            self.transport.pause_reading()

    def process_event(self, event: Any) -> None:
        if self.request is None:
            assert isinstance(event, Request)
            self.request = event
            self.request_rcvd.set_result(None)
            return
        opcode = event.opcode
        if opcode is TEXT or opcode is BINARY or opcode is CONT:
            self._put_frame(event)
        elif opcode is PONG:
            self._acknowledge_pings(bytes(event.data))

    # -- sending ---------------------------------------------------------------------------

    def send_data(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                try:
                    self.transport.write_eof()
                except Exception:  # pragma: no cover - as websockets
                    pass
            else:
                self.transport.close()

    async def drain(self) -> None:
        if self.transport.is_closing():
            await asyncio.sleep(0)
        if self._writing_paused:
            waiter = self.loop.create_future()
            self._drain_waiters.append(waiter)
            try:
                await waiter
            finally:
                self._drain_waiters.remove(waiter)

    def set_connection_exc(self, exc: BaseException | None) -> None:
        if self.connection_exc is None:
            self.connection_exc = exc

    async def _abort_and_raise(self) -> None:
        self.transport.abort()
        await asyncio.shield(self.connection_lost_waiter)
        raise self.close_exc

    # -- closing -----------------------------------------------------------------------------

    def _close_expected(self) -> None:
        """A close is under way: the peer has `close_timeout` to close TCP, then the transport is aborted."""
        if self.close_deadline is None and self.close_timeout is not None:
            self.close_deadline = self.loop.time() + self.close_timeout
            if not self.connection_lost_waiter.done():
                self._close_timer = self.loop.call_at(self.close_deadline, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._close_timer = None
        if not self.connection_lost_waiter.done():
            self.set_connection_exc(TimeoutError("timed out while closing connection"))
            self.transport.abort()

    async def _wait_for_close(self) -> None:
        self._close_expected()
        await asyncio.shield(self.connection_lost_waiter)

    # -- keepalive ---------------------------------------------------------------------------

    def start_keepalive(self) -> None:
        if self.ping_interval is not None:
            self._keepalive_timer = self.loop.call_later(self.ping_interval, self._keepalive)

    def _keepalive(self) -> None:
        self._keepalive_timer = None
        if self.protocol.state is not OPEN:
            return  # closing: the close timeout takes it from here
        data = None
        while data is None or data in self._pending_pings:
            data = struct.pack("!I", random.getrandbits(32))
        self._pending_pings[data] = self.loop.time()
        self._keepalive_ping = data
        try:
            self.protocol.send_ping(data)
            self.send_data()
        except Exception:
            self.logger.error("keepalive ping failed", exc_info=True)
            return
        if self.ping_timeout is None:
            self._keepalive_timer = self.loop.call_later(self.ping_interval, self._keepalive)  # type: ignore[arg-type]
        elif self._writing_paused:
            # websockets starts the pong timeout once the ping is out of the write buffer.
            self._pong_timer_due = True
        else:
            self._pong_timer = self.loop.call_later(self.ping_timeout, self._pong_timed_out)

    def _pong_timed_out(self) -> None:
        self._pong_timer = None
        if self.protocol.state is not OPEN:
            return
        self.protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
        self._close_expected()
        try:
            self.send_data()
        except Exception as exc:
            self.set_connection_exc(exc)
            self.transport.abort()

    def _acknowledge_pings(self, data: bytes) -> None:
        """websockets' rule: a pong answers its ping and every ping sent before it."""
        pending = self._pending_pings
        if data not in pending:
            return
        now = self.loop.time()
        answered = []
        for ping_id, sent_at in pending.items():
            answered.append(ping_id)
            if ping_id == data:
                self.latency = now - sent_at
                break
        keepalive = self._keepalive_ping
        keepalive_latency = now - pending[keepalive] if keepalive in answered else None  # type: ignore[index]
        for ping_id in answered:
            del pending[ping_id]
        if keepalive_latency is not None:
            self._keepalive_ping = None
            if self.ping_timeout is not None:
                # websockets' keepalive: the next ping one interval after this one, less its round trip.
                self._pong_timer_due = False
                if self._pong_timer is not None:
                    self._pong_timer.cancel()
                    self._pong_timer = None
                self._keepalive_timer = self.loop.call_later(
                    max(0.0, self.ping_interval - keepalive_latency), self._keepalive  # type: ignore[operator]
                )

    def _stop_keepalive(self) -> None:
        for timer in (self._keepalive_timer, self._pong_timer):
            if timer is not None:
                timer.cancel()
        self._keepalive_timer = self._pong_timer = None
        self._pending_pings.clear()

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(self.write_limit)
        task = self.loop.create_task(self.server.serve_connection(self))
        self.server.handler_tasks.add(task)
        task.add_done_callback(self.server.handler_tasks.discard)

    def _plain(self) -> bool:
        """Whole text frames may skip the sans-I/O parser: open, no extension, no fragmented message
        under way, the parser at a frame boundary and websockets' frame-by-frame debug log off."""
        protocol = self.protocol
        return (
            protocol.state is OPEN
            and not protocol.extensions
            and protocol.current_size is None
            and not protocol.reader.buffer
            and not protocol.debug
        )

    def _take_text_frames(self, data: bytes) -> bytes:
        """Take the whole, final, masked text frames `data` starts with; what is left goes to the parser.

        Exactly what `Frame.parse` and `recv_frame` make of such a frame (no
        RSV bit, masked, within `max_size`); anything else (a control frame, a
        fragment, binary, a bad or partial frame) stops here and is left for
        websockets' parser, which takes it from the same frame boundary.

        Each message goes to `answer_at_once` when the handler waits in `recv`
        with nothing queued before it and writes are not held up: a handler
        that can answer it there and then (a CALL to a plain function) does,
        and saves the wake-up of its task; anything else is queued for `recv`
        as before, in order.
        """
        size = len(data)
        position = 0
        limit = self.protocol.max_message_size
        while size - position >= 6:
            if data[position] != 0x81:  # FIN, no RSV bit, TEXT
                break
            second = data[position + 1]
            if not second & 0x80:  # a client must mask (RFC 6455 §5.1)
                break
            length = second & 0x7F
            start = position + 2
            if length == 126:
                length = int.from_bytes(data[start : start + 2], "big")
                start += 2
            elif length == 127:
                length = int.from_bytes(data[start : start + 8], "big")
                start += 8
            if limit is not None and length > limit:
                break
            end = start + 4 + length
            if end > size:
                break
            payload = apply_mask(data[start + 4 : end], data[start : start + 4])
            position = end
            if self._at_once(payload):
                continue
            self._put_frame(Frame(TEXT, payload))
        return data[position:] if position else data

    def _at_once(self, payload: bytes) -> bool:
        """Whether the handler took this text message at once (False: queue it for `recv`)."""
        answer = self.answer_at_once
        waiter = self._recv_waiter
        if (
            answer is None or waiter is None or waiter.done() or self._frames or self._writing_paused
            or self.transport.is_closing()
        ):
            return False
        try:
            text = payload.decode()
        except UnicodeDecodeError:  # recv fails the connection with 1007, as before
            return False
        try:
            return answer(text)
        except Exception as exc:  # a bug: the handler's own errors are answered where they happen
            self.logger.error("unexpected internal error", exc_info=True)
            self.set_connection_exc(exc)
            self.transport.abort()
            return True

    def write_text(self, message: str) -> None:
        """Send a text message from a callback, where nothing can be awaited: for `answer_at_once`.

        Only there: the connection is open and plain (no extension, no
        fragmented message), and writes were not held up. A failed write
        aborts the connection, and the handler's `recv` then raises.
        """
        try:
            self.transport.write(text_frame(message.encode()))
        except Exception as exc:
            self.set_connection_exc(exc)
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._plain():
            data = self._take_text_frames(data)
            if not data:
                return
        protocol = self.protocol
        protocol.receive_data(data)
        events = protocol.events_received()
        try:
            self.send_data()
        except Exception as exc:
            self.set_connection_exc(exc)
        if protocol.state is not OPEN and protocol.close_expected():
            self._close_expected()
        for event in events:
            self.process_event(event)

    def eof_received(self) -> None:
        self.protocol.receive_eof()
        events = self.protocol.events_received()
        self.send_data()
        for event in events:  # pragma: no cover - as websockets
            self.process_event(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self.protocol.receive_eof()
        assert self.protocol.state is CLOSED
        self.set_connection_exc(exc)
        self._frames_closed = True
        waiter = self._recv_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)  # _next_frame finds no frame and the stream closed
        self._stop_keepalive()
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self.connection_lost_waiter.set_result(None)
        if self._writing_paused:
            self._writing_paused = False
            for drain in self._drain_waiters:
                if not drain.done():
                    if exc is None:
                        drain.set_result(None)
                    else:
                        drain.set_exception(exc)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        for drain in self._drain_waiters:
            if not drain.done():
                drain.set_result(None)
        if self._pong_timer_due:
            self._pong_timer_due = False
            self._pong_timer = self.loop.call_later(self.ping_timeout, self._pong_timed_out)  # type: ignore[arg-type]


class Listener:
    """The listening socket and its connections: what `websockets.asyncio.server.serve` gives, for `Connection`."""

    def __init__(
        self,
        handler: Handler,
        *,
        subprotocols: Sequence[Subprotocol],
        select_subprotocol: SelectSubprotocol,
        process_request: ProcessRequest,
        ping_interval: float | None,
        ping_timeout: float | None,
        close_timeout: float | None,
        max_size: int | None,
        open_timeout: float | None = 10,
        compression: bool = True,
        logger: logging.Logger | None = None,
    ) -> None:
        self.handler = handler
        self.subprotocols = list(subprotocols)
        self.select_subprotocol = select_subprotocol
        self.process_request = process_request
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.max_size = max_size
        self.open_timeout = open_timeout
        self.extensions: Sequence[ServerExtensionFactory] | None = (
            enable_server_permessage_deflate(None) if compression else None
        )
        self.logger = logger or logging.getLogger("websockets.server")
        self.all_connections: set[Connection] = set()
        self.handler_tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.close_task: asyncio.Task[None] | None = None
        self.handlers_waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def start(self, host: str, port: int, *, ssl: Any = None, backlog: int = 100) -> None:
        extra: dict[str, Any] = {}
        if ssl is not None:
            extra = {"ssl_handshake_timeout": self.open_timeout, "ssl_shutdown_timeout": self.close_timeout}
        self.server = await asyncio.get_running_loop().create_server(
            self._connection, host, port, ssl=ssl, backlog=backlog, **extra
        )

    @property
    def sockets(self) -> tuple[Any, ...]:
        assert self.server is not None
        return tuple(self.server.sockets)

    def is_serving(self) -> bool:
        return self.server is not None and self.server.is_serving()

    def _connection(self) -> Connection:
        connection: Connection

        def select(protocol: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
            return self.select_subprotocol(connection, offered)

        protocol = ServerProtocol(
            extensions=self.extensions,
            subprotocols=self.subprotocols,
            select_subprotocol=select,
            max_size=self.max_size,
            logger=self.logger,
        )
        connection = Connection(
            self, protocol,
            ping_interval=self.ping_interval, ping_timeout=self.ping_timeout, close_timeout=self.close_timeout,
        )
        return connection

    async def _handshake(self, connection: Connection) -> None:
        """websockets' `ServerConnection.handshake`, with `process_request` and the default Server header."""
        await asyncio.wait(
            [connection.request_rcvd, connection.connection_lost_waiter], return_when=asyncio.FIRST_COMPLETED
        )
        request = connection.request
        if request is None:
            return
        protocol = connection.protocol
        try:
            response = await self.process_request(connection, request)
        except Exception as exc:
            protocol.handshake_exc = exc
            connection.logger.error("process_request failed", exc_info=True)
            response = protocol.reject(
                http.HTTPStatus.INTERNAL_SERVER_ERROR,
                "Failed to open a WebSocket connection.\nSee server log for more information.\n",
            )
        connection.response = response if response is not None else protocol.accept(request)
        connection.response.headers["Server"] = SERVER
        if connection.response.status_code == http.HTTPStatus.SWITCHING_PROTOCOLS and not self.is_serving():
            connection.response = protocol.reject(http.HTTPStatus.SERVICE_UNAVAILABLE, "Server is shutting down.\n")
        if protocol.state is not CONNECTING:
            return
        protocol.send_response(connection.response)
        if protocol.close_expected():  # refused: the answer, then EOF
            connection._close_expected()
        await connection._write_out()
        if protocol.state is not OPEN:
            await connection._wait_for_close()

    async def serve_connection(self, connection: Connection) -> None:
        """websockets' `protocol_handler`: handshake, then the handler, then close; the socket is closed at the end."""
        try:
            async with asyncio.timeout(self.open_timeout):
                await self._handshake(connection)
            if connection.protocol.state is not OPEN:
                connection.transport.abort()
                return
            self.all_connections.add(connection)
            connection.start_keepalive()
            try:
                try:
                    await self.handler(connection)
                except BaseException:
                    await connection.close(CloseCode.INTERNAL_ERROR)
                    raise
                await connection.close()
            except Exception:
                connection.logger.error("connection handler failed", exc_info=True)
            finally:
                self.all_connections.discard(connection)
        except Exception:
            connection.transport.abort()

    def close(self, code: int = CloseCode.GOING_AWAY, reason: str = "") -> None:
        if self.close_task is None:
            self.close_task = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        self.logger.info("server closing")
        assert self.server is not None
        self.server.close()
        closing = [
            asyncio.create_task(connection.close(code, reason))
            for connection in self.all_connections
            if connection.protocol.state is OPEN
        ]
        if closing:
            await asyncio.wait(closing)
        await self.server.wait_closed()
        if self.handler_tasks:
            await asyncio.wait(self.handler_tasks)
        self.handlers_waiter.set_result(None)
        self.logger.info("server closed")

    async def wait_closed(self) -> None:
        await asyncio.shield(self.handlers_waiter)
