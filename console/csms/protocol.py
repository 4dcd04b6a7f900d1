"""OCPP-J framing rules the `ocpp` package leaves open: each bad frame gets what its version prescribes.

The package's `route_message` logs a frame it cannot parse and answers
nothing, maps unknown actions the wrong way round, and lets an exception
outside a handler end the connection. `ProtocolGuard` sits in front of the
package's ChargePoint and answers every case, logs an event line for the
charger, and keeps the connection open wherever the spec allows:

=========================================  ===============================  ==============================
bad input                                  OCPP 1.6J                         OCPP 2.0.1 (and 2.1)
=========================================  ===============================  ==============================
not JSON, not an array, no readable        CALLERROR FormationViolation,    CALLERROR RpcFrameworkError,
MessageTypeId/MessageId, CALL with the     MessageId "-1" when it cannot    MessageId "-1" when it cannot
wrong number of elements                   be read                          be read
unknown MessageTypeId                      CALLERROR FormationViolation     CALLERROR MessageTypeNotSupported
                                                                            (2.1: SEND and CALLRESULTERROR
                                                                            are known, below)
MessageId over 36 characters               CALLERROR FormationViolation     CALLERROR RpcFrameworkError
action no version knows                    CALLERROR NotImplemented         CALLERROR NotImplemented
action known but not handled here          CALLERROR NotSupported           CALLERROR NotSupported
payload breaks the schema                  the package's schema error;      the package's schema error
                                           FormatViolation sent as
                                           FormationViolation
handler fails unexpectedly                 CALLERROR InternalError          CALLERROR InternalError
CALLRESULT/CALLERROR nobody waits for,     logged and dropped: an answer    logged and dropped
or malformed                               is never answered
SEND (2.1 only, MessageTypeId 6)           -                                taken by its handler or kept as
                                                                            a charger event; never answered
CALLRESULTERROR (2.1 only, 5)              -                                our CALL's error answer, or logged
                                                                            (about one of our CALLRESULTs);
                                                                            never answered
binary frame                               close 1003 (unsupported data)    close 1003 (unsupported data)
frame over the size limit                  close 1009 by websockets, logged close 1009, logged
=========================================  ===============================  ==============================

Why these:

- OCPP-J 1.6 §4.2.3 has no RPC-level codes. Its FormationViolation, "Payload
  for Action is syntactically incorrect or not conform the PDU structure for
  Action", is the nearest for a frame that is no OCPP-J message, and the 1.6
  errata (§5, "will not be fixed") keep that spelling: 1.6 chargers get it
  where the package emits 2.0.1's FormatViolation.
- OCPP-J 2.0.1 (Part 4) adds RpcFrameworkError, "Content of the call is not a
  valid RPC Request, for example: MessageId could not be read", and
  MessageTypeNotSupported for a Message Type Number it does not support (the
  extension fallback of §4.4). With no readable MessageId the CALLERROR
  carries "-1", as other OCPP-J stacks (ocpp-rpc) do.
- In both, NotImplemented is "Requested Action is not known by receiver" and
  NotSupported "Requested Action is recognized but not supported by the
  receiver"; the package answers them the other way round.
- A CALLERROR answers a CALL only, never a CALLRESULT or CALLERROR.
- The MessageId is at most 36 characters (OCPP-J 1.6 and 2.0.1 Part 4 on the
  message ID: a "maximum of 36 characters, to allow for GUIDs"). A longer one is a CALL that
  is not a valid RPC request: 1.6's FormationViolation, 2.0.1's
  RpcFrameworkError, answered with the MessageId as sent so the charger can
  match it.
- OCPP-J 2.1 adds two message types: SEND (6), a message the receiver never
  answers, not even with a CALLERROR; and CALLRESULTERROR (5), sent by the
  receiver of a CALLRESULT it could not process, itself never answered. One
  that carries the MessageId of our CALL still waiting is taken as that CALL's
  error answer. Before 2.1 both stay unknown message types.
- A charger set tolerant (or every one, with the server's --tolerant) has the
  transaction and meter messages its schema refuses normalised and taken
  where quirky firmware's meaning is plain, each deviation a protocol warning
  on the charger (console.csms.validation.tolerate); anything else gets the
  schema error above, as in strict mode.
- OCPP-J frames are JSON text; RFC 6455 §7.4.1 reserves 1003 for data an
  endpoint cannot accept, "e.g., an endpoint that understands only text data
  MAY send this if it receives a binary message". A charger that frames in
  binary would never be understood, so the close tells it plainly.

The message path itself is the package's, made cheaper where it costs most
(each step keeps the package's outcome): every frame is parsed once, for the
protocol and the frame log; payloads are validated by validators compiled
once from the package's schemas (console.csms.validation and .schemas); keys are
converted with cached conversions and answers encoded with orjson
(console.csms.codec), and the high-rate handlers (meter values, transaction
events) take the payload as received instead (`takes_payload`); each action's
route is read once per handler class, not once per connection or message.
Vendor data keeps its keys both ways: DataTransfer and the handlers that keep
customData take the payload as received, and our own CALLs are sent as given
and answered as received (`call_payload`), never through the key conversions.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import types
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from ocpp.charge_point import LOGGER
from ocpp.exceptions import (
    FormationViolationError,
    InternalError,
    NotImplementedError as NotImplementedCallError,
    NotSupportedError,
    OCPPError,
)
from ocpp.messages import Call, CallError, CallResult, MessageType
from ocpp.routing import create_route_map
from ocpp.v16.enums import Action as Action16
from ocpp.v201.enums import Action as Action201
from ocpp.v21.enums import Action as Action21
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from console.core.errors import StoreUnavailable
from console.csms.codec import answer_payload, decode, encode, to_snake
from console.csms.validation import tolerate, validate
from console.core.versions import OcppVersion

log = logging.getLogger("console.csms")

UNREADABLE_ID = "-1"
MAX_MESSAGE_ID = 36
CALLRESULTERROR, SEND = 5, 6  # OCPP-J 2.1 only
CALLRESULT = int(MessageType.CallResult)  # a plain int in the frame: the same JSON, no enum lookup per answer
KNOWN_ACTIONS = frozenset(action.value for action in (*Action16, *Action201, *Action21))
# 1.6 spellings of the codes the package emits in their 2.0.1 form.
CODES_16 = {"FormatViolation": "FormationViolation", "OccurrenceConstraintViolation": "OccurenceConstraintViolation"}


_route_maps: dict[type, dict[str, dict[str, Any]]] = {}
_routes: dict[type, dict[str, Route]] = {}


def takes_payload(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a handler (under its `on`) that takes the CALL's payload as received, camelCase keys, as its argument.

    Instead of the package's snake_case keyword arguments: for the high-rate
    messages (meter values, transaction events) converting every key of the
    payload cost more than the handler. Validation and answers are the same.
    """
    handler.takes_payload = True  # type: ignore[attr-defined]
    return handler


class Route(NamedTuple):
    """What answering one action takes, read once per handler class from the package's route map."""

    handler: Callable[..., Any]
    takes_id: bool  # the handler names `call_unique_id`: it gets the CALL's MessageId too (the package's rule)
    takes_payload: bool  # the handler takes the payload as received (`takes_payload`), not snake_case keywords
    is_coroutine: bool  # `async def`: what it returns is awaited without asking
    validating: bool
    after: Callable[..., Any] | None
    after_takes_id: bool


def _takes_unique_id(handler: Any) -> bool:
    return "call_unique_id" in inspect.signature(handler).parameters


_PACKAGE_WRAPPERS = ("on.<locals>.decorator.<locals>.inner", "after.<locals>.decorator.<locals>.inner")


def _unwrapped(function: Any) -> Any:
    """The function the package's `on`/`after` decorator wraps: its wrapper only passes the arguments on.

    Known by its code (functools.wraps gives the wrapper the wrapped function's names).
    """
    code = getattr(function, "__code__", None)
    if code is not None and code.co_qualname in _PACKAGE_WRAPPERS and hasattr(function, "__wrapped__"):
        return function.__wrapped__
    return function


def _route_map(cls: type) -> dict[str, dict[str, Any]]:
    """The package's route map of a handler class, of its functions (called with the connection's `self`)."""
    routes = _route_maps.get(cls)
    if routes is None:
        routes = _route_maps[cls] = create_route_map(cls)
    return routes


def _routes_of(cls: type) -> dict[str, Route]:
    """The actions a handler class answers, each with its route."""
    routes = _routes.get(cls)
    if routes is None:
        routes = _routes[cls] = {}
        for action, handlers in _route_map(cls).items():
            if "_on_action" not in handlers:
                continue
            handler, after = handlers["_on_action"], handlers.get("_after_action")
            routes[action] = Route(
                _unwrapped(handler),
                _takes_unique_id(handler),
                getattr(handler, "takes_payload", False),
                inspect.iscoroutinefunction(_unwrapped(handler)),
                not handlers.get("_skip_schema_validation", False),
                _unwrapped(after) if after is not None else None,
                after is not None and _takes_unique_id(after),
            )
    return routes


def received_call(unique_id: str, action: str, payload: Any) -> Call:
    """The package's Call for a CALL as received, its payload parsed JSON.

    Made without the package's `__init__`, which also turns a dataclass
    payload into a dict (for CALLs it builds itself): a received payload never
    is one, and the check cost more than the rest of making the message. The
    type stays Call: the package's validator takes nothing else.
    """
    message = Call.__new__(Call)
    message.unique_id = unique_id
    message.action = action
    message.payload = payload
    return message


_NOT_AWAITABLE: set[type] = set()


def _awaitable(value: Any) -> bool:
    """`inspect.isawaitable`, remembered per type for the types handlers answer with (dataclasses, dicts)."""
    kind = type(value)
    if kind in _NOT_AWAITABLE:
        return False
    if inspect.isawaitable(value):
        return True
    if kind is not types.GeneratorType:  # a generator's answer depends on its code, not its type
        _NOT_AWAITABLE.add(kind)
    return False


class RpcFrameworkError(OCPPError):
    code = "RpcFrameworkError"
    default_description = "Content of the call is not a valid RPC Request, for example: MessageId could not be read."


class MessageTypeNotSupportedError(OCPPError):
    code = "MessageTypeNotSupported"
    default_description = "A message with a Message Type Number received that is not supported by this implementation."


class CallResultError(CallError):
    """An OCPP 2.1 CALLRESULTERROR: [5, MessageId, errorCode, errorDescription, {errorDetails}]."""


class Send(NamedTuple):
    """An OCPP 2.1 SEND: [6, MessageId, Action, {Payload}], never answered."""

    unique_id: str
    action: str
    payload: dict[str, Any]


class BadFrame(Exception):
    """A frame that is not a usable OCPP-J message; `error` is the answer due, if any."""

    def __init__(self, reason: str, message_id: str, error: OCPPError | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message_id = message_id
        self.error = error


class ProtocolGuard:
    """Mixed in before the `ocpp` ChargePoint of each version (needs `id`, `live`, `_connection`)."""

    _ocpp_version: str
    _connection: Any
    _response_queue: asyncio.Queue[Any]
    route_map: dict[str, dict[str, Any]]
    id: str
    charger_id: str
    live: Any
    # Every charger served tolerantly (the server's --tolerant), whatever its record says.
    tolerant = False

    def __init__(self, id: str, connection: Any, response_timeout: float = 30, logger: logging.Logger = LOGGER) -> None:  # noqa: A002 - the package's name
        # The package's ChargePoint.__init__ (ocpp 2.1.0), except that the route map is the
        # class's, built once: the package builds one per connection, of bound methods.
        self.id = id
        self._response_timeout = response_timeout
        self._connection = connection
        self.route_map = _route_map(type(self))
        self._routes = _routes_of(type(self))
        self._call_lock = asyncio.Lock()
        self._response_queue = asyncio.Queue()
        self._unique_id_generator = uuid.uuid4
        self.logger = logger
        # The MessageId of our CALL still waiting for its answer (the package sends one at a time),
        # and of the last one answered.
        self._awaiting: str | None = None
        self._answered: str | None = None
        # The message types past CALL, CALLRESULT and CALLERROR this version knows: never answered.
        self._unanswered_kinds = (CALLRESULTERROR, SEND) if self._ocpp_version == OcppVersion.V21.short else ()

    # -- the receive loop --------------------------------------------------------------

    async def start(self) -> None:
        # The package's loop also logs every raw frame; ours are logged once, by the connection.
        writer = self.live.writer
        try:
            while True:
                if writer.backlogged:  # the store is behind: read nothing more until it catches up
                    await writer.drained()
                await self.route_message(await self._connection.recv())
        except ConnectionClosed as closed:
            sent = closed.sent
            if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
                self._event(f"frame too big: {sent.reason}; connection closed with 1009 (message too big)")
            elif sent is not None and sent.code == CloseCode.INTERNAL_ERROR and closed.rcvd is None:
                self._event(f"dead connection: {sent.reason}; dropped")
            raise

    async def route_message(self, raw_msg: str | bytes) -> None:
        if isinstance(raw_msg, bytes):
            self._connection.note_in(raw_msg, None)
            self._event(f"binary frame ({len(raw_msg)} bytes): OCPP-J frames are text; closing with 1003 (unsupported data)")
            await self._connection.close(CloseCode.UNSUPPORTED_DATA, "OCPP-J frames are JSON text")
            return
        try:
            frame = decode(raw_msg)
        except ValueError:
            frame = None
        # Logged first, whatever it holds, before anything answers it.
        self._connection.note_in(raw_msg, frame)
        try:
            message = self._parse(frame)
        except BadFrame as bad:
            if bad.error is None:
                self._event(f"{bad.reason}: ignored")
            else:
                await self._answer_error(bad.message_id, bad.error, bad.reason)
            return
        if isinstance(message, Call):
            await self._answer(message)
        elif isinstance(message, Send):
            await self._take_send(message)
        elif message.unique_id == self._awaiting:
            self._awaiting = None
            self._answered = message.unique_id
            self._response_queue.put_nowait(message)
        elif isinstance(message, CallResultError):
            self._event(
                f"CALLRESULTERROR {message.error_code} for message id {message.unique_id!r}: the charger could not take "
                f"our answer ({message.error_description or 'no description'}); never answered"
            )
        else:
            kind = "CALLRESULT" if isinstance(message, CallResult) else "CALLERROR"
            self._event(f"{kind} for unknown message id {message.unique_id!r}: no CALL of ours waits for it; ignored")

    def answer_at_once(self, text: str) -> bool:
        """Answer a CALL to a plain-function handler here and now, as it arrives; False: not taken.

        Called by the connection (`Connection.answer_at_once`) from the data
        callback while `start` waits for a frame: the steps of `route_message`
        and `_handle_call` in the same order with the same outcomes, without
        waking the connection's task and without a coroutine per step. What it
        does not take, having done nothing with it, goes to `route_message` as
        before: anything but a well-formed CALL to a route whose handler is a
        plain function, a payload its schema refuses (answered there), a store
        that is behind (`start` waits for it).
        """
        if self.live.writer.backlogged:
            return False
        try:
            frame = decode(text)
        except ValueError:
            return False
        if type(frame) is not list or len(frame) != 4:
            return False
        kind, message_id, action, payload = frame
        if type(kind) is not int or kind != 2 or type(message_id) is not str or type(action) is not str:
            return False
        if len(message_id) > MAX_MESSAGE_ID:
            return False
        route = self._routes.get(action)
        if route is None or route.is_coroutine:
            return False
        message = received_call(message_id, action, payload)
        if route.validating:
            try:
                validate(message, self._ocpp_version)
            except Exception:
                return False
        connection = self._connection
        connection.note_in(text, frame)
        try:
            try:
                response = self._call_handler(message, route)
            except Exception as error:
                connection.write_text(self._handler_error(message, error))
                return True
            if _awaitable(response):  # a plain function that hands back an awaitable after all
                asyncio.ensure_future(self._answer_later(message, self._complete(message, route, response)))
                return True
            answer = self._answer_frame(message, route, response)
        except OCPPError as error:
            connection.write_text(self._error_text(message_id, error, f"{action} refused"))
            return True
        except Exception:
            log.exception("%s: failed to answer %s", self.id, message)
            connection.write_text(self._error_text(message_id, InternalError(), f"{action} failed on the central system"))
            return True
        connection.write_text(encode(answer), answer)
        self._after(message, route)
        return True

    async def _answer_later(self, message: Call, answering: Any) -> None:
        """The rest of `answer_at_once` for a plain function that handed back an awaitable after all."""
        with contextlib.suppress(ConnectionClosed):  # nobody left to answer
            await self._answer(message, answering)

    # -- parsing -------------------------------------------------------------------------

    def _framing_error(self, description: str) -> OCPPError:
        if self._ocpp_version == OcppVersion.V16.short:
            return FormationViolationError(description=description)
        return RpcFrameworkError(description=description)

    def _parse(self, frame: Any) -> Call | CallResult | CallError:
        """The message a parsed frame holds (None: the frame was not JSON)."""
        if frame is None:
            raise BadFrame("frame is not JSON", UNREADABLE_ID, self._framing_error("Message is not valid JSON"))
        if not isinstance(frame, list) or not frame:
            shape = "an OCPP-J message is a JSON array [MessageTypeId, MessageId, ...]"
            raise BadFrame("frame is not an OCPP-J message", UNREADABLE_ID, self._framing_error(shape))
        kind = frame[0]
        message_id = frame[1] if len(frame) > 1 and isinstance(frame[1], str) else None
        if kind in (MessageType.CallResult, MessageType.CallError):
            return self._parse_answer(frame, message_id)
        if kind in self._unanswered_kinds:
            return self._parse_unanswered(frame, message_id)
        if message_id is None:
            raise BadFrame(
                "frame has no readable MessageId", UNREADABLE_ID,
                self._framing_error("MessageId (the second element) must be a string"),
            )
        if kind != MessageType.Call:
            reason = f"unknown MessageTypeId {kind!r}"
            if self._ocpp_version == OcppVersion.V16.short:
                error: OCPPError = FormationViolationError(description=f"{reason}: OCPP-J 1.6 knows 2, 3 and 4")
            else:
                error = MessageTypeNotSupportedError(description=f"{reason}: this implementation supports 2, 3 and 4")
            raise BadFrame(reason, message_id, error)
        if len(frame) != 4 or not isinstance(frame[2], str):
            raise BadFrame(
                "malformed CALL", message_id,
                self._framing_error("a CALL is [2, MessageId, Action, {Payload}]"),
            )
        if len(message_id) > MAX_MESSAGE_ID:
            raise BadFrame(
                f"MessageId longer than {MAX_MESSAGE_ID} characters ({len(message_id)})", message_id,
                self._framing_error(f"MessageId is at most {MAX_MESSAGE_ID} characters"),
            )
        return received_call(message_id, frame[2], frame[3])

    def _parse_answer(self, frame: list[Any], message_id: str | None) -> CallResult | CallError:
        kind = frame[0]
        if kind == MessageType.CallResult and message_id is not None and len(frame) == 3:
            return CallResult(message_id, frame[2])
        if kind == MessageType.CallError and message_id is not None and len(frame) == 5 and isinstance(frame[2], str):
            return CallError(message_id, frame[2], frame[3], frame[4])
        name = "CALLRESULT" if kind == MessageType.CallResult else "CALLERROR"
        raise BadFrame(f"malformed {name} (an answer is never answered)", message_id or UNREADABLE_ID, None)

    def _parse_unanswered(self, frame: list[Any], message_id: str | None) -> CallResultError | Send:
        """An OCPP 2.1 CALLRESULTERROR or SEND; a malformed one is logged, never answered."""
        if frame[0] == CALLRESULTERROR:
            if message_id is not None and len(frame) == 5 and isinstance(frame[2], str):
                return CallResultError(message_id, frame[2], frame[3], frame[4])
            raise BadFrame("malformed CALLRESULTERROR (never answered)", message_id or UNREADABLE_ID, None)
        if message_id is not None and len(frame) == 4 and isinstance(frame[2], str) and isinstance(frame[3], dict):
            return Send(message_id, frame[2], frame[3])
        raise BadFrame("malformed SEND (never answered)", message_id or UNREADABLE_ID, None)

    async def _take_send(self, message: Send) -> None:
        """An OCPP 2.1 SEND: its action's handler takes it, or it is kept as a charger event; never answered."""
        route = self._routes.get(message.action)
        if route is None:
            self.live.charger_event(self.charger_id, message.action, message.payload)
            return
        call = received_call(message.unique_id, message.action, message.payload)
        try:
            if route.validating:
                validate(call, self._ocpp_version)
            response = self._call_handler(call, route)
            if route.is_coroutine or _awaitable(response):
                await response
        except ConnectionClosed:
            raise
        except Exception as error:
            if not isinstance(error, OCPPError):
                log.exception("%s: SEND %s failed", self.id, message.action)
            self._event(f"SEND {message.action} not taken ({type(error).__name__}: {error}); a SEND is never answered")

    # -- answering ---------------------------------------------------------------------

    async def _answer(self, message: Call, answering: Any = None) -> None:
        """Answer a CALL: its refusal if it cannot be handled (`answering`: the handling is under way, to await)."""
        try:
            if answering is not None:
                await answering
                return
            route = self._routes.get(message.action)
            if route is None:
                if message.action in KNOWN_ACTIONS:
                    raise NotSupportedError(
                        description="Requested Action is recognized but not supported by the receiver",
                        details={"cause": f"this central system does not take {message.action} over OCPP {self._ocpp_version}"},
                    )
                raise NotImplementedCallError(
                    description="Requested Action is not known by receiver",
                    details={"cause": f"{message.action!r} is not an OCPP action"},
                )
            await self._handle_call(message, route)
        except ConnectionClosed:
            raise
        except OCPPError as error:
            await self._answer_error(message.unique_id, error, f"{message.action} refused")
        except Exception:
            log.exception("%s: failed to answer %s", self.id, message)
            await self._answer_error(message.unique_id, InternalError(), f"{message.action} failed on the central system")

    async def _answer_error(self, message_id: str, error: OCPPError, reason: str) -> None:
        await self._send(self._error_text(message_id, error, reason))

    def _error_text(self, message_id: str, error: OCPPError, reason: str) -> str:
        """The CALLERROR for `error` in this version's spelling; the charger's event log says why."""
        code = CODES_16.get(error.code, error.code) if self._ocpp_version == OcppVersion.V16.short else error.code
        # Only the cause goes back: the package's details also echo the whole offending message.
        details = {"cause": str(error.details["cause"])} if "cause" in error.details else {}
        self._event(f"{reason}: answered CALLERROR {code} ({details.get('cause') or error.description})")
        return CallError(message_id, code, error.description, details).to_json()

    async def _handle_call(self, msg: Call, route: Route | None = None) -> None:
        """The package's `_handle_call`, with compiled schema validation and cached key conversions.

        The same steps in the same order, with the same outcomes: a payload its
        schema refuses raises the package's error; a handler's failure is
        answered with the package's CALLERROR for it; the answer is validated
        before it is sent; an `after` hook runs once the answer is out.
        """
        if route is None:
            route = self._routes[msg.action]
        if route.validating:
            try:
                validate(msg, self._ocpp_version)
            except OCPPError:
                if not self._tolerated(msg):
                    raise
        try:
            response = self._call_handler(msg, route)
        except Exception as error:
            await self._send(self._handler_error(msg, error))
            return
        await self._complete(msg, route, response)

    async def _complete(self, msg: Call, route: Route, response: Any) -> None:
        """Send the answer to a CALL its handler has taken (awaited first if it is awaitable), then run the `after` hook."""
        if route.is_coroutine or _awaitable(response):
            try:
                response = await response
            except Exception as error:
                await self._send(self._handler_error(msg, error))
                return
        frame = self._answer_frame(msg, route, response)
        await self._connection.send(encode(frame), frame)
        self._after(msg, route)

    def _tolerated(self, msg: Call) -> bool:
        """Tolerant mode, for a CALL its schema refused: take it normalised, each deviation a protocol warning; False: refuse it as ever.

        Only here, after a refusal: a valid payload never pays for the mode.
        """
        charger_id = self.live.charger_id_for(self.id)
        record = self.live.record(charger_id) if charger_id is not None else None
        if record is None or not (self.tolerant or record.tolerant):
            return False
        tolerated = tolerate(msg, self._ocpp_version)
        if tolerated is None:
            return False
        msg.payload, deviations = tolerated
        for deviation in deviations:
            self.live.protocol_warning(charger_id, f"{msg.action}: {deviation}")
        return True

    def _call_handler(self, msg: Call, route: Route) -> Any:
        if route.takes_payload:
            if route.takes_id:
                return route.handler(self, msg.payload, call_unique_id=msg.unique_id)
            return route.handler(self, msg.payload)
        if route.takes_id:
            return route.handler(self, **to_snake(msg.payload), call_unique_id=msg.unique_id)
        return route.handler(self, **to_snake(msg.payload))

    def _handler_error(self, msg: Call, error: Exception) -> str:
        """The CALLERROR for a handler's failure, as the package answers it."""
        if isinstance(error, StoreUnavailable):
            # An answer that must be durable, and the store cannot take it: InternalError, which chargers
            # retry. No traceback: the store's state is logged once when it changes, not per CALL.
            self.live.log(self.id, "event", f"{msg.action} not taken, {error}: answered CALLERROR InternalError")
            return msg.create_call_error(InternalError(description=str(error))).to_json()
        if not isinstance(error, (OCPPError, ConnectionClosed)):
            # An unexpected failure is an InternalError answer, not a dead connection.
            log.exception("%s: %s handler failed", self.id, msg.action, exc_info=error)
            self._event(f"{msg.action} failed on the central system ({type(error).__name__}): answered CALLERROR InternalError")
            error = InternalError()
        self.logger.exception("Error while handling request '%s'", msg, exc_info=error)
        return msg.create_call_error(error).to_json()

    def _answer_frame(self, msg: Call, route: Route, response: Any) -> list[Any]:
        """The CALLRESULT frame of a handler's answer, validated against its schema."""
        payload = answer_payload(response)
        if route.validating:
            validate(CallResult(msg.unique_id, payload, msg.action), self._ocpp_version)
        return [CALLRESULT, msg.unique_id, payload]

    def _after(self, msg: Call, route: Route) -> None:
        """The route's `after` hook, once the answer is out."""
        after = route.after
        if after is None:
            return
        snake_case_payload = to_snake(msg.payload)
        if route.after_takes_id:
            outcome = after(self, **snake_case_payload, call_unique_id=msg.unique_id)
        else:
            outcome = after(self, **snake_case_payload)
        # A task, so a CALL made from the hook does not hold up this connection.
        if inspect.isawaitable(outcome):
            asyncio.ensure_future(outcome)

    # -- sending -------------------------------------------------------------------------

    async def call_payload(self, action: str, payload: dict[str, Any], unique_id: str) -> Any:
        """Send a CALL with `payload` as given (camelCase) and return its answer's payload as received.

        The package's `call`, without its conversions: it turns every key of the
        request and of the answer between camelCase and snake_case and drops
        nulls, which rewrites vendor data (DataTransfer's `data`, `customData`:
        `some_key` arrived as `someKey`). The same checks otherwise: the request
        and the answer are validated against their schemas, one CALL at a time,
        a CALLERROR is raised as the package's exception for its code.
        """
        call = Call(unique_id, action, payload)
        validate(call, self._ocpp_version)
        frame = [int(MessageType.Call), unique_id, action, payload]
        text = encode(frame)
        async with self._call_lock:
            # Set before sending: a quick answer may arrive before we start waiting for it.
            self._awaiting = unique_id
            await self._connection.send(text, frame)
            try:
                response = await self._get_specific_response(unique_id, self._response_timeout)
            except asyncio.TimeoutError:
                raise asyncio.TimeoutError(f"Waited {self._response_timeout}s for response on {text}.") from None
        if response.message_type_id == MessageType.CallError:
            self.logger.warning("Received a CALLError: %s'", response)
            raise response.to_exception()
        response.action = action
        validate(response, self._ocpp_version)
        return response.payload

    async def _send(self, message: str) -> None:
        await self._connection.send(message)

    def has_answer(self, unique_id: str) -> bool:
        """Whether the answer to our CALL `unique_id` has arrived: it is the call's outcome, even when the close comes next."""
        return self._answered == unique_id

    async def _get_specific_response(self, unique_id: str, timeout: float) -> Any:
        try:
            return await super()._get_specific_response(unique_id, timeout)  # type: ignore[misc]
        except asyncio.TimeoutError:
            # An answer after the timeout is one nobody waits for any more.
            if self._awaiting == unique_id:
                self._awaiting = None
            raise

    def _event(self, text: str) -> None:
        log.warning("%s: %s", self.id, text)
        self.live.log(self.id, "event", text)
