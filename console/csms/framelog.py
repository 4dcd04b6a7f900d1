"""A WebSocket wrapper that records every OCPP-J frame, in and out, as a log entry.

Results and errors carry only a message id; the wrapper remembers which CALL
each id belongs to so the log can name the action they answer. Secrets a frame
may carry (a charger's Basic auth password set over OCPP, APN or VPN
passwords) are masked in the log; the frame on the wire is untouched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from typing import Any

from console.core.live import LiveState
from console.core.passwords import MASK, SECRET_KEYS, mask_secrets

CALL, CALLRESULT, CALLERROR = 2, 3, 4
REMEMBERED_IDS = 1000


class MaskCredentials(logging.Filter):
    """websockets' debug log lists every handshake header; the Authorization one carries the password."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and str(args[0]).lower() == "authorization":
            record.args = (args[0], MASK)
        return True


# The server's handshakes log through this logger whatever level it is set to.
logging.getLogger("websockets.server").addFilter(MaskCredentials())


# Frames that may carry a secret: "password" in any case, or a secret key. A wider net than
# `mask_secrets` needs (keys matched in any case too); what it catches is looked at closely.
# Substring tests of the case-folded frame: a case-blind regular expression of these took
# 13 µs on a MeterValues frame, more than the rest of its logging.
_SECRET_WORDS = tuple(sorted({"password", *(key.casefold() for key in SECRET_KEYS)}))


def _may_hold_secret(text: str) -> bool:
    folded = text.casefold()
    for word in _SECRET_WORDS:
        if word in folded:
            return True
    return False


def redact(text: str) -> str:
    """The frame as it may be logged: secrets masked, anything else verbatim."""
    if not _may_hold_secret(text):
        return text
    try:
        frame = json.loads(text)
    except ValueError:
        return text
    masked, found = mask_secrets(frame)
    return json.dumps(masked, separators=(",", ":")) if found else text


UNPARSED: Any = object()


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


class LoggedConnection:
    """Sends and receives frames; every frame, in and out, is logged once.

    Incoming frames are logged by whoever parses them (`note_in`), so a frame
    is parsed once for both the protocol and the log.
    """

    def __init__(self, connection: Any, live: LiveState, identity: str) -> None:
        self._connection = connection
        self._live = live
        self._identity = identity
        self._calls_in: dict[str, str] = {}
        self._calls_out: dict[str, str] = {}

    def _note(self, text: str, direction: str, frame: Any) -> None:
        if frame is UNPARSED:
            frame = _parse(text)
        action = logged_id = None
        if isinstance(frame, list) and len(frame) >= 2 and isinstance(frame[1], str):
            message_id = frame[1]
            kind = frame[0]
            size = len(frame)
            # The log row keeps a MessageId from three elements up, as frame_summary reads it.
            if size >= 3:
                logged_id = message_id
            if kind == CALL and size > 2 and isinstance(frame[2], str):
                action = frame[2]
                if isinstance(kind, int):  # a CALL: its answer will be logged with its action
                    mine = self._calls_in if direction == "in" else self._calls_out
                    if len(mine) > REMEMBERED_IDS:
                        mine.pop(next(iter(mine)))
                    mine[message_id] = action
            elif (kind == CALLRESULT or kind == CALLERROR) and isinstance(kind, int):
                theirs = self._calls_out if direction == "in" else self._calls_in
                action = theirs.pop(message_id, None)
        self._live.log(self._identity, direction, redact(text), action, logged_id)

    def note_in(self, message: str | bytes, frame: Any = UNPARSED) -> None:
        """Log a received frame; `frame` is its parsed JSON (None when it is not JSON)."""
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        self._note(text, "in", frame)

    def recv(self) -> Awaitable[str | bytes]:
        """The next frame as received (a binary frame stays bytes, for the handler to refuse); not yet logged.

        The connection's own `recv`, awaited by the caller: no coroutine of ours in between.
        """
        return self._connection.recv()

    def send(self, message: str, frame: Any = UNPARSED) -> Awaitable[None]:
        """Log a frame and send it (await the result); `frame` is the object `message` encodes, when the caller has it."""
        self._note(message, "out", frame)
        return self._connection.send(message)

    def write_text(self, message: str, frame: Any = UNPARSED) -> None:
        """Log a frame and send it from a callback (`ProtocolGuard.answer_at_once`): the connection's `write_text`."""
        self._note(message, "out", frame)
        self._connection.write_text(message)

    async def close(self, code: int, reason: str) -> None:
        await self._connection.close(code, reason)
