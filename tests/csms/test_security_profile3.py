"""Security profile 3: chargers prove who they are with a client certificate, and get their certificate signed.

A real TLS listener (`--tls-cert/--tls-key/--tls-client-ca`, console.depot.server_tls) and real TLS clients:
the server's certificate from trustme, the chargers' from the console's own lab CA (console.core.certificates,
what `ocpp-console ca init/issue` make), one from another CA for the wrong-certificate case.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Client16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v16.enums import RegistrationStatus
from ocpp.v201 import call as call201
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus

from console.core.certificates import LabCA, common_name, make_csr
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.depot import server_tls
from ocpp_clients import charge_point, eventually


@pytest.fixture(scope="module")
def server_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def lab() -> LabCA:
    return LabCA.create()


@pytest.fixture
async def wss(service: ConsoleService, server_ca: trustme.CA, lab: LabCA, tmp_path: Path) -> AsyncIterator[CentralSystem]:
    issued = server_ca.issue_cert("127.0.0.1", "localhost")
    cert, key, client_ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "clients-ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    client_ca.write_text(lab.pem)
    central = CentralSystem(service, port=0, ssl_context=server_tls(cert, key, client_ca))
    await central.start()
    yield central
    await central.stop()


def charger_tls(server_ca: trustme.CA, tmp_path: Path, issued: tuple[str, str] | None = None) -> ssl.SSLContext:
    """A charger's TLS stack: trusts the server, and presents `issued` (certificate, key) if given."""
    context = ssl.create_default_context()
    server_ca.configure_trust(context)
    if issued is not None:
        cert, key = tmp_path / "charger.pem", tmp_path / "charger.key"
        cert.write_text(issued[0])
        key.write_text(issued[1])
        context.load_cert_chain(cert, key)
    return context


async def refusal(url: str, identity: str, context: ssl.SSLContext) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{url}/{identity}", subprotocols=["ocpp1.6"], ssl=context):  # type: ignore[list-item]
            pass
    return refused.value.response.status_code


async def test_a_profile_3_charger_with_its_certificate_connects_without_a_password(
    service: ConsoleService, wss: CentralSystem, server_ca: trustme.CA, lab: LabCA, tmp_path: Path
) -> None:
    await service.create_charger({"identity": "CP-P3", "security_profile": 3, "password": "a-password-it-never-sends"})
    context = charger_tls(server_ca, tmp_path, lab.issue("CP-P3"))
    async with charge_point(wss.url, "CP-P3", ssl=context) as cp:
        answer = await cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
    assert answer.status == RegistrationStatus.accepted


async def test_a_certificate_issued_to_another_charger_is_refused_and_said(
    service: ConsoleService, wss: CentralSystem, server_ca: trustme.CA, lab: LabCA, tmp_path: Path
) -> None:
    charger = await service.create_charger({"identity": "CP-P3", "security_profile": 3})
    context = charger_tls(server_ca, tmp_path, lab.issue("CP-OTHER"))
    assert await refusal(wss.url, "CP-P3", context) == 403
    view = service.live.view(charger.id)
    assert view.last_failure is not None and "issued to 'CP-OTHER'" in view.last_failure


async def test_a_profile_3_charger_without_a_certificate_is_refused_and_said(
    service: ConsoleService, wss: CentralSystem, server_ca: trustme.CA, tmp_path: Path
) -> None:
    charger = await service.create_charger({"identity": "CP-P3", "security_profile": 3, "password": "the-right-password"})
    context = charger_tls(server_ca, tmp_path)
    # Even with its right password: profile 2 is below what its record requires (A00.FR.002).
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            f"{wss.url}/CP-P3", subprotocols=["ocpp1.6"], ssl=context,  # type: ignore[list-item]
            additional_headers={"Authorization": "Basic Q1AtUDM6dGhlLXJpZ2h0LXBhc3N3b3Jk"},
        ):
            pass
    assert refused.value.response.status_code == 403
    view = service.live.view(charger.id)
    assert view.last_failure is not None and "security profile 2 is below the 3" in view.last_failure


async def test_a_charger_below_its_recorded_profile_is_refused(
    service: ConsoleService, wss: CentralSystem, server_ca: trustme.CA, tmp_path: Path
) -> None:
    charger = await service.create_charger({"identity": "CP-P2", "security_profile": 2})
    assert await refusal(wss.url, "CP-P2", charger_tls(server_ca, tmp_path)) == 403
    assert "security profile 0 is below the 2" in (service.live.view(charger.id).last_failure or "")


async def test_a_certificate_from_another_ca_fails_the_tls_handshake(
    service: ConsoleService, wss: CentralSystem, server_ca: trustme.CA, tmp_path: Path
) -> None:
    await service.create_charger({"identity": "CP-P3", "security_profile": 3})
    context = charger_tls(server_ca, tmp_path, LabCA.create("someone else's CA").issue("CP-P3"))
    # TLS 1.3 checks the client's certificate after the client thinks the handshake is done: the server
    # then closes, and the client sees no HTTP answer (1.2: the handshake itself fails).
    with pytest.raises((ssl.SSLError, ConnectionError, InvalidMessage)):
        async with connect(f"{wss.url}/CP-P3", subprotocols=["ocpp1.6"], ssl=context) as ws:  # type: ignore[list-item]
            await ws.recv()


class SigningCharger(Client16):
    """A 1.6 charger with the security extension: keeps the certificate the central system sends."""

    signed: asyncio.Future[str]

    @on(Action16.certificate_signed)
    def on_certificate_signed(self, certificate_chain: str) -> result16.CertificateSigned:
        self.signed.set_result(certificate_chain)
        return result16.CertificateSigned(status="Accepted")


async def test_a_csr_is_signed_by_the_lab_ca_and_sent_back_as_certificate_signed(
    service: ConsoleService, central_system: CentralSystem, lab: LabCA
) -> None:
    service.certificates.ca = lab
    charger = await service.create_charger({"identity": "CP-CSR"})
    key = ec.generate_private_key(ec.SECP256R1())
    async with charge_point(central_system.url, "CP-CSR", client=SigningCharger) as cp:
        cp.signed = asyncio.get_running_loop().create_future()
        answer = await cp.call(call16.SignCertificate(csr=make_csr("CP-CSR", key)))
        assert answer.status == "Accepted"
        chain = await asyncio.wait_for(cp.signed, 5)

        async def recorded() -> bool:
            actions = await service.list_actions(charger.id)
            return any(action.command == "certificate_signed" and action.state == "acknowledged" for action in actions)

        await eventually(recorded, timeout=5)  # the charger's answer is the action's outcome
    certificate = x509.load_pem_x509_certificate(chain.encode())
    assert common_name(certificate.subject) == "CP-CSR"
    certificate.verify_directly_issued_by(lab.certificate)
    assert certificate.public_key() == key.public_key()


async def test_a_csr_for_another_identity_is_rejected_and_kept_as_an_event(
    service: ConsoleService, central_system: CentralSystem, lab: LabCA
) -> None:
    service.certificates.ca = lab
    charger = await service.create_charger({"identity": "CP-CSR", "ocpp_version": "OCPP2.0.1"})
    csr = make_csr("CP-SOMEONE-ELSE", ec.generate_private_key(ec.SECP256R1()))
    async with charge_point(central_system.url, "CP-CSR", "ocpp2.0.1") as cp:
        answer = await cp.call(call201.SignCertificate(csr=csr))
    assert answer.status == "Rejected"

    async def kept() -> Any:
        events = await service.charger_events(charger.id)
        return [event for event in events if event.kind == "CertificateRequest"]

    await eventually(kept, timeout=5)
    (event,) = await kept()
    assert event.data["status"] == "Rejected" and "CP-SOMEONE-ELSE" in event.data["problem"]
    assert not [action for action in await service.list_actions(charger.id) if action.command == "certificate_signed"]


async def test_without_a_lab_ca_a_csr_is_kept_for_the_operator(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "CP-CSR"})
    csr = make_csr("CP-CSR", ec.generate_private_key(ec.SECP256R1()))
    async with charge_point(central_system.url, "CP-CSR") as cp:
        answer = await cp.call(call16.SignCertificate(csr=csr))
    assert answer.status == "Accepted"

    async def kept() -> Any:
        return [event for event in await service.charger_events(charger.id) if event.kind == "CertificateRequest"]

    await eventually(kept, timeout=5)
    assert json.dumps((await kept())[0].data).count("BEGIN CERTIFICATE REQUEST") == 1
