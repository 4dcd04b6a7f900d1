"""A simulated charger's certificates (OCPP security profile 3): its key and client certificate, which it
presents on its TLS connection, the CSR it sends when asked, and the root certificates installed on it."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from console.core.certificates import certificate_hash_data, common_name, make_csr


class SimCertificates:
    def __init__(self, identity: str) -> None:
        self.identity = identity
        # The client certificate and its key (PEM), once provisioned or signed.
        self.certificate: str | None = None
        self.key: str | None = None
        # The key of the CSR sent last, waiting for its CertificateSigned.
        self._pending: ec.EllipticCurvePrivateKey | None = None
        # Installed roots: serial (hex) -> (certificate type, PEM).
        self.installed: dict[str, tuple[str, str]] = {}
        self._files: tempfile.TemporaryDirectory[str] | None = None

    def provision(self, certificate: str, key: str) -> None:
        """What the depot's lab CA issued it (a charger leaves the factory with one)."""
        self.certificate, self.key = certificate, key

    def csr(self) -> str:
        """A new key, and a CSR for it to send in SignCertificate."""
        self._pending = ec.generate_private_key(ec.SECP256R1())
        return make_csr(self.identity, self._pending, organization="ocpp-console simulator")

    def signed(self, chain: str) -> str:
        """CertificateSigned: taken ("Accepted") when it is for the key of the last CSR and this identity."""
        try:
            certificate = x509.load_pem_x509_certificate(chain.encode())
        except ValueError:
            return "Rejected"
        if self._pending is None or certificate.public_key() != self._pending.public_key():
            return "Rejected"
        if common_name(certificate.subject) != self.identity:
            return "Rejected"
        self.certificate = chain
        self.key = self._pending.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._pending = None
        return "Accepted"

    def install(self, kind: str, pem: str) -> str:
        try:
            certificate = x509.load_pem_x509_certificate(pem.encode())
        except ValueError:
            return "Rejected"
        self.installed[format(certificate.serial_number, "x")] = (kind, pem)
        return "Accepted"

    def installed_ids(self, kinds: list[str] | None) -> list[tuple[str, dict[str, str]]]:
        """(type, CertificateHashData) of each installed root of `kinds` (all when None)."""
        return [
            (kind, certificate_hash_data(pem)) for kind, pem in self.installed.values() if not kinds or kind in kinds
        ]

    def delete(self, hash_data: dict[str, Any]) -> str:
        serial = str(hash_data.get("serialNumber", hash_data.get("serial_number", ""))).lower()
        if serial not in self.installed:
            return "NotFound"
        del self.installed[serial]
        return "Accepted"

    def tls(self, base: ssl.SSLContext | None) -> ssl.SSLContext | None:
        """The TLS context of its next connection: `base` (whom it trusts) with its client certificate, if it has one."""
        if base is None or self.certificate is None or self.key is None:
            return base
        context = ssl.create_default_context()
        context.check_hostname = base.check_hostname
        context.verify_mode = base.verify_mode
        for ca in base.get_ca_certs(binary_form=True):
            context.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(ca))
        if self._files is None:
            self._files = tempfile.TemporaryDirectory(prefix="ocpp-console-sim-")
        cert, key = Path(self._files.name) / "client.pem", Path(self._files.name) / "client.key"
        cert.write_text(self.certificate)
        key.touch(mode=0o600)
        key.write_text(self.key)
        context.load_cert_chain(cert, key)
        return context
