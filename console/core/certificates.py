"""Certificates for OCPP security profile 3: a small certificate authority for a lab, and the checks
the central system makes on a charger's certificate and certificate signing request.

A depot with its own public-key infrastructure hands the charger's CSR to the operator (it is kept
as a charger event); a lab gives the console a CA certificate and key (`--ca-cert`, `--ca-key`, made
by `ocpp-console ca init`) and the console signs the CSR itself and sends the charger its certificate
(CertificateSigned). Every X.509 structure is read and written by `cryptography`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from console.core.errors import ConsoleError, ValidationFailed
from console.core.versions import OcppVersion

log = logging.getLogger(__name__)

# How long a certificate the lab CA signs for a charger is valid.
CHARGER_CERT_DAYS = 365
CA_DAYS = 3650


def common_name(name: x509.Name) -> str | None:
    """The subject's CN, if it has one."""
    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else None


def peer_common_name(peercert: dict | None) -> str | None:
    """The CN of a verified peer certificate as `ssl.SSLSocket.getpeercert()` gives it (None: no certificate)."""
    if not peercert:
        return None
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def read_csr(pem: str, identity: str) -> x509.CertificateSigningRequest:
    """A charger's CSR, checked: well-formed PEM, its own signature valid, its CN the charger's identity."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as error:
        raise ValidationFailed({"csr": f"not a PEM certificate signing request: {error}"}, f"CSR from {identity}") from None
    if not csr.is_signature_valid:
        raise ValidationFailed({"csr": "the request's signature does not match its key"}, f"CSR from {identity}")
    cn = common_name(csr.subject)
    if cn != identity:
        raise ValidationFailed(
            {"csr": f"its subject CN is {cn!r}, not the charger's identity {identity!r}"}, f"CSR from {identity}"
        )
    return csr


@dataclass
class LabCA:
    """A CA certificate and its key, which sign chargers' CSRs."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> LabCA:
        try:
            certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError) as error:
            raise ValidationFailed({"ca": f"cannot read the CA ({cert_path}, {key_path}): {error}"}, "the lab CA") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValidationFailed({"ca": "the CA key must be an EC key (as `ocpp-console ca init` makes)"}, "the lab CA")
        return cls(certificate, key)

    @classmethod
    def create(cls, name: str = "ocpp-console lab CA", now: dt.datetime | None = None) -> LabCA:
        now = now or dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    def save(self, cert_path: Path, key_path: Path) -> None:
        cert_path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        key_path.touch(mode=0o600)
        key_path.write_bytes(
            self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, csr: x509.CertificateSigningRequest, now: dt.datetime | None = None) -> str:
        """A client certificate for the CSR's subject and key (PEM), valid for a year."""
        now = now or dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.certificate.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CHARGER_CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, identity: str, now: dt.datetime | None = None) -> tuple[str, str]:
        """A key and a certificate for a charger (PEM each): what a lab charger is provisioned with."""
        key = ec.generate_private_key(ec.SECP256R1())
        csr = make_csr(identity, key)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return self.sign(x509.load_pem_x509_csr(csr.encode()), now), key_pem.decode()


def make_csr(identity: str, key: ec.EllipticCurvePrivateKey, organization: str | None = None) -> str:
    """A CSR (PEM) for a charger's key, its CN the charger's identity: what a charger sends in SignCertificate."""
    names = [x509.NameAttribute(NameOID.COMMON_NAME, identity)]
    if organization:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def certificate_hash_data(pem: str) -> dict[str, str]:
    """OCPP's CertificateHashData of a certificate: SHA-256 of its issuer's name and key, and its serial."""
    certificate = x509.load_pem_x509_certificate(pem.encode())
    issuer_name = certificate.issuer.public_bytes()
    digest = hashes.Hash(hashes.SHA256())
    digest.update(issuer_name)
    name_hash = digest.finalize().hex()
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": name_hash,
        "issuerKeyHash": name_hash,  # the issuer's key is not in the certificate; its name hash stands in, as chargers do
        "serialNumber": format(certificate.serial_number, "x"),
    }


def security_profile(tls: bool, password: bool, client_certificate: bool) -> int:
    """The OCPP security profile a connection meets: 3 TLS with a client certificate, 2 TLS and Basic auth,
    1 Basic auth without TLS, 0 none of these."""
    if tls and client_certificate:
        return 3
    if tls and password:
        return 2
    return 1 if password else 0


__all__ = [
    "CertificateService",
    "LabCA",
    "certificate_hash_data",
    "common_name",
    "make_csr",
    "peer_common_name",
    "read_csr",
    "security_profile",
]


class CertificateService:
    """What the central system does with a charger's SignCertificate: checks the CSR, and signs it with the
    lab CA (then sends CertificateSigned as an action) or keeps it for the operator's own CA."""

    def __init__(
        self,
        record: Callable[[str], Any],
        operate: Callable[..., Awaitable[Any]],
        event: Callable[[str, str, dict[str, Any]], None],
        ca: LabCA | None = None,
    ) -> None:
        self.record = record
        self.operate = operate
        self.event = event
        self.ca = ca
        self._sending: set[asyncio.Task[Any]] = set()

    def sign_request(self, charger_id: str, csr_pem: str, certificate_type: str | None = None) -> str:
        """The answer to a charger's SignCertificate ("Accepted" or "Rejected"); an accepted CSR is signed
        and sent back once the answer has gone (or kept for the operator when the console has no CA)."""
        record = self.record(charger_id)
        if record is None:
            return "Rejected"
        try:
            csr = read_csr(csr_pem, record.identity)
        except ValidationFailed as error:
            self.event(charger_id, "CertificateRequest", {"status": "Rejected", "problem": error.problems["csr"], "csr": csr_pem})
            return "Rejected"
        if self.ca is None:
            self.event(charger_id, "CertificateRequest", {"status": "Accepted", "csr": csr_pem, "signedBy": "operator"})
            return "Accepted"
        chain = self.ca.sign(csr)
        self.event(charger_id, "CertificateRequest", {"status": "Accepted", "signedBy": "console CA"})
        payload: dict[str, Any] = {"certificateChain": chain}
        if record.ocpp_version != OcppVersion.V16:
            payload["certificateType"] = certificate_type or "ChargingStationCertificate"
        # Sent as an action of its own; its row is written first, so the answer has left by then.
        task = asyncio.ensure_future(self._send(charger_id, payload))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return "Accepted"

    async def _send(self, charger_id: str, payload: dict[str, Any]) -> None:
        try:
            await self.operate(charger_id, "CertificateSigned", payload, command="certificate_signed")
        except ConsoleError as error:  # recorded as the action's outcome; nothing else to do here
            log.warning("CertificateSigned to %s not sent: %s", charger_id, error)
