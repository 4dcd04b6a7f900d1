"""permessage-deflate per OCPP version: on for 2.0.1 (the spec asks for it), off for 1.6, both settable."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect

from console.core.service import ConsoleService
from console.csms.server import COMPRESSION, CentralSystem, compression_setting


def negotiated(ws) -> list[str]:  # type: ignore[no-untyped-def]
    return [extension.name for extension in ws.protocol.extensions]


async def test_a_201_charger_offering_deflate_gets_it_and_a_16_charger_does_not(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    await service.create_charger({"identity": "V16", "ocpp_version": "OCPP1.6"})
    await service.create_charger({"identity": "V201", "ocpp_version": "OCPP2.0.1"})
    async with connect(f"{central_system.url}/V201", subprotocols=["ocpp2.0.1"], compression="deflate") as ws:  # type: ignore[list-item]
        assert negotiated(ws) == ["permessage-deflate"]
    async with connect(f"{central_system.url}/V16", subprotocols=["ocpp1.6"], compression="deflate") as ws:  # type: ignore[list-item]
        assert negotiated(ws) == []
    # A charger that does not offer it is served without it, whatever the version.
    async with connect(f"{central_system.url}/V201", subprotocols=["ocpp2.0.1"], compression=None) as ws:  # type: ignore[list-item]
        assert negotiated(ws) == []


async def test_the_setting_per_version(service: ConsoleService) -> None:
    await service.create_charger({"identity": "V16", "ocpp_version": "OCPP1.6"})
    await service.create_charger({"identity": "V201", "ocpp_version": "OCPP2.0.1"})
    central = CentralSystem(service, port=0, compression={"ocpp1.6": True, "ocpp2.0.1": False, "ocpp2.1": False})
    await central.start()
    try:
        async with connect(f"{central.url}/V16", subprotocols=["ocpp1.6"], compression="deflate") as ws:  # type: ignore[list-item]
            assert negotiated(ws) == ["permessage-deflate"]
        async with connect(f"{central.url}/V201", subprotocols=["ocpp2.0.1"], compression="deflate") as ws:  # type: ignore[list-item]
            assert negotiated(ws) == []
    finally:
        await central.stop()


@pytest.mark.parametrize(
    ("text", "changed"),
    [
        (None, {}),
        ("ocpp1.6=on", {"ocpp1.6": True}),
        ("ocpp2.0.1=off, ocpp2.1=OFF", {"ocpp2.0.1": False, "ocpp2.1": False}),
        ("ocpp9=on,ocpp1.6=maybe,garbage", {}),
    ],
)
def test_compression_setting_from_text(text: str | None, changed: dict[str, bool]) -> None:
    assert compression_setting(text) == {**COMPRESSION, **changed}
