"""One vocabulary for OCPP versions.

A version has three spellings on the way through the console: the record's
(`OCPP1.6`, what the store, the fleet file and the REST API carry), the
WebSocket subprotocol (`ocpp1.6`, what a charger offers in its handshake) and
the schema's (`1.6`, what the `ocpp` package names its schemas by). They are
all one `OcppVersion`: compare and store it as its record spelling (it is a
`str`), ask it for the other two, and read any spelling with `OcppVersion.parse`.

Plain Python, no third-party imports: every layer may use it, the UI included.
"""

from __future__ import annotations

from enum import StrEnum


class OcppVersion(StrEnum):
    V16 = "OCPP1.6"
    V201 = "OCPP2.0.1"
    V21 = "OCPP2.1"

    @property
    def subprotocol(self) -> str:
        """The WebSocket subprotocol a charger offers: `ocpp1.6`, `ocpp2.0.1`, `ocpp2.1`."""
        return self.value.lower()

    @property
    def short(self) -> str:
        """The number alone, as the `ocpp` package names its schemas and the table shows it: `1.6`."""
        return self.value.removeprefix("OCPP")

    @property
    def is_16(self) -> bool:
        """1.6 speaks idTag/connectorId/transactionId; 2.0.1 and 2.1 speak idToken/evse/transaction events."""
        return self is OcppVersion.V16

    @classmethod
    def parse(cls, text: str | None) -> OcppVersion:
        """Any spelling (`OCPP2.0.1`, `ocpp2.0.1`, `2.0.1`, `v201`) as the version; ValueError names the known ones."""
        if isinstance(text, cls):
            return text
        key = (text or "").strip().lower().removeprefix("ocpp").removeprefix("v").replace("_", ".")
        found = _SPELLINGS.get(key)
        if found is None:
            raise ValueError(f"unknown OCPP version {text!r}: one of {', '.join(v.value for v in cls)}")
        return found


_SPELLINGS = {
    **{version.short: version for version in OcppVersion},
    "16": OcppVersion.V16,
    "201": OcppVersion.V201,
    "21": OcppVersion.V21,
}

# Newest first: the order the server prefers among the subprotocols a charger offers.
SUBPROTOCOLS: tuple[str, ...] = tuple(version.subprotocol for version in reversed(OcppVersion))
