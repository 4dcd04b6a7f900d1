"""The command palette (ctrl+p): find a charger by identity or name, and act on it.

Each hit is one key's action on one charger, offered only when that key could
run on it now (the same checks that dim the keys).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from console.tui.screens.main import MainScreen

# (action, words in the palette); "select" only moves the table to the charger.
ACTIONS = (
    ("select", "Show"),
    ("charge", "Charge"),
    ("idle", "Idle"),
    ("unlock", "Unlock"),
    ("availability", "Toggle availability of"),
    ("operations", "Operations on"),
    ("start", "Start"),
    ("stop", "Stop"),
    ("restart", "Restart"),
    ("update", "Edit"),
    ("delete", "Delete"),
)
DISCOVERY_LIMIT = 20


class ChargerCommands(Provider):
    def _main(self) -> MainScreen | None:
        from console.tui.screens.main import MainScreen

        screen = self.app.screen_stack[0] if self.app.screen_stack else None
        return screen if isinstance(screen, MainScreen) else None

    def _offers(self, main: MainScreen) -> list[tuple[str, str, str, str]]:
        """(text to match, shown text, charger id, action) for every action that can run now."""
        offers = []
        for charger in sorted(main._chargers.values(), key=lambda charger: charger.identity):
            who = f"{charger.identity} ({charger.name})" if charger.name else charger.identity
            for action, words in ACTIONS:
                if action != "select" and main.why_not(action, [charger])[0] is not True:
                    continue
                offers.append((f"{words} {charger.identity} {charger.name or ''}", f"{words} {who}", charger.id, action))
        return offers

    async def search(self, query: str) -> Hits:
        main = self._main()
        if main is None:
            return
        matcher = self.matcher(query)
        for text, shown, charger_id, action in self._offers(main):
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(shown), partial(main.run_on, charger_id, action), help=f"{action} · {charger_id}")

    async def discover(self) -> Hits:
        main = self._main()
        if main is None:
            return
        offers = [offer for offer in self._offers(main) if offer[3] == "select"]
        for _, shown, charger_id, action in offers[:DISCOVERY_LIMIT]:
            yield DiscoveryHit(shown, partial(main.run_on, charger_id, action), help="select the charger")
