"""The real control plane's PKI: one CA, the API server's serving certificate, client certificates
and the service-account key pair, written as PEM files.

Owns: what each certificate says. The serving certificate is valid for 127.0.0.1, ``localhost``,
the first service IP of ``10.0.0.0/24`` and the ``kubernetes.default.svc`` names. A client
certificate's common name is the user and its organisations are the groups, as the API server's
x509 authenticator reads them (``CN=system:kube-scheduler`` is the scheduler's bootstrap RBAC
user; ``O=system:masters`` is the admin group). The service-account key is ECDSA P-256 (ES256
tokens). Keys are EC P-256 throughout: fast to generate, accepted by every component. Key files
are mode 0600. It needs ``cryptography`` (the dev extra) and must never start a process.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=7)
SERVICE_IP = "10.0.0.1"  # the first address of --service-cluster-ip-range=10.0.0.0/24
SERVER_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path

    def pem(self) -> tuple[bytes, bytes]:
        return self.cert.read_bytes(), self.key.read_bytes()


@dataclass(frozen=True)
class Pki:
    """Every file the components read, below one directory."""

    ca: CertPair
    serving: CertPair
    service_account_public: Path
    service_account_private: Path
    _issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
    directory: Path

    def client(self, name: str, user: str, groups: tuple[str, ...] = ()) -> CertPair:
        """A client certificate for ``user`` in ``groups``, written as ``<name>.crt/.key``."""
        ca_cert, ca_key = self._issuer
        key = _new_key()
        subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
        subject.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
        cert = (
            _builder(x509.Name(subject), ca_cert.subject, key)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_leaf_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return _write_pair(self.directory, name, cert, key)

    def server(self, name: str, ips: tuple[str, ...] = ("127.0.0.1",), dns: tuple[str, ...] = ()) -> CertPair:
        """A serving certificate for ``ips`` and ``dns`` (e.g. a webhook the API server calls on
        loopback, trusted through ``caBundle`` = the CA), written as ``<name>.crt/.key``."""
        ca_cert, ca_key = self._issuer
        key = _new_key()
        names: list[x509.GeneralName] = [x509.DNSName(host) for host in dns]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        cert = (
            _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), ca_cert.subject, key)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_leaf_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return _write_pair(self.directory, name, cert, key)


def create_pki(directory: Path) -> Pki:
    """Generate the CA, serving certificate and service-account keys into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _new_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hdra-realcluster-ca")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca = _write_pair(directory, "ca", ca_cert, ca_key)

    serving_key = _new_key()
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_NAMES]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", SERVICE_IP)]
    serving_cert = (
        _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]), ca_name, serving_key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    serving = _write_pair(directory, "apiserver", serving_cert, serving_key)

    sa_key = _new_key()
    sa_private = directory / "service-account.key"
    sa_public = directory / "service-account.pub"
    _write_private(sa_private, sa_key)
    sa_public.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return Pki(
        ca=ca,
        serving=serving,
        service_account_public=sa_public,
        service_account_private=sa_private,
        _issuer=(ca_cert, ca_key),
        directory=directory,
    )


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate small clock steps
        .not_valid_after(now + VALIDITY)
    )


def _leaf_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _write_pair(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> CertPair:
    pair = CertPair(directory / f"{name}.crt", directory / f"{name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pair.key, key)
    return pair


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
