"""Security profile 2: the TLS suites OCPP requires of a central system, each tried by a client that offers only it.

The listener's context is the one `--tls-cert/--tls-key` builds (console.depot.server_tls), over an RSA
certificate: the TLS_RSA_WITH_AES_*_GCM suites need one.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from ocpp.v16 import call as call16
from ocpp.v16.enums import RegistrationStatus

from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.depot import server_tls
from ocpp_clients import charge_point


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(key_type=trustme.KeyType.RSA)


@pytest.fixture
async def wss(service: ConsoleService, ca: trustme.CA, tmp_path: Path) -> AsyncIterator[CentralSystem]:
    issued = ca.issue_cert("127.0.0.1", "localhost", key_type=trustme.KeyType.RSA)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    central = CentralSystem(service, port=0, ssl_context=server_tls(cert, key))
    await central.start()
    yield central
    await central.stop()


def client_offering(ca: trustme.CA, suite: str, version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> ssl.SSLContext:
    """A charger's TLS stack that speaks only `suite` over TLS 1.2 (or only `version`)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    context.minimum_version = context.maximum_version = version
    context.set_ciphers(suite)
    return context


@pytest.mark.parametrize(
    "suite",
    [
        "AES128-GCM-SHA256",  # TLS_RSA_WITH_AES_128_GCM_SHA256
        "AES256-GCM-SHA384",  # TLS_RSA_WITH_AES_256_GCM_SHA384
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
    ],
)
async def test_a_charger_offering_one_required_suite_connects(
    service: ConsoleService, wss: CentralSystem, ca: trustme.CA, suite: str
) -> None:
    await service.create_charger({"identity": "TLS-1"})
    async with charge_point(wss.url, "TLS-1", ssl=client_offering(ca, suite)) as client:
        boot = await client.call(call16.BootNotification(charge_point_vendor="Acme", charge_point_model="RSA only"))
        negotiated = client._connection.transport.get_extra_info("cipher")
    assert boot.status == RegistrationStatus.accepted
    assert negotiated[:2] == (suite, "TLSv1.2")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
async def test_tls_before_1_2_is_refused(service: ConsoleService, wss: CentralSystem, ca: trustme.CA) -> None:
    await service.create_charger({"identity": "TLS-1"})
    old = client_offering(ca, "AES128-SHA:@SECLEVEL=0", ssl.TLSVersion.TLSv1_1)
    with pytest.raises(OSError):  # the server's alert (SSLError) or its reset
        async with charge_point(wss.url, "TLS-1", ssl=old):
            pass
