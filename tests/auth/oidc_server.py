"""Starts and stops the npm ``oidc-provider`` interop server (tests/interop/oidc) for the MSAL tests."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from d365conn.sandbox.tls import TestCertificates, ensure_test_certificates

HERE = Path(__file__).resolve().parent.parent / "interop" / "oidc"
CLIENT_ID = "d365conn-interop"
CLIENT_SECRET = "interop-secret~0123456789=abcdef+XYZ"
RESOURCE = "https://api.d365conn.test"
USER = "interop.user@oidc.test"


@dataclass(frozen=True)
class OidcServer:
    issuer: str
    ca_path: Path
    token_ttl: int
    app_certificate: Path  # PEM key + certificate of the "-cert" client

    def connection_string(self, **extra: str) -> str:
        pairs = {
            "ServiceURL": "https://org.crm.dynamics.com/api/data/v9.2/",
            "OAuthClient": "MSAL",
            "Authority": self.issuer,
            "ClientID": CLIENT_ID,
            "ClientSecret": CLIENT_SECRET,
            "CACertificate": str(self.ca_path),
            "Scope": f"{RESOURCE}/.default",
        }
        pairs.update(extra)
        return ";".join(f"{k}={v}" for k, v in pairs.items() if v != "")


def make_app_certificate(path: Path) -> dict[str, str]:
    """Write a self-signed app certificate (key + certificate PEM) and return its public JWK."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "d365conn interop app")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    numbers = key.public_key().public_numbers()

    def b64(value: int) -> str:
        return (
            base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))
            .rstrip(b"=")
            .decode()
        )

    return {"kty": "RSA", "n": b64(numbers.n), "e": b64(numbers.e)}


def _npm_ci() -> None:
    if (HERE / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("the oidc-provider interop tests need Node.js 20+ and npm on PATH")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600, stdout=subprocess.DEVNULL
    )


@contextmanager
def oidc_server(workdir: Path, token_ttl: int = 3600) -> Iterator[OidcServer]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("the oidc-provider interop tests need Node.js 20+ on PATH")
    _npm_ci()
    certs: TestCertificates = ensure_test_certificates(workdir / "tls")
    config = workdir / "oidc-config.json"
    app_pem = workdir / "app-cert.pem"
    config.write_text(
        json.dumps(
            {
                "key": str(certs.key_path),
                "cert": str(certs.cert_path),
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "resource": RESOURCE,
                "user": USER,
                "token_ttl": token_ttl,
                "cert_jwks": {"keys": [make_app_certificate(app_pem)]},
            }
        )
    )
    process = subprocess.Popen(
        [node, "server.mjs", str(config)], cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stderr: list[str] = []
    threading.Thread(target=lambda: stderr.extend(process.stderr or []), daemon=True).start()
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line:
            process.wait(10)
            raise RuntimeError(f"oidc-provider did not start: {''.join(stderr)[-2000:]}")
        yield OidcServer(json.loads(line)["issuer"], certs.ca_path, token_ttl, app_pem)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
