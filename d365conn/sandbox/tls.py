"""Test TLS material for the sandbox: a private CA and a server certificate for the loopback host.

Owns: generating (once, then reusing) a test certificate authority and a certificate for
``localhost``, ``127.0.0.1`` and ``::1`` signed by it, so the sandbox can serve https and clients
can verify it: ``requests`` with ``verify=ca_path``, MSAL with an ``http_client`` session whose
``verify`` is the CA and ``trust_env`` is False (``REQUESTS_CA_BUNDLE`` would override it).
The CA's private key is thrown away once the server certificate is signed: the CA can sign
nothing else. Files are written atomically, so parallel test processes may race safely.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_CA_FILE = "sandbox-ca.pem"
_CERT_FILE = "sandbox-server.pem"
_KEY_FILE = "sandbox-server-key.pem"
_VALIDITY = _dt.timedelta(days=825)
#: Regenerate when less than this is left, so a reused certificate never expires mid-run.
_MARGIN = _dt.timedelta(days=7)
_HOSTS_DNS = ("localhost",)
_HOSTS_IP = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TestCertificates:
    """Paths of the PEM files: the CA to trust, and the server's certificate and key."""

    __test__ = False  # not a pytest test class, despite the name

    ca_path: Path
    cert_path: Path
    key_path: Path


def ensure_test_certificates(directory: Path) -> TestCertificates:
    """The test CA and server certificate in ``directory``, created unless valid ones exist."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    certs = TestCertificates(directory / _CA_FILE, directory / _CERT_FILE, directory / _KEY_FILE)
    if _usable(certs):
        return certs
    with _exclusive(directory / ".sandbox-tls.lock"):
        # Another process may have generated them while this one waited for the lock.
        if not _usable(certs):
            _generate(certs)
    return certs


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An inter-process lock where the platform has one (POSIX); the three files must match."""
    with open(lock_path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: atomic file writes only
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def server_context(certs: TestCertificates) -> ssl.SSLContext:
    """A server-side SSL context presenting the sandbox certificate (TLS 1.2 or later)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(certs.cert_path), keyfile=str(certs.key_path))
    return context


def _usable(certs: TestCertificates) -> bool:
    try:
        ca = x509.load_pem_x509_certificate(certs.ca_path.read_bytes())
        cert = x509.load_pem_x509_certificate(certs.cert_path.read_bytes())
        key = serialization.load_pem_private_key(certs.key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    deadline = _dt.datetime.now(_dt.timezone.utc) + _MARGIN
    if cert.not_valid_after_utc < deadline or ca.not_valid_after_utc < deadline:
        return False
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    public = key.public_key()
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _generate(certs: TestCertificates) -> None:
    now = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "d365conn sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, "d365conn sandbox test CA"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in _HOSTS_DNS]
    names += [x509.IPAddress(ipaddress.ip_address(h)) for h in _HOSTS_IP]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # The key first, the CA last: a reader that sees the new CA also sees a matching server pair.
    _write_atomically(certs.key_path, key_pem, private=True)
    _write_atomically(certs.cert_path, cert.public_bytes(serialization.Encoding.PEM))
    _write_atomically(certs.ca_path, ca.public_bytes(serialization.Encoding.PEM))


def _write_atomically(path: Path, data: bytes, private: bool = False) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o600 if private else 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
