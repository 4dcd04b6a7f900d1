"""What screens, widgets and modals may ask of the app they run in.

They import this, never `tui/app.py`: the app imports them, so naming the app
class back would close an import circle. `ConsoleApp` is the one host there is.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING

from textual.app import App

if TYPE_CHECKING:
    from console.core.backend import Backend
    from console.core.clock import Clock


class ConsoleHost(App[None]):
    """Textual's app, with the backend every pane reads, the clock every age is counted on and the zone times are shown in."""

    backend: Backend
    clock: Clock
    # None: the machine's own zone.
    zone: tzinfo | None
    # Whether a stop, restart, inoperative or unlock that ends a session on one charger asks first.
    confirm_single: bool
