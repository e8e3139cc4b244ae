"""Test TLS material: generation, reuse, regeneration, and clients that trust it over a real socket."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
from pathlib import Path

import pytest
import requests
from cryptography import x509
from test_tokens_support import running

from d365conn.sandbox.tls import ensure_test_certificates, server_context


def test_generates_ca_and_loopback_server_certificate(tmp_path: Path) -> None:
    certs = ensure_test_certificates(tmp_path / "tls")
    ca = x509.load_pem_x509_certificate(certs.ca_path.read_bytes())
    cert = x509.load_pem_x509_certificate(certs.cert_path.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert stat.S_IMODE(certs.key_path.stat().st_mode) == 0o600
    # Only the server's key is kept: nothing else can be signed by this CA.
    assert sorted(p.name for p in certs.ca_path.parent.glob("*.pem")) == [
        "sandbox-ca.pem",
        "sandbox-server-key.pem",
        "sandbox-server.pem",
    ]


def test_reuses_valid_files_and_replaces_broken_ones(tmp_path: Path) -> None:
    first = ensure_test_certificates(tmp_path)
    ca_bytes = first.ca_path.read_bytes()
    again = ensure_test_certificates(tmp_path)
    assert again == first and again.ca_path.read_bytes() == ca_bytes
    first.key_path.write_text("not a key")
    repaired = ensure_test_certificates(tmp_path)
    assert repaired.ca_path.read_bytes() != ca_bytes
    server_context(repaired)  # loads: key and certificate match again


def test_requests_trusts_the_ca_and_only_the_ca(tmp_path: Path) -> None:
    certs = ensure_test_certificates(tmp_path)
    with running(certs) as harness:
        url = f"{harness.base_url}/.well-known/openid-configuration"
        assert requests.get(url, verify=str(certs.ca_path), timeout=5).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(url, verify=True, timeout=5)
        localhost = url.replace("127.0.0.1", "localhost")
        assert requests.get(localhost, verify=str(certs.ca_path), timeout=5).status_code == 200


def test_strict_x509_verification_accepts_the_chain(tmp_path: Path) -> None:
    certs = ensure_test_certificates(tmp_path)
    context = ssl.create_default_context(cafile=str(certs.ca_path))
    context.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    with running(certs) as harness:
        port = int(harness.base_url.rsplit(":", 1)[1])
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
