"""Simulated chargers of security profile 3: they connect with the certificate the lab CA issued them, renew it
by CSR when the central system asks, and keep the root certificates installed on them — no hardware needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from cryptography import x509

from console.core.certificates import LabCA, common_name
from console.core.clock import ManualClock
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.depot import server_tls
from console.sim.manager import SimManager, ssl_context_for
from simtools import eventually


@pytest.fixture
def lab() -> LabCA:
    return LabCA.create()


@pytest.fixture
async def wss(service: ConsoleService, lab: LabCA, tmp_path: Path) -> AsyncIterator[tuple[CentralSystem, Path]]:
    server_ca = trustme.CA()
    issued = server_ca.issue_cert("127.0.0.1", "localhost")
    cert, key, clients, trusted = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "clients.pem", tmp_path / "server-ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    server_ca.cert_pem.write_to_path(str(trusted))
    clients.write_text(lab.pem)
    service.certificates.ca = lab
    central = CentralSystem(service, port=0, heartbeat_interval=60, call_timeout=5, ssl_context=server_tls(cert, key, clients))
    await central.start()
    yield central, trusted
    await central.stop()


@pytest.fixture
async def sims(
    service: ConsoleService, clock: ManualClock, wss: tuple[CentralSystem, Path], lab: LabCA
) -> AsyncIterator[SimManager]:
    central, trusted = wss
    manager = SimManager(service.live, clock, central.url, seed=7, auto_sessions=False, ssl_context=ssl_context_for(str(trusted)))
    manager.provision = lab.issue
    service.attach(runtime=manager)
    yield manager
    await manager.close()


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
async def test_a_profile_3_simulated_charger_connects_renews_its_certificate_and_keeps_roots(
    service: ConsoleService, sims: SimManager, lab: LabCA, version: str
) -> None:
    charger = await service.create_charger({"identity": "CP-SIM3", "ocpp_version": version, "simulated": True, "security_profile": 3})
    await sims.start(charger.id)
    await eventually(lambda: service.live.view(charger.id).is_connected, timeout=10)
    first = sims._runtimes[charger.id].charger.certificates.certificate
    assert first is not None

    # The central system asks for a CSR; the lab CA signs it; the charger takes the new certificate.
    if version == "OCPP1.6":
        result = await service.operate(charger.id, "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
    else:
        result = await service.operate(charger.id, "TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"})
    assert result.state == "acknowledged"

    async def renewed() -> bool:
        actions = await service.list_actions(charger.id)
        return any(a.command == "certificate_signed" and a.state == "acknowledged" for a in actions)

    await eventually(renewed, timeout=10)
    certificates = sims._runtimes[charger.id].charger.certificates
    assert certificates.certificate is not None and certificates.certificate != first
    renewed_certificate = x509.load_pem_x509_certificate(certificates.certificate.encode())
    assert common_name(renewed_certificate.subject) == "CP-SIM3"
    renewed_certificate.verify_directly_issued_by(lab.certificate)

    # Roots: installed, listed by their hash data, deleted.
    kind = "CentralSystemRootCertificate" if version == "OCPP1.6" else "CSMSRootCertificate"
    installed = await service.operate(charger.id, "InstallCertificate", {"certificateType": kind, "certificate": lab.pem})
    assert installed.state == "acknowledged"
    listing = {"certificateType": kind} if version == "OCPP1.6" else {"certificateType": [kind]}
    listed = await service.operate(charger.id, "GetInstalledCertificateIds", listing)
    assert listed.state == "acknowledged"
    hashes = listed.answer.get("certificateHashData") or [item["certificateHashData"] for item in listed.answer["certificateHashDataChain"]]
    assert hashes[0]["serialNumber"] == format(lab.certificate.serial_number, "x")
    deleted = await service.operate(charger.id, "DeleteCertificate", {"certificateHashData": hashes[0]})
    assert deleted.state == "acknowledged"
    again = await service.operate(charger.id, "DeleteCertificate", {"certificateHashData": hashes[0]})
    assert again.state == "rejected" and again.status == "NotFound"

    # It reconnects with the renewed certificate: the TLS layer and the identity check take it.
    await sims.restart(charger.id)
    await eventually(lambda: service.live.view(charger.id).is_connected, timeout=10)
    assert service.live.view(charger.id).last_failure is None or "certificate" not in service.live.view(charger.id).last_failure


async def test_a_profile_3_simulated_charger_without_a_certificate_is_refused(
    service: ConsoleService, sims: SimManager
) -> None:
    sims.provision = None  # no lab CA gave it one
    charger = await service.create_charger({"identity": "CP-NOCERT", "simulated": True, "security_profile": 3})
    await sims.start(charger.id)

    def refused() -> bool:
        return "security profile 0 is below the 3" in (service.live.view(charger.id).last_failure or "")

    await eventually(refused, timeout=10)
    assert not service.live.view(charger.id).is_connected
