"""Messages the console's widgets send up to the screen."""

from __future__ import annotations

from textual.message import Message

from console.core.views import LocationView


class LocationsChanged(Message):
    """A location's cap changed: the header shows the new headroom."""

    def __init__(self, locations: list[LocationView]) -> None:
        super().__init__()
        self.locations = locations
