"""A WebSocket wrapper that records every OCPP-J frame, in and out, as a log entry.

Results and errors carry only a message id; the wrapper remembers which CALL
each id belongs to so the log can name the action they answer.
"""

from __future__ import annotations

import json
from typing import Any

from console.core.live import LiveState

CALL, CALLRESULT, CALLERROR = 2, 3, 4
REMEMBERED_IDS = 1000


def _head(text: str) -> tuple[int | None, str | None, str | None]:
    try:
        frame = json.loads(text)
    except ValueError:
        return None, None, None
    if not isinstance(frame, list) or len(frame) < 2 or not isinstance(frame[1], str):
        return None, None, None
    action = frame[2] if frame[0] == CALL and len(frame) > 2 and isinstance(frame[2], str) else None
    return frame[0] if isinstance(frame[0], int) else None, frame[1], action


class LoggedConnection:
    def __init__(self, connection: Any, live: LiveState, identity: str) -> None:
        self._connection = connection
        self._live = live
        self._identity = identity
        self._calls_in: dict[str, str] = {}
        self._calls_out: dict[str, str] = {}

    def _note(self, text: str, direction: str) -> None:
        kind, message_id, action = _head(text)
        mine, theirs = (
            (self._calls_in, self._calls_out) if direction == "in" else (self._calls_out, self._calls_in)
        )
        if kind == CALL and message_id is not None and action is not None:
            if len(mine) > REMEMBERED_IDS:
                mine.pop(next(iter(mine)))
            mine[message_id] = action
        elif kind in (CALLRESULT, CALLERROR) and message_id is not None:
            action = theirs.pop(message_id, None)
        self._live.log_frame(self._identity, direction, text, action=action)

    async def recv(self) -> str:
        message = await self._connection.recv()
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        self._note(text, "in")
        return text

    async def send(self, message: str) -> None:
        self._note(message, "out")
        await self._connection.send(message)
